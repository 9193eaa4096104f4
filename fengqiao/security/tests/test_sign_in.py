"""The admin sign-in: password, then a TOTP or recovery code when needed; set-up for those who have no device;
a clear message when locked; the demo-mode banner. The session is signed in only after both steps."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import override_settings
from django.urls import resolve
from django.utils import translation

from fengqiao.audit.models import AuditEvent
from fengqiao.security import views
from fengqiao.security.models import TotpDevice
from fengqiao.security.tests.builders import PASSWORD, code_for, enrolled, user_with_password

pytestmark = pytest.mark.django_db
LOGIN = "/en/admin/login/"


def signed_in(client):
    return SESSION_KEY in client.session


def password_step(client, username="li", password=PASSWORD, next_url="/en/admin/"):
    return client.post(LOGIN, {"username": username, "password": password, "next": next_url})


def test_the_admin_login_urls_are_the_two_step_sign_in():
    assert resolve("/en/admin/login/").func is views.sign_in
    with translation.override("zh-hans"):
        assert resolve("/admin/login/").func is views.sign_in


@override_settings(TOTP_ROLES=[])
def test_staff_outside_the_required_roles_sign_in_with_the_password_alone(client, clock):
    user_with_password("li", is_staff=True)
    response = password_step(client)
    assert response.status_code == 302 and response["Location"] == "/en/admin/"
    assert signed_in(client)
    assert AuditEvent.objects.filter(action="security.login").exists()


def test_a_wrong_password_stays_on_the_form(client, clock):
    user_with_password("li", is_staff=True)
    response = password_step(client, password="Wrong-password-1")
    assert response.status_code == 200 and not signed_in(client)
    assert AuditEvent.objects.filter(action="security.login_failed").exists()


def test_an_enrolled_user_needs_the_code_after_the_password(client, clock):
    user = user_with_password("li", is_staff=True)
    enrolled(user)
    clock.advance(seconds=30)
    response = password_step(client, next_url="/en/admin/areas/")
    assert response["Location"].endswith("/admin/login/verify/")
    assert not signed_in(client), "the password alone does not sign in"
    assert client.get("/en/admin/").status_code == 302
    wrong = "000000" if code_for(user) != "000000" else "111111"
    page = client.post("/en/admin/login/verify/", {"code": wrong})
    assert page.status_code == 200 and "not right" in page.content.decode() and not signed_in(client)
    done = client.post("/en/admin/login/verify/", {"code": code_for(user)})
    assert done.status_code == 302 and done["Location"] == "/en/admin/areas/"
    assert signed_in(client)
    assert client.get("/en/admin/").status_code == 200


def test_a_recovery_code_signs_in_once(client, clock):
    user = user_with_password("li", is_staff=True)
    codes = enrolled(user)
    password_step(client)
    assert client.post("/en/admin/login/verify/", {"code": codes[0]}).status_code == 302
    client.logout()
    password_step(client)
    assert client.post("/en/admin/login/verify/", {"code": codes[0]}).status_code == 200
    assert not signed_in(client)


def test_staff_without_a_device_are_sent_to_set_one_up_and_then_see_their_recovery_codes(client, clock):
    user_with_password("li", is_staff=True)
    response = password_step(client)
    assert response["Location"].endswith("/admin/login/enrol/")
    assert client.get("/en/admin/login/verify/")["Location"].endswith("/admin/login/enrol/")
    page = client.get("/en/admin/login/enrol/").content.decode()
    device = TotpDevice.objects.get()
    assert device.secret in page and "otpauth://totp/" in page and not signed_in(client)
    assert client.get("/en/admin/login/enrol/").content.decode().count(device.secret) >= 1, "same key on reload"
    user = device.user
    done = client.post("/en/admin/login/enrol/", {"code": code_for(user)})
    assert done.status_code == 200 and signed_in(client)
    assert done.content.decode().count("<li><code>") == 10
    assert AuditEvent.objects.filter(action="security.totp_enrolled").exists()


def test_the_second_step_needs_the_first_and_expires(client, clock):
    assert client.get("/en/admin/login/verify/")["Location"] == "/en/admin/login/"
    user = user_with_password("li", is_staff=True)
    enrolled(user)
    password_step(client)
    clock.advance(seconds=views.PENDING_SECONDS + 1)
    response = client.post("/en/admin/login/verify/", {"code": code_for(user)})
    assert response["Location"] == "/en/admin/login/" and not signed_in(client)


@override_settings(LOCKOUT_THRESHOLD=2)
def test_a_locked_user_name_is_told_so_and_guessing_codes_ends_the_pending_sign_in(client, clock):
    user = user_with_password("li", is_staff=True)
    enrolled(user)
    password_step(client)
    right = code_for(user)
    guesses = [g for g in ("111111", "222222", "333333") if g != right]
    assert client.post("/en/admin/login/verify/", {"code": guesses[0]}).status_code == 200
    response = client.post("/en/admin/login/verify/", {"code": guesses[1]})
    assert response["Location"] == "/en/admin/login/"
    page = password_step(client).content.decode()
    assert "locked until" in page and not signed_in(client)


def test_an_outside_next_address_is_ignored(client, clock):
    with override_settings(TOTP_ROLES=[]):
        user_with_password("li", is_staff=True)
        response = password_step(client, next_url="https://evil.example/")
    assert response["Location"] == "/en/admin/"


def test_the_demo_banner_shows_on_admin_pages_only_in_demo_mode(client, clock):
    with override_settings(DEMO_NO_2FA=True):
        user_with_password("root", is_staff=True, is_superuser=True)
        assert "FENGQIAO_DEMO_NO_2FA" in client.get(LOGIN).content.decode()
        assert password_step(client, username="root").status_code == 302 and signed_in(client)
        assert "FENGQIAO_DEMO_NO_2FA" in client.get("/en/admin/").content.decode()
    assert "FENGQIAO_DEMO_NO_2FA" not in client.get("/en/admin/").content.decode()
