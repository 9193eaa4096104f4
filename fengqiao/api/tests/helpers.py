"""Explicit helpers for API tests (no shared fixture namespace)."""

import datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from fengqiao.accounts.models import AreaAssignment, Role
from fengqiao.areas.models import Area
from fengqiao.departments.tests.builders import make_user


def client_for(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def province_wide(user):
    """Give `user` a scope over every root area that exists now, and nothing else.

    The functional API tests (filters, services, masking) predate area scoping and are not about it; their users
    act as staff of the whole test province. The role is volunteer, whose group holds no permission (permissions
    follow the current roles, accounts.backends), so these users have only the permissions the tests give them;
    the rows are written directly, without the service, so that no audit event shifts their counts.
    Scoping itself is tested in test_scoping.py and test_matrix.py.
    """
    for root in Area.objects.filter(parent__isnull=True, valid_to__isnull=True):
        AreaAssignment.objects.get_or_create(
            user=user, area=root, role=Role.VOLUNTEER, defaults={"valid_from": datetime.date(2020, 1, 1)}
        )
    return user


def reader():
    """An authenticated user without any model permission (scope: the whole test province)."""
    user = get_user_model().objects.filter(username="reader").first() or make_user("reader")
    return client_for(province_wide(user))


def reception_reader():
    """An authenticated user whose only permission is reading the reception log (personal data)."""
    username = "reception-reader"
    user = get_user_model().objects.filter(username=username).first()
    return client_for(province_wide(user or make_user(username, perms=["centres.view_reception"])))


def writer(*perms, username="writer"):
    """A user with `perms` (scope: the whole test province)."""
    return client_for(province_wide(make_user(username, perms=perms)))


def results(response):
    assert response.status_code == 200, response.content
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


def count_queries(client, url, params=None):
    """(number of queries, response) for one GET."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response


def rows_of(response):
    body = response.json()
    if isinstance(body, dict) and body.get("type") == "FeatureCollection":
        return body["features"]
    return body["results"] if isinstance(body, dict) and "results" in body else body
