"""The hash chain: clean chains verify; rows edited, deleted or inserted behind the application's back are named."""

import io
import itertools

import pytest
from django.core.management import call_command
from django.db import connection

from fengqiao.audit import chain
from fengqiao.audit.models import AuditEvent, ChainHead
from fengqiao.audit.services import record

pytestmark = pytest.mark.django_db


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def events(n):
    return [record(actor="test", action="thing.update", summary=f"event {i}", data={"i": i}).pk for i in range(n)]


def forged_row(prev_hash, summary="forged"):
    """An event built as record() would build it, for inserting by raw SQL."""
    event = AuditEvent(actor_label="intruder", action="thing.update", event_type="update", summary=summary)
    event.prev_hash = prev_hash
    event.data = {}
    event.hash = chain.row_hash(prev_hash, {f: getattr(event, f) for f in chain.HASHED_FIELDS})
    return event


def insert_raw(event, pk):
    event_hashes = (event.prev_hash, event.hash)
    raw(
        "INSERT INTO audit_auditevent (id, occurred_at, actor_label, action, event_type, area, object_type, object_id,"
        " summary, data, request_id, client_address, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, '', '', '', %s, %s,"
        " '', '', %s, %s)",
        [pk, event.occurred_at, event.actor_label, event.action, event.event_type, event.summary, "{}", *event_hashes],
    )
    if connection.vendor == "postgresql":  # an explicit id does not advance the sequence there
        raw("SELECT setval(pg_get_serial_sequence('audit_auditevent', 'id'), (SELECT MAX(id) FROM audit_auditevent))")


def test_a_clean_chain_verifies_and_links_each_row_to_the_one_before():
    ids = events(5)
    rows = list(AuditEvent.objects.order_by("id"))
    assert rows[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    head = ChainHead.objects.get()
    assert (head.last_id, head.last_hash) == (ids[-1], rows[-1].hash)
    result = chain.verify()
    assert result.ok and result.checked == 5


def test_an_empty_chain_verifies():
    assert chain.verify().ok


def test_a_row_edited_by_raw_sql_is_named():
    ids = events(5)
    raw("UPDATE audit_auditevent SET summary = 'nothing happened' WHERE id = %s", [ids[2]])
    result = chain.verify()
    assert (result.bad_id, result.problem, result.checked) == (ids[2], "edited", 2)


def test_the_newest_row_edited_with_a_recomputed_hash_is_named_by_the_head():
    ids = events(3)
    forged = forged_row(AuditEvent.objects.get(pk=ids[1]).hash)
    raw("UPDATE audit_auditevent SET summary = %s, hash = %s, actor_label = %s, occurred_at = %s WHERE id = %s",
        [forged.summary, forged.hash, forged.actor_label, forged.occurred_at, ids[2]])  # fmt: skip
    result = chain.verify()
    assert (result.bad_id, result.problem) == (ids[2], "edited")


def test_a_row_deleted_by_raw_sql_breaks_the_link_of_the_next_row():
    ids = events(5)
    raw("DELETE FROM audit_auditevent WHERE id = %s", [ids[2]])
    result = chain.verify()
    assert (result.bad_id, result.problem) == (ids[3], "deleted-before")


def test_deleting_the_newest_rows_is_noticed_through_the_chain_head():
    ids = events(4)
    raw("DELETE FROM audit_auditevent WHERE id >= %s", [ids[2]])
    result = chain.verify()
    assert (result.bad_id, result.problem) == (ids[3], "deleted")


def test_a_row_inserted_by_raw_sql_between_others_is_named():
    ids = events(3)
    insert_raw(forged_row("f" * 64), ids[-1] + 1)
    later = events(2)
    result = chain.verify()
    assert (result.bad_id, result.problem) == (ids[-1] + 1, "inserted")
    assert later[0] > ids[-1] + 1


def test_a_forged_row_with_a_correct_link_and_hash_is_still_named():
    ids = events(3)
    insert_raw(forged_row(AuditEvent.objects.get(pk=ids[-1]).hash), ids[-1] + 1)
    events(2)  # the next real row links to ids[-1] (the chain head), skipping the forged one
    result = chain.verify()
    assert (result.bad_id, result.problem) == (ids[-1] + 1, "inserted")


def test_a_row_appended_by_raw_sql_is_newer_than_the_chain_head():
    ids = events(3)
    insert_raw(forged_row(AuditEvent.objects.get(pk=ids[-1]).hash), ids[-1] + 1)
    result = chain.verify()
    assert (result.bad_id, result.problem, result.checked) == (ids[-1] + 1, "inserted", 3)


def test_verify_command_reports_rows_and_time_and_exits_1_naming_the_first_bad_row():
    ids = events(3)
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert "checked 3 rows in" in out.getvalue() and "intact" in out.getvalue()
    raw("UPDATE audit_auditevent SET data = %s WHERE id = %s", ['{"i": 99}', ids[1]])
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "verify", stdout=out, stderr=err)
    assert exit_info.value.code == 1
    assert "checked 1 rows" in out.getvalue()
    assert f"broken at row {ids[1]}: edited" in err.getvalue()


def test_every_column_is_hashed_or_is_the_chain_itself():
    columns = {f.attname for f in AuditEvent._meta.concrete_fields}
    assert columns == set(chain.HASHED_FIELDS) | set(chain.UNHASHED_FIELDS)


def test_record_costs_two_queries_besides_the_insert(django_assert_num_queries):
    events(1)
    with django_assert_num_queries(3):
        record(actor="test", action="thing.update")
