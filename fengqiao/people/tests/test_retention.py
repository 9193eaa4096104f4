"""Every special care record has a retention date (a default per category), and a plain function erases the
expired ones for a background job (PIPL Art. 47)."""

import datetime
import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command
from django.utils import timezone

from fengqiao.areas.tests.factories import make_chain
from fengqiao.audit.models import AuditEvent
from fengqiao.people import services
from fengqiao.people.models import SPECIAL_CARE_RETENTION_DAYS, SpecialCare
from fengqiao.people.tests.builders import make_person

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture
def person():
    return make_person(make_chain()["village"])


def care(person, category="crisis", **extra):
    return services.create_special_care(actor="test", person=person, category=category, **extra)


def test_every_category_has_a_default_retention_period():
    assert set(SPECIAL_CARE_RETENTION_DAYS) == set(SpecialCare.Category.values)
    assert all(isinstance(d, int) and d > 0 for d in SPECIAL_CARE_RETENTION_DAYS.values())


def test_a_new_record_without_a_date_is_kept_for_its_categorys_period_from_its_start(person):
    since = datetime.date(2026, 3, 1)
    record = care(person, "released_prisoner", since=since)
    assert record.retention_until == since + datetime.timedelta(days=SPECIAL_CARE_RETENTION_DAYS["released_prisoner"])
    undated = care(person, "left_behind_child")
    days = SPECIAL_CARE_RETENTION_DAYS["left_behind_child"]
    assert undated.retention_until == timezone.localdate() + datetime.timedelta(days=days)


def test_an_explicit_retention_date_is_kept(person):
    record = care(person, since=datetime.date(2026, 1, 1), retention_until=datetime.date(2026, 2, 1))
    assert record.retention_until == datetime.date(2026, 2, 1)


def test_ending_the_care_restarts_the_period_from_the_last_day(person):
    record = care(person, "community_correction", since=datetime.date(2025, 1, 1))
    ended = services.end_special_care(record, actor="test", until=datetime.date(2026, 6, 30))
    days = SPECIAL_CARE_RETENTION_DAYS["community_correction"]
    assert ended.until == datetime.date(2026, 6, 30)
    assert ended.retention_until == datetime.date(2026, 6, 30) + datetime.timedelta(days=days)
    event = AuditEvent.objects.filter(action="people.specialcare.update").last()
    assert set(event.data["fields"]) == {"until", "retention_until"}
    explicit = services.end_special_care(
        care(person), actor="test", until=datetime.date(2026, 7, 1), retention_until=datetime.date(2027, 1, 1)
    )
    assert explicit.retention_until == datetime.date(2027, 1, 1)


def test_an_end_before_the_start_or_an_erasure_before_the_end_is_refused_and_nothing_changes(person):
    record = care(person, since=datetime.date(2026, 3, 1))
    kept = record.retention_until
    for values, field in [
        ({"until": datetime.date(2026, 2, 1)}, "until"),
        ({"until": datetime.date(2026, 5, 1), "retention_until": datetime.date(2026, 4, 1)}, "retention_until"),
    ]:
        with pytest.raises(ValidationError) as exc:
            services.update_special_care(record, actor="test", **values)
        assert field in exc.value.message_dict
    record.refresh_from_db()
    assert record.until is None and record.retention_until == kept


def test_the_setting_overrides_the_defaults_one_category_at_a_time(person, settings):
    settings.FENGQIAO_SPECIAL_CARE_RETENTION_DAYS = {"crisis": 30}
    since = datetime.date(2026, 1, 1)
    assert care(person, "crisis", since=since).retention_until == datetime.date(2026, 1, 31)
    days = SPECIAL_CARE_RETENTION_DAYS["other"]
    assert care(person, "other", since=since).retention_until == since + datetime.timedelta(days=days)
    settings.FENGQIAO_SPECIAL_CARE_RETENTION_DAYS = {"crisis": 0}
    with pytest.raises(ImproperlyConfigured, match="crisis"):
        care(person, "crisis")


def test_the_data_migration_fills_records_without_a_date(person):
    dated = care(person, "crisis", since=datetime.date(2026, 1, 1))
    SpecialCare.objects.filter(pk=dated.pk).update(retention_until=None)
    ended = care(person, "other", since=datetime.date(2025, 1, 1), until=datetime.date(2025, 6, 1))
    SpecialCare.objects.filter(pk=ended.pk).update(retention_until=None)
    migration = importlib.import_module("fengqiao.people.migrations.0003_fill_special_care_retention")
    migration.fill(apps, None)
    dated.refresh_from_db()
    ended.refresh_from_db()
    assert dated.retention_until == datetime.date(2026, 1, 1) + datetime.timedelta(days=365)
    assert ended.retention_until == datetime.date(2025, 6, 1) + datetime.timedelta(days=365)
    assert migration.DEFAULT_DAYS == SPECIAL_CARE_RETENTION_DAYS  # the frozen copy matches today's defaults


def test_erase_expired_is_a_plain_function_for_a_background_job(person):
    today = timezone.localdate()
    care(person, "crisis", since=today - 400 * DAY)  # default 365 days: expired
    kept = care(person, "released_prisoner", since=today - 400 * DAY)  # 5 years: kept
    assert services.erase_expired() == 1
    assert list(SpecialCare.objects.all()) == [kept]
    event = AuditEvent.objects.get(action="people.specialcare.delete")
    assert event.actor_label == "system" and event.data["by_category"] == {"crisis": 1}
    assert services.erase_expired() == 0  # idempotent
    later = timezone.now() + datetime.timedelta(days=5 * 365)
    assert services.erase_expired(later, actor="worker") == 1
    assert not SpecialCare.objects.exists()


def test_the_command_reports_what_it_erased(person, capsys):
    care(person, since=datetime.date(2020, 1, 1))
    call_command("people", "erase-expired", "--today", "2021-01-02")
    assert "erased 1 expired" in capsys.readouterr().out
