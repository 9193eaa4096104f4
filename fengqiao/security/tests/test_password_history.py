"""No reuse of recent passwords: a new password may not be the current one nor one of the last PASSWORD_HISTORY;
the history keeps only that many hashes; 0 switches the rule off; the admin's change form shows the refusal."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from fengqiao.security.models import PasswordHistory
from fengqiao.security.tests.builders import user_with_password
from fengqiao.security.validators import PasswordHistoryValidator

pytestmark = pytest.mark.django_db

PASSWORDS = [f"Fengqiao-Round-{n}-x" for n in range(1, 6)]


@pytest.fixture(autouse=True)
def fast_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.PASSWORD_HISTORY = 3
    settings.TOTP_ROLES = []


def set_password(user, password):
    validate_password(password, user)
    user.set_password(password)
    user.save()


def refused(user, password):
    with pytest.raises(ValidationError) as exc:
        validate_password(password, user)
    assert exc.value.error_list[0].code == "password_reused"
    assert "last 3 passwords" in exc.value.messages[0]
    return True


def refused_with(user, password, count):
    with pytest.raises(ValidationError) as exc:
        PasswordHistoryValidator().validate(password, user)
    return f"last {count} passwords" in exc.value.messages[0]


def test_the_current_and_the_last_passwords_are_refused_and_older_ones_allowed_again():
    user = user_with_password("li", password=PASSWORDS[0])
    for password in PASSWORDS[1:4]:
        set_password(user, password)
    assert PasswordHistory.objects.filter(user=user).count() == 3, "only the last 3 hashes are kept"
    assert refused(user, PASSWORDS[3]), "the current password"
    assert refused(user, PASSWORDS[2]) and refused(user, PASSWORDS[1])
    set_password(user, PASSWORDS[0])  # four passwords ago: allowed again
    assert get_user_model().objects.get(pk=user.pk).check_password(PASSWORDS[0])


def test_zero_switches_the_rule_off_and_the_current_password_counts_without_a_history(settings):
    settings.PASSWORD_HISTORY = 0
    user = user_with_password("li", password=PASSWORDS[0])
    assert not PasswordHistory.objects.exists(), "0: no history is kept"
    validate_password(PASSWORDS[0], user)  # 0 switches the rule off
    settings.PASSWORD_HISTORY = 1
    assert refused_with(user, PASSWORDS[0], count=1)


def test_a_new_user_has_nothing_to_compare_with():
    validate_password(PASSWORDS[0], get_user_model()(username="new"))
    validate_password(PASSWORDS[0], None)


def test_the_history_goes_with_the_user():
    user = user_with_password("li", password=PASSWORDS[0])
    assert PasswordHistory.objects.filter(user=user).count() == 1
    user.delete()
    assert not PasswordHistory.objects.exists()


def test_the_admin_change_form_refuses_a_recent_password(client):
    user_with_password("li", password=PASSWORDS[0], is_staff=True)
    client.post("/en/admin/login/", {"username": "li", "password": PASSWORDS[0], "next": "/en/admin/"})
    page = client.post(
        "/en/admin/password_change/",
        {"old_password": PASSWORDS[0], "new_password1": PASSWORDS[0], "new_password2": PASSWORDS[0]},
    )
    assert page.status_code == 200 and "You used this password recently" in page.content.decode()
    assert "Your password cannot be one of your last 3 passwords." in page.content.decode()
