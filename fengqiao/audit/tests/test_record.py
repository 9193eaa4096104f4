"""What an event holds: the stable event type, the area, masked old/new values, reads, request context."""

import re
from pathlib import Path

import pytest

from fengqiao.areas.models import Area
from fengqiao.audit import chain
from fengqiao.audit.models import EventType
from fengqiao.audit.services import event_type_of, record, record_read
from fengqiao.centres.models import Reception
from fengqiao.core.context import reset_client_address, set_client_address

pytestmark = pytest.mark.django_db

PACKAGE = Path(chain.__file__).resolve().parent.parent


def test_event_types_are_inferred_from_the_verb_or_given_and_validated():
    assert event_type_of("grid.update") == EventType.UPDATE
    assert event_type_of("areas.import_divisions") == EventType.IMPORT
    assert event_type_of("grid.retire") == EventType.END
    assert event_type_of("security.rotate_keys") == EventType.SECURITY
    assert event_type_of("something.odd") == EventType.OTHER
    assert record(actor=None, action="x.y", event_type=EventType.UNMASK).event_type == "unmask"
    with pytest.raises(ValueError):
        record(actor=None, action="x.y", event_type="tea")


def test_every_action_named_in_the_code_has_an_event_type():
    """Callers may omit event_type, so every dotted action literal must map to a type other than OTHER: add its verb
    to services.VERB_TYPES or pass event_type= explicitly."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if "action=" in line and "event_type=" not in line:
                found.update(re.findall(r'(?<!f)"([a-z_]+(?:\.[a-z_]+)+)"', line.split("action=", 1)[1]))
    assert found, "the scan found no actions"
    assert sorted(a for a in found if event_type_of(a) == EventType.OTHER) == []


def test_the_area_is_taken_from_an_area_or_given_as_code():
    area = Area(pk=7, code="440305", name="南山区", level=3, path="440000/440300/440305")
    assert record(actor=None, action="area.update", obj=area).area == "440305"
    assert record(actor=None, action="grid.update", area="440305001").area == "440305001"
    assert record(actor=None, action="grid.update", area=area).area == "440305"


def test_personal_values_in_old_and_new_values_and_data_are_masked():
    event = record(
        actor=None,
        action="person.update",
        before={"phone": "13812345678", "id_number": "440305199001011234", "visitor_name": "张三", "grid": "A1"},
        after={"phone": "13912345678", "remark": "same"},
        data={"changed": {"phone": ["13812345678", "13912345678"], "duty_phone": "0755-12345678"}},
    )
    event.refresh_from_db()
    assert event.before == {
        "phone": "138****5678",
        "id_number": "440305********1234",
        "visitor_name": "张*",
        "grid": "A1",
    }
    assert event.after == {"phone": "139****5678", "remark": "same"}
    assert event.data["changed"] == {"phone": ["138****5678", "139****5678"], "duty_phone": "0755-12345678"}
    assert chain.verify().ok


def test_encrypted_fields_of_the_object_and_keys_named_by_the_caller_are_personal():
    reception = Reception(pk=1, visitor_name="欧阳娜娜", visitor_phone="13812345678")
    event = record(
        actor=None,
        action="centre.reception.update",
        obj=reception,
        before={"visitor_phone": "13812345678", "purpose": "咨询"},
        after={"visitor_name": "欧阳娜娜", "secret_note": "ab12345"},
        personal=["secret_note"],
    )
    assert event.before == {"visitor_phone": "138****5678", "purpose": "咨询"}
    assert event.after == {"visitor_name": "欧***", "secret_note": "a*****5"}


def test_sensitive_reads_are_recorded_with_the_reason():
    reception = Reception(pk=3)
    event = record_read(actor="li", obj=reception, reason="回访", fields=["visitor_phone"])
    assert (event.action, event.event_type, event.object_id) == ("centres.reception.read", "read", "3")
    assert event.data == {"reason": "回访", "fields": ["visitor_phone"]}


def test_the_client_address_of_the_request_is_recorded():
    token = set_client_address("203.0.113.9")
    try:
        event = record(actor=None, action="grid.update")
    finally:
        reset_client_address(token)
    assert event.client_address == "203.0.113.9"
    assert record(actor=None, action="grid.update").client_address == ""
    assert chain.verify().ok
