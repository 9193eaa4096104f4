"""Lockout after repeated failed sign-ins, per user name and per client address, ending after its time or when an
administrator unlocks; enforced for the admin sign-in and the API's token endpoint alike."""

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from fengqiao.audit.models import AuditEvent
from fengqiao.core.context import request_client_address
from fengqiao.departments.tests.builders import make_user
from fengqiao.security.models import Lockout, LoginFailure
from fengqiao.security.services import lockout
from fengqiao.security.tests.builders import PASSWORD, request_from, user_with_password

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("clock"),
]
SETTINGS = {
    "LOCKOUT_THRESHOLD": 3,
    "LOCKOUT_ADDRESS_THRESHOLD": 5,
    "LOCKOUT_WINDOW_SECONDS": 600,
    "LOCKOUT_SECONDS": 900,
}


def fail(username, address="10.0.0.1", times=1):
    for _i in range(times):
        assert authenticate(request_from(address), username=username, password="wrong-Password-1") is None


@override_settings(**SETTINGS)
def test_the_right_password_works_below_the_threshold():
    user = user_with_password("li")
    fail("li", times=2)
    assert authenticate(request_from(), username="li", password=PASSWORD) == user
    assert LoginFailure.objects.filter(username="li").count() == 2
    assert AuditEvent.objects.filter(action="security.login_failed").count() == 2


@override_settings(**SETTINGS)
def test_the_threshold_locks_the_user_name_and_then_even_the_right_password_is_refused():
    user_with_password("li")
    fail("li", times=3)
    lock = Lockout.objects.get()
    assert (lock.scope, lock.value, lock.failures) == ("username", "li", 3)
    assert AuditEvent.objects.filter(action="security.login_locked", object_id=str(lock.pk)).exists()
    assert authenticate(request_from("10.0.0.2"), username="li", password=PASSWORD) is None
    assert LoginFailure.objects.count() == 3, "refusals while locked are not counted again"


@override_settings(**SETTINGS)
def test_failures_outside_the_window_do_not_count(clock):
    user = user_with_password("li")
    fail("li", times=2)
    clock.advance(seconds=601)
    fail("li")
    assert not Lockout.objects.exists()
    assert authenticate(request_from(), username="li", password=PASSWORD) == user


@override_settings(**SETTINGS)
def test_the_lock_ends_after_its_time_and_counting_starts_again(clock):
    user = user_with_password("li")
    fail("li", times=3)
    clock.advance(seconds=899)
    assert authenticate(request_from(), username="li", password=PASSWORD) is None
    clock.advance(seconds=2)
    assert authenticate(request_from(), username="li", password=PASSWORD) == user
    fail("li")
    assert authenticate(request_from(), username="li", password=PASSWORD) == user, "one new failure does not relock"


@override_settings(**SETTINGS)
def test_an_administrator_unlocks_early_and_it_is_audited():
    user = user_with_password("li")
    admin = make_user("security-admin", superuser=True)
    fail("li", times=3)
    lockout.unlock(actor=admin, lockout=Lockout.objects.get())
    assert authenticate(request_from(), username="li", password=PASSWORD) == user
    event = AuditEvent.objects.get(action="security.login_unlocked")
    assert event.actor == admin


@override_settings(**SETTINGS)
def test_unlocking_an_ended_lockout_is_refused_and_writes_nothing(clock):
    user_with_password("li")
    fail("li", times=3)
    clock.advance(seconds=901)
    before = AuditEvent.objects.count()
    with pytest.raises(Exception, match="already ended"):
        lockout.unlock(actor="test", lockout=Lockout.objects.get())
    assert AuditEvent.objects.count() == before and Lockout.objects.get().unlocked_at is None


@override_settings(**SETTINGS)
def test_many_user_names_from_one_address_lock_the_address():
    user_with_password("li")
    for name in ["a", "b", "c", "d", "e"]:
        fail(name, address="10.6.6.6")
    assert Lockout.objects.filter(scope="address", value="10.6.6.6").exists()
    assert authenticate(request_from("10.6.6.6"), username="li", password=PASSWORD) is None
    assert authenticate(request_from("10.0.0.1"), username="li", password=PASSWORD) is not None


@override_settings(TRUSTED_PROXIES="127.0.0.1")
def test_the_client_address_comes_from_the_proxy_header_only_when_the_proxy_is_trusted():
    request = request_from("127.0.0.1")
    request.META["HTTP_X_FORWARDED_FOR"] = "1.2.3.4, 10.1.1.1"
    assert request_client_address(request) == "10.1.1.1"
    with override_settings(TRUSTED_PROXIES=""):
        assert request_client_address(request) == "127.0.0.1"


@override_settings(**SETTINGS)
def test_the_api_token_endpoint_is_locked_too():
    user_with_password("li")
    client = APIClient()
    for _i in range(3):
        assert client.post("/api/v1/auth/token/", {"username": "li", "password": "nope"}).status_code == 400
    assert Lockout.objects.filter(value="li").exists()
    assert client.post("/api/v1/auth/token/", {"username": "li", "password": PASSWORD}).status_code == 400


@override_settings(**SETTINGS)
def test_the_unlock_command_ends_a_user_names_lockouts():
    user = user_with_password("li")
    fail("li", times=3)
    out = io.StringIO()
    call_command("unlock", "li", stdout=out)
    assert "1 lockout" in out.getvalue()
    assert authenticate(request_from(), username="li", password=PASSWORD) == user
