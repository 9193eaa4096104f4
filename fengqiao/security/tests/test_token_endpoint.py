"""POST /api/v1/auth/token/ issues expiring `ApiToken`s: password, lockout, and the second factor for those who
must use one or have set one up. Refusals issue nothing."""

import datetime

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from fengqiao.audit.models import AuditEvent
from fengqiao.security.models import ApiToken, LoginFailure
from fengqiao.security.tests.builders import PASSWORD, code_for, enrolled, user_with_password

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def api_in_english(settings):
    settings.LANGUAGE_CODE = "en"  # the API speaks the default language; messages are asserted in English


def post(**body):
    return APIClient().post(URL, body, format="json")


def test_a_password_is_enough_for_a_user_without_a_second_factor(clock):
    user = user_with_password("li")
    response = post(username="li", password=PASSWORD, name="phone")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"key", "expires_at", "name"} and body["name"] == "phone"
    assert body["key"].startswith("fq_")
    token = ApiToken.objects.get(user=user)
    assert token.expires_at == clock.now + datetime.timedelta(days=90)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"security.token_issued", "security.login"} <= actions
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['key']}")
    assert client.get("/api/v1/areas/").status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "li"}, {"username": "li", "password": "wrong"}, {"username": "nobody", "password": PASSWORD}],
)
def test_missing_or_wrong_credentials_issue_nothing(clock, body):
    user_with_password("li")
    response = post(**body)
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_a_deactivated_user_gets_no_token(clock):
    user_with_password("li", is_active=False)
    assert post(username="li", password=PASSWORD).status_code == 400
    assert not ApiToken.objects.exists()


def test_a_user_who_must_use_a_second_factor_but_has_none_must_enrol_first(clock):
    user_with_password("admin", is_staff=True)
    response = post(username="admin", password=PASSWORD)
    assert response.status_code == 403
    assert "Enrol a second factor first" in response.json()["detail"]
    assert not ApiToken.objects.exists()
    assert post(username="admin", password="wrong").status_code == 400  # the password is checked first


@override_settings(DEMO_NO_2FA=True)
def test_the_demo_switch_lets_staff_without_a_second_factor_in(clock):
    user_with_password("admin", is_staff=True)
    assert post(username="admin", password=PASSWORD).status_code == 201


def test_an_enrolled_user_needs_a_valid_code(clock):
    user = user_with_password("admin", is_staff=True)
    recovery = enrolled(user)
    clock.advance(seconds=60)
    missing = post(username="admin", password=PASSWORD)
    assert missing.status_code == 400 and "second-factor code is required" in missing.json()["otp"][0]
    wrong = post(username="admin", password=PASSWORD, otp="000000" if code_for(user) != "000000" else "111111")
    assert wrong.status_code == 400 and "not right" in wrong.json()["otp"][0]
    assert LoginFailure.objects.filter(username="admin", reason="second_factor").count() == 1
    assert not ApiToken.objects.exists()
    code = code_for(user)
    assert post(username="admin", password=PASSWORD, otp=code).status_code == 201
    assert post(username="admin", password=PASSWORD, otp=code).status_code == 400  # never twice
    assert post(username="admin", password=PASSWORD, otp=recovery[0]).status_code == 201
    assert post(username="admin", password=PASSWORD, otp=recovery[0]).status_code == 400
    assert ApiToken.objects.filter(user=user).count() == 2


def test_anyone_who_enrolled_is_asked_for_a_code(clock):
    user = user_with_password("li")
    enrolled(user)
    clock.advance(seconds=60)
    assert post(username="li", password=PASSWORD).status_code == 400
    assert post(username="li", password=PASSWORD, otp=code_for(user)).status_code == 201


@override_settings(LOCKOUT_THRESHOLD=3, LOCKOUT_ADDRESS_THRESHOLD=50)
def test_wrong_codes_lock_the_user_name(clock):
    user = user_with_password("admin", is_staff=True)
    enrolled(user)
    clock.advance(seconds=60)
    bad = "000000" if code_for(user) != "000000" else "111111"
    for _i in range(3):
        response = post(username="admin", password=PASSWORD, otp=bad)
        assert response.status_code == 400
    assert "locked" in response.json()["otp"][0]
    locked = post(username="admin", password=PASSWORD, otp=code_for(user))
    assert locked.status_code == 400 and "locked" in str(locked.json())
    assert not ApiToken.objects.exists()
