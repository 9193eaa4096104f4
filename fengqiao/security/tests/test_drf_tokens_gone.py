"""DRF's permanent tokens are gone (ADR 0010): the app is not installed, nothing in fengqiao imports it, their
keys are refused, and the migration removes what an older database still holds."""

import ast
import importlib
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from rest_framework.test import APIClient

import fengqiao

ROOT = Path(fengqiao.__file__).parent
MODULE = "rest_framework.authtoken"


def test_the_app_is_not_installed():
    assert not apps.is_installed(MODULE)
    assert "authtoken" not in {config.label for config in apps.get_app_configs()}


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_nothing_in_fengqiao_imports_it():
    offenders = sorted(
        str(path.relative_to(ROOT.parent))
        for path in ROOT.rglob("*.py")
        if ".venv" not in path.parts
        and any(name == MODULE or name.startswith(MODULE + ".") for name in _imports(ast.parse(path.read_text())))
    )
    assert offenders == []


@pytest.mark.django_db
def test_a_drf_style_key_is_refused_with_a_pointer_to_the_new_tokens(settings):
    settings.LANGUAGE_CODE = "en"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")
    response = client.get("/api/v1/areas/")
    assert response.status_code == 401 and "/api/v1/auth/token/" in response.json()["detail"]


class Editor:
    """The part of a schema editor the migration uses, on the test's own connection (inside its transaction, so
    the rest of the database is left as it was)."""

    def __init__(self):
        self.connection = connection

    def execute(self, sql):
        with connection.cursor() as cursor:
            cursor.execute(sql)

    def quote_name(self, name):
        return connection.ops.quote_name(name)


@pytest.mark.django_db
def test_the_migration_drops_the_old_table_permissions_and_migration_records():
    migration = importlib.import_module("fengqiao.security.migrations.0003_drop_drf_tokens")
    Editor().execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp, user_id integer)")
    content_type = ContentType.objects.create(app_label="authtoken", model="token")
    Permission.objects.create(content_type=content_type, codename="add_token", name="Can add token")
    MigrationRecorder(connection).record_applied("authtoken", "0001_initial")
    assert "authtoken_token" in connection.introspection.table_names()
    migration.forward(apps, Editor())
    assert "authtoken_token" not in connection.introspection.table_names()
    assert not ContentType.objects.filter(app_label="authtoken").exists()
    assert not Permission.objects.filter(codename="add_token").exists()
    assert not MigrationRecorder(connection).migration_qs.filter(app="authtoken").exists()
    migration.forward(apps, Editor())  # a database without any of it: nothing to do
