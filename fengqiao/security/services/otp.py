"""TOTP second factor (RFC 6238 via pyotp) and single-use recovery codes.

A code is accepted for the current 30-second step and one step either side (clock drift), and never twice:
the device remembers the last accepted step. Wrong codes count as failed sign-ins, so guessing them ends in
a lockout like guessing passwords.
"""

import hmac
import secrets

import pyotp
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from fengqiao.audit import services as audit
from fengqiao.core.crypto import lookup_hash
from fengqiao.security import clock
from fengqiao.security.models import FailureReason, RecoveryCode, TotpDevice
from fengqiao.security.services import lockout

ISSUER = "fengqiao"
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def _totp(device):
    return pyotp.TOTP(device.secret)


def provisioning_uri(device):
    """The otpauth:// URI an authenticator app reads (as a QR code or typed in)."""
    return _totp(device).provisioning_uri(name=device.user.get_username(), issuer_name=ISSUER)


def start_enrolment(*, user):
    """The user's unconfirmed device (a fresh secret unless one is waiting). A confirmed device is refused."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is not None and device.confirmed_at is not None:
            raise ValidationError(_("A second factor is already set up for this user."))
        if device is None:
            device = TotpDevice.objects.create(user=user, secret=pyotp.random_base32(), created_at=clock.now())
    return device


def _matching_step(device, code):
    """The time step whose code equals `code` (current step ±1), or None."""
    code = "".join(str(code).split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = _totp(device)
    now = clock.now()
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def confirm_enrolment(*, user, code):
    """Confirm the waiting device with its first code; returns fresh recovery codes (shown once)."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=True).first()
        if device is None:
            raise ValidationError(_("Start the set-up of a second factor first."))
        step = _matching_step(device, code)
        if step is None:
            raise ValidationError(_("The code is not right. Check the time on your phone and try again."))
        device.confirmed_at = clock.now()
        device.last_used_step = step
        device.save(update_fields=["confirmed_at", "last_used_step"])
        audit.record(actor=user, action="security.totp_enrolled", obj=device, summary="second factor set up")
        return _replace_recovery_codes(user)


def _normalise(code):
    return "".join(ch for ch in str(code).lower() if ch.isalnum())


def _code_hash(code):
    return lookup_hash("recovery:" + _normalise(code))


def _replace_recovery_codes(user):
    RecoveryCode.objects.filter(user=user).delete()
    now = clock.now()
    codes = []
    for _i in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _j in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=_code_hash(c), created_at=now) for c in codes])
    return codes


def regenerate_recovery_codes(*, actor, user):
    """New recovery codes for `user` (the old ones stop working); returns them (shown once)."""
    with transaction.atomic():
        codes = _replace_recovery_codes(user)
        audit.record(actor=actor, action="security.recovery_codes_generated", obj=user, summary="new recovery codes")
    return codes


def verify(*, user, code, address=""):
    """Check a TOTP code or a recovery code at sign-in. Returns "totp" or "recovery code".

    A wrong or reused code counts as a failed sign-in (and may lock the user name) and raises ValidationError."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
        kind = _accept(user, device, code)
    if kind is not None:
        return kind
    lockout.record_failure(username=user.get_username(), address=address, reason=FailureReason.SECOND_FACTOR, user=user)
    audit.record(actor=user, action="security.totp_failed", obj=device or user, summary="wrong second-factor code")
    raise ValidationError(_("The code is not right, or it has been used already."))


def _accept(user, device, code):
    step = _matching_step(device, code) if device is not None else None
    if step is not None and (device.last_used_step is None or step > device.last_used_step):
        device.last_used_step = step
        device.save(update_fields=["last_used_step"])
        audit.record(actor=user, action="security.totp_verified", obj=device, summary="second factor accepted")
        return "totp"
    if step is not None:
        return None  # a reused code
    recovery = (
        RecoveryCode.objects.select_for_update()
        .filter(user=user, code_hash=_code_hash(code), used_at__isnull=True)
        .first()
    )
    if recovery is None:
        return None
    recovery.used_at = clock.now()
    recovery.save(update_fields=["used_at"])
    left = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
    audit.record(
        actor=user,
        action="security.recovery_code_used",
        obj=recovery,
        summary=f"recovery code used; {left} left",
        data={"left": left},
    )
    return "recovery code"


def reset(*, actor, user):
    """Remove the user's device and recovery codes: they set up a new one at their next sign-in."""
    with transaction.atomic():
        deleted, _detail = TotpDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        if not deleted:
            raise ValidationError(_("This user has no second factor to reset."))
        audit.record(actor=actor, action="security.totp_reset", obj=user, summary="second factor removed")
