"""Explicit builders for security tests (and for other apps' test worlds that need one row of each model)."""

import pyotp
from django.test import RequestFactory

from fengqiao.departments.tests.builders import make_user
from fengqiao.security import clock
from fengqiao.security.models import PasswordHistory, TotpDevice
from fengqiao.security.services import lockout, otp, tokens

PASSWORD = "Fengqiao-Test-2026"


def user_with_password(username, *, password=PASSWORD, **flags):
    user = make_user(username, **flags)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def code_for(user, *, offset=0):
    """The TOTP code of `user`'s device at the security clock's now (offset in 30-second steps)."""
    device = TotpDevice.objects.get(user=user)
    totp = pyotp.TOTP(device.secret)
    return totp.generate_otp(totp.timecode(clock.now()) + offset)


def enrolled(user):
    """`user` with a confirmed TOTP device; returns the recovery codes."""
    otp.start_enrolment(user=user)
    return otp.confirm_enrolment(user=user, code=code_for(user))


def request_from(address="10.0.0.1"):
    return RequestFactory().post("/admin/login/", REMOTE_ADDR=address)


def one_of_each(user):
    """A row of every security model: a token, a TOTP device with recovery codes, failed sign-ins, a lockout, a
    former password."""
    tokens.issue(actor="test", user=user, name="world")
    PasswordHistory.objects.create(user=user, password_hash=user.password, set_at=clock.now())
    enrolled(user)
    for _i in range(5):
        lockout.record_failure(username="intruder", address="10.9.9.9")
