"""TOTP: set-up, right / wrong / reused codes, single-use recovery codes, lockout by guessing codes."""

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from fengqiao.audit.models import AuditEvent
from fengqiao.departments.tests.builders import make_user
from fengqiao.security.models import Lockout, RecoveryCode, TotpDevice
from fengqiao.security.services import otp
from fengqiao.security.tests.builders import code_for, enrolled

pytestmark = pytest.mark.django_db


def actions():
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_set_up_needs_a_right_first_code_and_gives_ten_recovery_codes(clock):
    user = make_user("li", is_staff=True)
    device = otp.start_enrolment(user=user)
    assert otp.provisioning_uri(device).startswith("otpauth://totp/fengqiao:li?secret=")
    with pytest.raises(ValidationError):
        otp.confirm_enrolment(user=user, code="000000" if code_for(user) != "000000" else "111111")
    assert TotpDevice.objects.get().confirmed_at is None and not AuditEvent.objects.exists()
    codes = otp.confirm_enrolment(user=user, code=code_for(user))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert RecoveryCode.objects.filter(user=user).count() == 10
    assert not RecoveryCode.objects.filter(code_hash__in=codes).exists(), "only hashes are stored"
    assert actions() == ["security.totp_enrolled"]
    with pytest.raises(ValidationError):
        otp.start_enrolment(user=user)


def test_the_secret_is_encrypted_at_rest(clock):
    from django.db import connection

    user = make_user("li")
    device = otp.start_enrolment(user=user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM security_totpdevice WHERE id = %s", [device.pk])
        stored = cursor.fetchone()[0]
    assert device.secret not in stored and stored.startswith("enc1:")


def test_the_right_code_is_accepted_once_and_a_reused_code_is_refused(clock):
    user = make_user("li", is_staff=True)
    enrolled(user)
    clock.advance(seconds=30)
    code = code_for(user)
    assert otp.verify(user=user, code=code) == "totp"
    with pytest.raises(ValidationError):
        otp.verify(user=user, code=code)
    clock.advance(seconds=30)
    with pytest.raises(ValidationError):
        otp.verify(user=user, code=code_for(user, offset=-1)), "an older step after a newer one is refused"
    assert otp.verify(user=user, code=code_for(user)) == "totp"
    assert actions().count("security.totp_verified") == 2
    assert actions().count("security.totp_failed") == 2


def test_a_code_from_the_next_or_previous_step_is_accepted_for_clock_drift(clock):
    user = make_user("li")
    enrolled(user)
    clock.advance(seconds=90)
    assert otp.verify(user=user, code=code_for(user, offset=1)) == "totp"
    clock.advance(seconds=120)
    assert otp.verify(user=user, code=code_for(user, offset=-1)) == "totp"
    with pytest.raises(ValidationError):
        otp.verify(user=user, code=code_for(user, offset=3))


def test_a_wrong_code_is_refused_counted_and_audited(clock):
    user = make_user("li")
    enrolled(user)
    wrong = "123456" if code_for(user) != "123456" else "654321"
    with pytest.raises(ValidationError):
        otp.verify(user=user, code=wrong, address="10.0.0.1")
    assert actions()[-2:] == ["security.login_failed", "security.totp_failed"]


def test_a_recovery_code_works_exactly_once(clock):
    user = make_user("li")
    codes = enrolled(user)
    assert otp.verify(user=user, code=codes[0].upper().replace("-", " ")) == "recovery code"
    with pytest.raises(ValidationError):
        otp.verify(user=user, code=codes[0])
    event = AuditEvent.objects.get(action="security.recovery_code_used")
    assert event.data == {"left": 9}
    assert otp.verify(user=user, code=codes[1]) == "recovery code"


def test_another_users_recovery_code_is_refused(clock):
    li, wang = make_user("li"), make_user("wang")
    enrolled(li)
    codes = enrolled(wang)
    with pytest.raises(ValidationError):
        otp.verify(user=li, code=codes[0])


@override_settings(LOCKOUT_THRESHOLD=3)
def test_guessing_codes_locks_the_user_name(clock):
    user = make_user("li")
    enrolled(user)
    right = code_for(user)
    for guess in [g for g in ("111111", "222222", "333333", "444444") if g != right][:3]:
        with pytest.raises(ValidationError):
            otp.verify(user=user, code=guess)
    assert Lockout.objects.filter(scope="username", value="li").exists()


def test_reset_removes_the_device_and_codes_and_refuses_when_there_is_none(clock):
    user = make_user("li")
    enrolled(user)
    otp.reset(actor="test", user=user)
    assert not TotpDevice.objects.exists() and not RecoveryCode.objects.exists()
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError):
        otp.reset(actor="test", user=user)
    assert AuditEvent.objects.count() == before


def test_regenerated_recovery_codes_replace_the_old_ones(clock):
    user = make_user("li")
    old = enrolled(user)
    new = otp.regenerate_recovery_codes(actor=user, user=user)
    with pytest.raises(ValidationError):
        otp.verify(user=user, code=old[0])
    assert otp.verify(user=user, code=new[0]) == "recovery code"
