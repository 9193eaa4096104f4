"""Periodic password change (等保 level 3): staff whose password is older than PASSWORD_MAX_AGE_DAYS are sent from
the admin sign-in to the password change page and can do nothing else; the API refuses them (no new token, no
old token, no session call) with a clear message; changing the password (audited) lets them in again."""

import datetime

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from fengqiao.audit.models import AuditEvent
from fengqiao.departments.tests.builders import make_user
from fengqiao.security import checks, policy
from fengqiao.security.models import ApiToken
from fengqiao.security.services import tokens
from fengqiao.security.tests.builders import PASSWORD, code_for, enrolled, user_with_password

pytestmark = pytest.mark.django_db

NEW = "Fengqiao-Changed-2027"
LOGIN = "/en/admin/login/"
CHANGE = "/en/admin/password_change/"


class Now:
    """`timezone.now` frozen (the security, audit and session clocks all read it); `advance` travels."""

    def __init__(self):
        self.now = timezone.now().replace(microsecond=0)

    def advance(self, **delta):
        self.now += datetime.timedelta(**delta)


@pytest.fixture
def now(monkeypatch):
    frozen = Now()
    monkeypatch.setattr(timezone, "now", lambda: frozen.now)
    return frozen


@pytest.fixture(autouse=True)
def fast_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.PASSWORD_MAX_AGE_DAYS = 90
    settings.TOTP_ROLES = []  # the second factor has its own tests; here the password alone signs staff in


@pytest.fixture
def api_in_english(settings):
    settings.LANGUAGE_CODE = "en"  # the API speaks the default language; messages are asserted in English


def reload(user):
    return get_user_model().objects.get(pk=user.pk)


def sign_in(client, username="li", password=PASSWORD, next_url="/en/admin/"):
    return client.post(LOGIN, {"username": username, "password": password, "next": next_url})


def change(client, old=PASSWORD, new=NEW):
    return client.post(CHANGE, {"old_password": old, "new_password1": new, "new_password2": new})


def new_password(user, password=NEW):
    user = reload(user)
    user.set_password(password)
    user.save()
    return user


# --- when a password was set, and when it expires ------------------------------------------------------------


def test_setting_a_password_records_when_and_other_saves_do_not(now):
    user = user_with_password("li")  # set_password, then save(update_fields=["password"])
    assert reload(user).password_changed_at == now.now
    now.advance(days=10)
    user = reload(user)
    user.first_name = "Li"
    user.save()
    user.save(update_fields=["first_name"])
    assert reload(user).password_changed_at == now.now - datetime.timedelta(days=10)
    user.set_password(NEW)
    user.save(update_fields=["password"])
    assert reload(user).password_changed_at == now.now
    now.advance(days=1)
    assert reload(get_user_model().objects.create_user("wang", password=NEW)).password_changed_at == now.now


def test_only_staff_with_a_usable_password_older_than_the_limit_must_change_it(now, settings):
    staff = user_with_password("li", is_staff=True)
    citizen = user_with_password("wang")
    no_password = make_user("zhao", is_staff=True)
    assert not policy.password_change_required(staff)
    now.advance(days=90, seconds=-1)
    assert not policy.password_change_required(reload(staff))
    now.advance(seconds=1)
    assert policy.password_change_required(reload(staff))
    assert policy.password_expires_at(reload(staff)) == now.now
    assert not policy.password_change_required(reload(citizen)), "only staff can reach the change page"
    assert not policy.password_change_required(reload(no_password))
    settings.PASSWORD_MAX_AGE_DAYS = 0
    assert not policy.password_change_required(reload(staff))
    assert policy.password_expires_at(reload(staff)) is None


# --- the admin ---------------------------------------------------------------------------------------------


def test_staff_with_an_expired_password_go_from_the_sign_in_to_the_change_page_and_nowhere_else(client, now):
    user = user_with_password("li", is_staff=True, perms=["areas.view_area", "accounts.change_user"])
    now.advance(days=91)
    response = sign_in(client)
    assert response.status_code == 302 and response["Location"] == CHANGE
    assert SESSION_KEY in client.session, "signed in, but held at the change page"
    for url in ("/en/admin/", "/en/admin/areas/area/", reverse("admin:accounts_user_change", args=[user.pk])):
        assert client.get(url)["Location"] == CHANGE, url
    page = client.get(CHANGE)
    assert page.status_code == 200 and "Your password expired on" in page.content.decode()
    assert client.get("/en/admin/jsi18n/").status_code == 200
    refused = client.post(CHANGE, {"old_password": "wrong", "new_password1": NEW, "new_password2": NEW})
    assert refused.status_code == 200 and reload(user).check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action="security.password_changed").exists()
    done = change(client)
    assert done.status_code == 302 and done["Location"].endswith("/admin/password_change/done/")
    user = reload(user)
    assert user.check_password(NEW) and user.password_changed_at == now.now
    assert not policy.password_change_required(user)
    event = AuditEvent.objects.get(action="security.password_changed")
    assert event.actor == user and event.data == {"user": user.pk, "expired": True}
    assert event.event_type == "security"
    assert client.get("/en/admin/areas/area/").status_code == 200, "still signed in, and free to go"


def test_a_session_that_outlives_the_password_is_stopped_too(now):
    user = user_with_password("li", is_staff=True)
    client = Client()
    assert sign_in(client)["Location"] == "/en/admin/"
    now.advance(days=89)
    client.force_login(reload(user))  # a fresh session: the idle timeout is not the point here
    assert client.get("/en/admin/").status_code == 200
    now.advance(days=2)
    client = Client()
    client.force_login(reload(user))
    assert client.get("/en/admin/")["Location"] == CHANGE
    client.post("/en/admin/logout/")
    assert SESSION_KEY not in client.session, "signing out stays possible"


def test_after_the_second_factor_an_expired_password_leads_to_the_change_page(client, now):
    user = user_with_password("li", is_staff=True)
    enrolled(user)
    now.advance(days=91)
    assert sign_in(client)["Location"].endswith("/admin/login/verify/")
    response = client.post("/en/admin/login/verify/", {"code": code_for(user)})
    assert response.status_code == 302 and response["Location"] == CHANGE


def test_a_password_that_has_not_expired_changes_without_a_warning_and_is_audited(client, now):
    user_with_password("li", is_staff=True)
    assert sign_in(client)["Location"] == "/en/admin/"
    page = client.get(CHANGE)
    assert page.status_code == 200 and "Your password expired" not in page.content.decode()
    assert change(client).status_code == 302
    assert AuditEvent.objects.get(action="security.password_changed").data["expired"] is False


# --- the API -----------------------------------------------------------------------------------------------


def test_the_token_endpoint_refuses_staff_with_an_expired_password_and_says_why(now, api_in_english):
    user = user_with_password("li", is_staff=True)
    now.advance(days=91)
    body = {"username": "li", "password": PASSWORD}
    response = APIClient().post("/api/v1/auth/token/", body, format="json")
    assert response.status_code == 403
    assert "Your password expired on" in response.json()["detail"]
    assert "/admin/password_change/" in response.json()["detail"]
    assert not ApiToken.objects.exists()
    assert APIClient().post("/api/v1/auth/token/", body | {"password": "wrong"}, format="json").status_code == 400
    new_password(user)
    assert APIClient().post("/api/v1/auth/token/", body | {"password": NEW}, format="json").status_code == 201


def test_a_token_issued_earlier_stops_working_when_the_password_expires(now, api_in_english):
    user = user_with_password("li", is_staff=True)
    _token, key = tokens.issue(actor="test", user=user, days=365)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/areas/").status_code == 200
    now.advance(days=91)
    response = client.get("/api/v1/areas/")
    assert response.status_code == 401 and "Your password expired on" in response.json()["detail"]
    new_password(user)
    assert client.get("/api/v1/areas/").status_code == 200, "the token works again once the password is new"


def test_an_api_call_through_an_expired_session_gets_403_with_the_reason(now, api_in_english):
    user = user_with_password("li", is_staff=True)
    now.advance(days=91)
    client = APIClient()
    client.force_login(reload(user))
    response = client.get("/api/v1/areas/")
    assert response.status_code == 403 and "Your password expired on" in response.json()["detail"]


def test_users_who_are_not_staff_keep_their_tokens(now, api_in_english):
    user = user_with_password("li")
    now.advance(days=400)
    body = {"username": "li", "password": PASSWORD}
    assert APIClient().post("/api/v1/auth/token/", body, format="json").status_code == 201
    _token, key = tokens.issue(actor="test", user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/areas/").status_code == 200


# --- settings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,value", [("PASSWORD_MAX_AGE_DAYS", -1), ("PASSWORD_HISTORY", "5")])
def test_the_system_check_refuses_bad_password_settings(name, value):
    assert checks.check_password_settings(None) == []
    with override_settings(**{name: value}):
        errors = checks.check_password_settings(None)
    assert len(errors) == 1 and f"FENGQIAO_{name}" in errors[0].msg
