"""`fengqiao audit export` and `fengqiao audit prune`: auditors' copies, and retention of at least 183 days."""

import csv
import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from fengqiao.audit import chain, services
from fengqiao.audit.models import AuditEvent, ChainHead
from fengqiao.audit.services import record

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2027, 6, 30)


@pytest.fixture
def clock(monkeypatch):
    """Travel in time: set `clock.day` and the audit clock reads noon of that day."""

    class Clock:
        day = TODAY

    def now():
        return timezone.make_aware(datetime.datetime.combine(Clock.day, datetime.time(12)))

    monkeypatch.setattr(services, "now", now)
    return Clock


def history(clock, *days):
    for day in days:
        clock.day = day
        record(actor="test", action="grid.update", summary=day.isoformat(), data={"phone": "13812345678"})
    clock.day = TODAY


def test_export_writes_jsonl_for_a_date_range_that_auditors_can_rehash(clock, tmp_path):
    history(clock, datetime.date(2027, 1, 1), datetime.date(2027, 1, 2), datetime.date(2027, 1, 3))
    path = tmp_path / "audit.jsonl"
    call_command("audit", "export", "--from", "2027-01-02", "--to", "2027-01-03", "-o", str(path), stderr=io.StringIO())
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["summary"] for r in rows] == ["2027-01-02", "2027-01-03"]
    assert rows[0]["data"] == {"phone": "138****5678"}
    for row in rows:
        values = {f: row[f] for f in chain.HASHED_FIELDS}
        values["occurred_at"] = datetime.datetime.fromisoformat(row["occurred_at"])
        assert chain.row_hash(row["prev_hash"], values) == row["hash"]
    assert AuditEvent.objects.filter(action="audit.export", event_type="export").get().data["rows"] == 2


def test_export_writes_csv_with_json_columns(clock):
    history(clock, datetime.date(2027, 1, 1), datetime.date(2027, 2, 1))
    out = io.StringIO()
    call_command("audit", "export", "--from", "2027-01-01", "--to", "2027-01-31", "--format", "csv", stdout=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["summary"] for r in rows] == ["2027-01-01"]
    assert json.loads(rows[0]["data"]) == {"phone": "138****5678"} and rows[0]["before"] == ""


def test_prune_refuses_to_delete_anything_younger_than_183_days(clock):
    history(clock, datetime.date(2026, 1, 1))
    youngest_allowed = TODAY - datetime.timedelta(days=183)
    with pytest.raises(CommandError, match="younger than 183 days"):
        call_command("audit", "prune", "--before", (youngest_allowed + datetime.timedelta(days=1)).isoformat())
    assert AuditEvent.objects.count() == 1


def test_prune_deletes_old_rows_and_reanchors_so_the_chain_still_verifies(clock):
    old = [datetime.date(2026, 1, 1) + datetime.timedelta(days=i) for i in range(3)]
    history(clock, *old, datetime.date(2026, 12, 1), datetime.date(2027, 6, 1))
    last_old = AuditEvent.objects.get(summary=old[-1].isoformat())
    call_command("audit", "prune", "--before", "2026-06-01", stdout=io.StringIO())
    assert list(AuditEvent.objects.order_by("id").values_list("summary", flat=True)) == [
        "2026-12-01",
        "2027-06-01",
        "3 events before 2026-06-01",
    ]
    head = ChainHead.objects.get()
    assert (head.anchor_id, head.anchor_hash) == (last_old.pk, last_old.hash)
    result = chain.verify()
    assert result.ok and result.checked == 3
    call_command("audit", "prune", "--before", "2026-06-01", stdout=io.StringIO())  # nothing more to prune
    assert chain.verify().ok


def test_pruning_everything_leaves_a_chain_that_verifies_and_grows(clock):
    history(clock, datetime.date(2025, 1, 1), datetime.date(2025, 1, 2))
    call_command("audit", "prune", "--before", "2026-01-01", stdout=io.StringIO())
    record(actor="test", action="grid.update")
    assert chain.verify().ok and AuditEvent.objects.count() == 2


def test_an_anchor_moved_without_a_prune_event_is_noticed(clock):
    history(clock, datetime.date(2025, 1, 1), datetime.date(2025, 1, 2), datetime.date(2025, 1, 3))
    first = AuditEvent.objects.order_by("id").first()
    AuditEvent.objects.filter(pk=first.pk)._raw_delete(AuditEvent.objects.db)
    ChainHead.objects.update(anchor_id=first.pk, anchor_hash=first.hash)
    result = chain.verify()
    assert (result.bad_id, result.problem) == (first.pk, "anchor")


def test_prune_refuses_a_broken_chain(clock):
    history(clock, datetime.date(2025, 1, 1), datetime.date(2025, 1, 2))
    AuditEvent.objects.filter(pk=AuditEvent.objects.order_by("id").first().pk)._raw_delete(AuditEvent.objects.db)
    with pytest.raises(CommandError, match="broken chain"):
        call_command("audit", "prune", "--before", "2026-01-01")
