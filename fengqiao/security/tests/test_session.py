"""Idle timeout: a signed-in session ends after SESSION_IDLE_SECONDS without a request."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import override_settings

from fengqiao.departments.tests.builders import make_user

pytestmark = pytest.mark.django_db


@override_settings(SESSION_IDLE_SECONDS=600)
def test_activity_keeps_the_session_and_idleness_ends_it(client, clock):
    client.force_login(make_user("root", superuser=True))
    assert client.get("/en/admin/").status_code == 200
    for _i in range(3):
        clock.advance(seconds=590)
        assert client.get("/en/admin/").status_code == 200
    clock.advance(seconds=601)
    response = client.get("/en/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert SESSION_KEY not in client.session


@override_settings(SESSION_IDLE_SECONDS=600)
def test_the_api_session_is_ended_too(client, clock):
    client.force_login(make_user("root", superuser=True))
    assert client.get("/api/v1/areas/").status_code == 200
    clock.advance(seconds=601)
    assert client.get("/api/v1/areas/").status_code in {401, 403}


def test_sessions_end_with_the_browser_and_have_an_absolute_limit(settings):
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert 0 < settings.SESSION_COOKIE_AGE <= 24 * 3600
