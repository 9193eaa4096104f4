"""Per-user API tokens that expire and can be revoked.

A key looks like ``fq_<prefix>_<secret>``; the prefix identifies it in lists and logs, the whole key is shown
once and only its SHA-256 is stored (the key carries 256 random bits, so a fast hash is enough).
"""

import datetime
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from fengqiao.audit import services as audit
from fengqiao.core.context import request_client_address
from fengqiao.security import clock, policy
from fengqiao.security.models import ApiToken
from fengqiao.security.services import lockout, otp

KEY_PREFIX = "fq_"
MAX_DAYS = 366
LAST_USED_RESOLUTION = datetime.timedelta(seconds=60)


class TokenRejected(Exception):
    """The key is unknown, expired, revoked or belongs to a deactivated user; the message says which."""


class EnrolmentRequired(Exception):
    """The password is right, but the user must first finish a step at the admin sign-in: set up a second factor
    (this class), or change an expired password (`PasswordChangeRequired`). No token until they do; the token
    endpoint answers 403 with the message."""


class PasswordChangeRequired(EnrolmentRequired):
    """The user is staff and their password is older than PASSWORD_MAX_AGE_DAYS: change it at the admin site."""


def key_hash(key):
    return hashlib.sha256(key.encode()).hexdigest()


def issue(*, actor, user, name="", days=None):
    """A new token for `user`; returns (token, key). The key is not stored and cannot be shown again."""
    days = settings.API_TOKEN_DAYS if days is None else days
    if user is None or not user.pk:
        raise ValidationError({"user": _("No such user.")})
    if not user.is_active:
        raise ValidationError({"user": _("User %(user)s is deactivated: no token can be issued.") % {"user": user}})
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError({"days": _("A token lasts from 1 to %(max)d days.") % {"max": MAX_DAYS}})
    name = (name or "").strip()
    if len(name) > 100:
        raise ValidationError({"name": _("The name is longer than 100 characters.")})
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    now = clock.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            key_hash=key_hash(key),
            created_at=now,
            expires_at=now + datetime.timedelta(days=days),
        )
        audit.record(
            actor=actor,
            action="security.token_issued",
            obj=token,
            summary=f"API token {prefix} for {user.get_username()}, {days} days",
            data={"user": user.pk, "prefix": prefix, "name": name, "expires_at": token.expires_at.isoformat()},
        )
    return token, key


def issue_for_sign_in(*, request, username, password, code="", name=""):
    """A token for whoever signs in with `username`, `password` and — when they must use a second factor or set
    one up — `code` (TOTP or recovery code); returns (token, key). The lockout applies as at the admin sign-in:
    wrong passwords and codes count as failed sign-ins.

    Refused with ValidationError (keyed "otp" for the code; nothing issued), EnrolmentRequired or
    PasswordChangeRequired (checked right after the password, so no second-factor code is spent on it)."""
    locked = _("Too many failed sign-ins: signing in is locked for now.")
    address = request_client_address(request)
    if lockout.active_lockout(username=username or "", address=address) is not None:
        raise ValidationError(locked)
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise ValidationError(_("Wrong user name or password, or the user is deactivated."))
    if policy.password_change_required(user):
        raise PasswordChangeRequired(policy.password_expired_message(user))
    second_factor = ""
    if policy.second_factor_needed(user):
        if not policy.has_device(user):
            raise EnrolmentRequired(
                _("Enrol a second factor first: sign in to the admin site once to set up an authenticator app.")
            )
        if not (code or "").strip():
            required = _("A second-factor code is required: the code from your authenticator app, or a recovery code.")
            raise ValidationError({"otp": required})
        try:
            second_factor = otp.verify(user=user, code=code, address=address)
        except ValidationError as exc:
            if lockout.active_lockout(username=user.get_username(), address=address) is not None:
                raise ValidationError({"otp": locked}) from None
            raise ValidationError({"otp": exc.messages}) from None
    with transaction.atomic():
        token, key = issue(actor=user, user=user, name=name)
        lockout.record_success(user=user, address=address, second_factor=second_factor)
    return token, key


def revoke(*, actor, token):
    """Revoke `token` now. Refuses one already revoked."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            raise ValidationError(_("Token %(prefix)s is already revoked.") % {"prefix": token.prefix})
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            actor=actor,
            action="security.token_revoked",
            obj=token,
            summary=f"API token {token.prefix} of {token.user.get_username()} revoked",
            data={"user": token.user_id, "prefix": token.prefix},
        )
    return token


def revoke_all(*, actor, user):
    """Revoke every live token of `user`; returns how many."""
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    return len([revoke(actor=actor, token=token) for token in live])


def authenticate_key(key):
    """The active token for `key`, or TokenRejected with a message that says why (unknown, revoked, expired,
    deactivated user, staff user whose password expired). Writes only last_used_at."""
    token = ApiToken.objects.select_related("user").filter(key_hash=key_hash(key)).first()
    if token is None:
        raise TokenRejected(_("Invalid token."))
    now = clock.now()
    if token.revoked_at is not None:
        raise TokenRejected(_("This token was revoked."))
    if token.expires_at <= now:
        raise TokenRejected(_("This token expired on %(date)s.") % {"date": f"{token.expires_at:%Y-%m-%d %H:%M} UTC"})
    if not token.user.is_active:
        raise TokenRejected(_("The user of this token is deactivated."))
    if policy.password_change_required(token.user):
        raise TokenRejected(policy.password_expired_message(token.user))
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
