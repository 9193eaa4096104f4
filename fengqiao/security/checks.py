"""System checks: every value of TOTP_ROLES is `staff` or a role fengqiao.accounts knows (typos fail open); the
password-age settings are not negative."""

from django.conf import settings
from django.core import checks

from fengqiao.security.policy import STAFF, assignment_model


@checks.register(checks.Tags.security)
def check_totp_roles(app_configs, **kwargs):
    model = assignment_model()
    if model is None:
        return []
    known = {value for value, _label in (model._meta.get_field("role").choices or [])}
    if not known:
        return []
    unknown = sorted(set(getattr(settings, "TOTP_ROLES", [])) - known - {STAFF})
    if not unknown:
        return []
    return [
        checks.Warning(
            f"FENGQIAO_TOTP_ROLES names roles that do not exist: {', '.join(unknown)}",
            hint=f"use `staff` or any of: {', '.join(sorted(known))}",
            id="security.W001",
        )
    ]


@checks.register(checks.Tags.security)
def check_password_settings(app_configs, **kwargs):
    """PASSWORD_MAX_AGE_DAYS and PASSWORD_HISTORY are whole numbers, not negative (0 switches either off)."""
    errors = []
    for name in ("PASSWORD_MAX_AGE_DAYS", "PASSWORD_HISTORY"):
        value = getattr(settings, name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append(
                checks.Error(
                    f"FENGQIAO_{name} must be a whole number of 0 or more; got {value!r}",
                    hint="0 switches the rule off",
                    id="security.E001" if name == "PASSWORD_MAX_AGE_DAYS" else "security.E002",
                )
            )
    return errors
