"""Explicit helpers for API tests (no shared fixture namespace)."""

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from fengqiao.departments.tests.builders import make_user


def client_for(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def reader():
    """An authenticated user without any model permission."""
    user = get_user_model().objects.filter(username="reader").first() or make_user("reader")
    return client_for(user)


def reception_reader():
    """An authenticated user whose only permission is reading the reception log (personal data)."""
    username = "reception-reader"
    user = get_user_model().objects.filter(username=username).first()
    return client_for(user or make_user(username, perms=["centres.view_reception"]))


def writer(*perms, username="writer"):
    return client_for(make_user(username, perms=perms))


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
