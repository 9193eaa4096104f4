"""The override table: services with audit events, the admin, the per-process cache and the command."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse

from fengqiao.audit.models import AuditEvent, EventType
from fengqiao.departments.tests.builders import make_user
from fengqiao.workdays import cache, services
from fengqiao.workdays.calendar import Source, day_status, deadline, year_status
from fengqiao.workdays.models import CalendarOverride
from fengqiao.workdays.tests.builders import ACTOR, HOLIDAY, WORKDAY, at, day, enter_new_year_2027, make_override

pytestmark = pytest.mark.django_db

NEW_YEAR = day("2027-01-01")


# --- services ---------------------------------------------------------------------------------------------------


def test_creating_updating_and_deleting_an_override_is_audited():
    override = services.create_override(actor=ACTOR, date=NEW_YEAR, kind=HOLIDAY, name=" 元旦 ", note="国办发明电")
    assert (override.name, override.note) == ("元旦", "国办发明电")
    created = AuditEvent.objects.get(action="workdays.override.create")
    assert created.event_type == EventType.CREATE and created.object_id == str(override.pk)
    assert created.after == {"date": "2027-01-01", "kind": "holiday", "name": "元旦", "note": "国办发明电"}

    services.update_override(override, actor=ACTOR, kind=WORKDAY, name="调休上班")
    updated = AuditEvent.objects.get(action="workdays.override.update")
    assert updated.before == {"kind": "holiday", "name": "元旦"}
    assert updated.after == {"kind": "workday", "name": "调休上班"}
    services.update_override(override, actor=ACTOR, name="调休上班")  # no change, no event
    assert AuditEvent.objects.filter(action="workdays.override.update").count() == 1

    services.delete_override(override, actor=ACTOR)
    deleted = AuditEvent.objects.get(action="workdays.override.delete")
    assert deleted.event_type == EventType.DELETE and deleted.before["date"] == "2027-01-01"
    assert not CalendarOverride.objects.exists()


@pytest.mark.parametrize(
    "values,field",
    [
        ({"date": "2027-01-01"}, "date"),
        ({"kind": "vacation"}, "kind"),
        ({"name": "  "}, "name"),
        ({"name": "元" * 41}, "name"),
    ],
)
def test_a_bad_override_is_refused_naming_the_field_and_writes_nothing(values, field):
    arguments = {"date": NEW_YEAR, "kind": HOLIDAY, "name": "元旦"} | values
    with pytest.raises(ValidationError) as refused:
        services.create_override(actor=ACTOR, **arguments)
    assert field in refused.value.message_dict
    assert not CalendarOverride.objects.exists() and not AuditEvent.objects.exists()


def test_a_day_has_one_override_at_most():
    enter_new_year_2027()
    with pytest.raises(ValidationError) as refused:
        services.create_override(actor=ACTOR, date=NEW_YEAR, kind=WORKDAY, name="调休上班")
    assert "already has an override" in str(refused.value.message_dict["date"])
    assert CalendarOverride.objects.get().kind == HOLIDAY
    assert AuditEvent.objects.filter(action="workdays.override.create").count() == 1


# --- the cache --------------------------------------------------------------------------------------------------


def test_day_status_reads_the_table_once_and_then_from_memory(django_assert_num_queries):
    cache.invalidate()
    with django_assert_num_queries(1):
        day_status(NEW_YEAR)
    with django_assert_num_queries(0):
        for offset in range(1000):
            day_status(day("2026-01-01").replace(day=1 + offset % 28))
        deadline(at("2026-09-30 10:00"), 60, "working_days")


def test_a_saved_or_deleted_override_is_seen_at_once(django_capture_on_commit_callbacks):
    assert day_status(NEW_YEAR).source == Source.WEEKENDS  # cached
    with django_capture_on_commit_callbacks(execute=True):
        override = enter_new_year_2027()
        assert day_status(NEW_YEAR) == (False, False, Source.OVERRIDE)
    assert day_status(NEW_YEAR) == (False, False, Source.OVERRIDE)
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_override(override, actor=ACTOR)
    assert day_status(NEW_YEAR).source == Source.WEEKENDS


def test_a_rolled_back_override_does_not_stay_in_the_cache():
    with pytest.raises(RuntimeError), transaction.atomic():
        enter_new_year_2027()
        assert day_status(NEW_YEAR).source == Source.OVERRIDE
        raise RuntimeError("rolled back")
    assert day_status(NEW_YEAR).source == Source.WEEKENDS
    assert day_status(NEW_YEAR).source == Source.WEEKENDS  # and from the cache


def test_a_change_made_elsewhere_is_seen_after_the_time_to_live(monkeypatch):
    # bulk_create and update send no signals: as if another process had written (and committed) them
    CalendarOverride.objects.bulk_create([CalendarOverride(date=NEW_YEAR, kind=HOLIDAY, name="元旦")])
    now = [1000.0]
    monkeypatch.setattr(cache, "clock", lambda: now[0])
    cache.invalidate()
    assert day_status(NEW_YEAR).is_working is False
    CalendarOverride.objects.filter(date=NEW_YEAR).update(kind=WORKDAY)
    now[0] += cache.TTL_SECONDS - 1
    assert day_status(NEW_YEAR).is_working is False
    now[0] += 2
    assert day_status(NEW_YEAR).is_working is True


# --- the admin --------------------------------------------------------------------------------------------------


def _url(view, *args):
    return reverse(f"admin:workdays_calendaroverride_{view}", args=args)


@pytest.fixture
def admin_client(client):
    client.force_login(make_user("root", superuser=True))
    return client


def test_the_admin_lists_adds_changes_and_deletes_overrides_through_the_services(admin_client):
    response = admin_client.post(_url("add"), {"date": "2027-01-01", "kind": "holiday", "name": "元旦", "note": ""})
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    override = CalendarOverride.objects.get()
    assert year_status(2027).overrides == 1 and not year_status(2027).provisional
    page = admin_client.get(_url("changelist"), {"year": "2027"}).content.decode()
    assert "元旦" in page
    assert admin_client.get(_url("changelist"), {"q": "1"}).status_code == 200
    assert admin_client.get(_url("add")).status_code == 200
    assert admin_client.get(_url("change", override.pk)).status_code == 200

    data = {"kind": "holiday", "name": "元旦节", "note": "test data"}
    assert admin_client.post(_url("change", override.pk), data).status_code == 302
    override.refresh_from_db()
    assert override.name == "元旦节"

    assert admin_client.post(_url("delete", override.pk), {"post": "yes"}).status_code == 302
    assert not CalendarOverride.objects.exists()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["workdays.override.create", "workdays.override.update", "workdays.override.delete"]


def test_the_admin_refuses_a_second_override_for_a_day(admin_client):
    enter_new_year_2027()
    response = admin_client.post(_url("add"), {"date": "2027-01-01", "kind": "workday", "name": "调休上班"})
    assert response.status_code == 200 and "date" in response.context["adminform"].form.errors
    assert CalendarOverride.objects.get().kind == HOLIDAY


# --- the command ------------------------------------------------------------------------------------------------


def _run(*args):
    out = io.StringIO()
    call_command("workdays", *args, stdout=out)
    return out.getvalue()


def test_show_prints_the_due_moment_and_whether_it_is_provisional():
    out = _run("show", "2026-09-30T10:00", "5", "working_days")
    assert "due:         2026-10-14 00:00 +0800 (Wed) = end of 2026-10-13 (Tue)" in out
    assert "provisional: no" in out
    out = _run("show", "2026-12-20", "10", "WORKING_DAYS")
    assert "2027-01-02 00:00 +0800" in out and "provisional: yes: no holiday data for 2027" in out
    enter_new_year_2027()
    out = _run("show", "2026-12-20", "10", "working_days")
    assert "2027-01-05 00:00 +0800" in out and "provisional: no" in out
    assert "2026-02-16 00:00" in _run("show", "2026-01-15", "1", "months", "--no-roll")


@pytest.mark.parametrize(
    "args,message",
    [
        (("show", "2026-09-30", "-1", "days"), "amount must not be negative"),
        (("show", "2026-09-30", "five", "days"), "not a whole number"),
        (("show", "30/09/2026", "5", "days"), "not a date"),
    ],
)
def test_show_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)


def test_years_lists_package_configured_and_provisional_years():
    make_override("2028-01-03", HOLIDAY, "元旦")
    out = _run("years", "--until", "2029")
    assert "2004-2026  known by chinesecalendar" in out
    assert "2027       provisional: weekends only" in out
    assert "2028       configured by 1 overrides" in out
    assert "2029       provisional" in out
