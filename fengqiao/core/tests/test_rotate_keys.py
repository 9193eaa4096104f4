import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from fengqiao.areas.tests.factories import make_chain
from fengqiao.audit.models import AuditEvent
from fengqiao.centres.models import Centre, Reception
from fengqiao.core import crypto


def raw_phone(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT visitor_phone, visitor_phone_hash FROM centres_reception WHERE id = %s", [pk])
        return cursor.fetchone()


@pytest.fixture
def keys(monkeypatch):
    crypto.reset_key_cache()
    yield monkeypatch
    crypto.reset_key_cache()


@pytest.mark.django_db
def test_rotation_re_encrypts_under_the_new_key_and_rehashes(keys, capsys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    keys.setenv("FENGQIAO_FIELD_KEYS", old)
    keys.setenv("FENGQIAO_HASH_KEY", "old-hash-key")
    town = make_chain()["town"]
    centre = Centre.objects.create(area=town, name="镇综治中心")
    reception = Reception.objects.create(
        centre=centre,
        received_at="2026-11-25T09:00:00+08:00",
        visitor_name="张三",
        visitor_phone="13812345678",
        visitor_phone_hash=crypto.lookup_hash("13812345678"),
        purpose="咨询",
    )
    before_token, before_hash = raw_phone(reception.pk)

    crypto.reset_key_cache()
    keys.setenv("FENGQIAO_FIELD_KEYS", f"{new},{old}")
    keys.setenv("FENGQIAO_HASH_KEY", "new-hash-key")
    call_command("rotate_keys")
    assert "centres.Reception: 1 rows" in capsys.readouterr().out

    crypto.reset_key_cache()
    keys.setenv("FENGQIAO_FIELD_KEYS", new)  # the old key is gone
    token, hash_ = raw_phone(reception.pk)
    assert token != before_token and "13812345678" not in token
    assert hash_ != before_hash and hash_ == crypto.lookup_hash("13812345678")
    reception = Reception.objects.get(pk=reception.pk)
    assert (reception.visitor_name, reception.visitor_phone) == ("张三", "13812345678")
    assert AuditEvent.objects.filter(action="security.rotate_keys").count() == 1


@pytest.mark.django_db
def test_without_the_old_key_rotation_fails_and_changes_nothing(keys):
    keys.setenv("FENGQIAO_FIELD_KEYS", Fernet.generate_key().decode())
    town = make_chain()["town"]
    centre = Centre.objects.create(area=town, name="镇综治中心")
    reception = Reception.objects.create(
        centre=centre, received_at="2026-11-25T09:00:00+08:00", visitor_phone="13812345678", purpose="咨询"
    )
    before = raw_phone(reception.pk)
    crypto.reset_key_cache()
    keys.setenv("FENGQIAO_FIELD_KEYS", Fernet.generate_key().decode())
    with pytest.raises(CommandError, match="keys do not match"):  # a clear message, not a traceback
        call_command("rotate_keys")
    assert raw_phone(reception.pk) == before
