"""System check: every value of TOTP_ROLES is `staff` or a role fengqiao.accounts knows (typos fail open)."""

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
