"""Who must use a second factor (等保 level 3: two factors, one of them cryptographic, for administrators), and
whose password is too old (periodic change: `password_change_required`).

`second_factor_required(user)` reads ``settings.TOTP_ROLES``: the value ``staff`` stands for Django's
``is_staff``; every other value is a role of `fengqiao.accounts` held through a current `AreaAssignment`.
Superusers always need a second factor. ``settings.DEMO_NO_2FA`` switches the requirement off (demo only).
"""

import datetime

from django.conf import settings
from django.db.models import DateTimeField, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.security import clock

STAFF = "staff"


def demo_without_second_factor():
    return bool(getattr(settings, "DEMO_NO_2FA", False))


def configured_roles():
    return set(getattr(settings, "TOTP_ROLES", [STAFF]))


def assignment_model():
    """`fengqiao.accounts.models.AreaAssignment` when it exists and has a `user` and a `role`, else None."""
    try:
        from fengqiao.accounts import models as accounts
    except ImportError:  # pragma: no cover - accounts always exists; defensive while roles are being built
        return None
    model = getattr(accounts, "AreaAssignment", None)
    if model is None:
        return None
    names = {f.name for f in model._meta.get_fields()}
    return model if {"user", "role"} <= names else None


def current_roles(user):
    """The roles `user` holds today (through current area assignments); empty if accounts has no roles yet."""
    model = assignment_model()
    if model is None or user is None or not user.pk:
        return set()
    manager = model._default_manager
    rows = manager.filter(user=user)
    fields = {f.name: f for f in model._meta.get_fields()}
    # Periods: inclusive dates (valid_from / valid_to), or date-times; checked only if the fields exist.
    if "valid_from" in fields:
        rows = rows.filter(valid_from__lte=_on(fields["valid_from"]))
    if "valid_to" in fields:
        rows = rows.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=_on(fields["valid_to"])))
    return set(rows.values_list("role", flat=True).distinct())


def _on(field):
    return clock.now() if isinstance(field, DateTimeField) else clock.today()


def second_factor_required(user):
    """True if `user` must sign in with a second factor."""
    if user is None or not user.is_authenticated or not user.is_active or demo_without_second_factor():
        return False
    if user.is_superuser:
        return True
    roles = configured_roles()
    if STAFF in roles and user.is_staff:
        return True
    return bool((roles - {STAFF}) & current_roles(user))


def has_device(user):
    from fengqiao.security.models import TotpDevice

    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def second_factor_needed(user):
    """At sign-in: a second factor is asked of everyone who must have one and of everyone who enrolled one."""
    return second_factor_required(user) or has_device(user)


def password_max_age():
    """settings.PASSWORD_MAX_AGE_DAYS as a timedelta, or None when periodic change is switched off (0)."""
    days = getattr(settings, "PASSWORD_MAX_AGE_DAYS", 0)
    return datetime.timedelta(days=days) if days > 0 else None


def password_expires_at(user):
    """When `user`'s password stops being accepted for staff work, or None if it does not expire for them.

    Periodic change (等保 level 3) applies to staff (``is_staff``: those who can reach the admin's password change
    page) with a usable password; the clock starts at `password_changed_at`, set whenever a password is set."""
    max_age = password_max_age()
    if max_age is None or user is None or not user.is_authenticated or not user.is_staff:
        return None
    changed = getattr(user, "password_changed_at", None)
    if changed is None or not user.has_usable_password():
        return None
    return changed + max_age


def password_change_required(user):
    """True if `user` must change their password before doing anything else (admin pages, API)."""
    expires = password_expires_at(user)
    return expires is not None and expires <= clock.now()


def password_expired_message(user):
    """The sentence that tells `user` why they are stopped, with the day their password expired."""
    return _(
        "Your password expired on %(date)s (passwords of staff last %(days)d days): change it at the admin site "
        "(%(url)s) before doing anything else."
    ) % {
        "date": f"{timezone.localtime(password_expires_at(user)):%Y-%m-%d}",
        "days": settings.PASSWORD_MAX_AGE_DAYS,
        "url": reverse("admin:password_change"),
    }
