"""Free text that the people services put into audit events (reasons, notes, summaries) is masked."""

import pytest

from fengqiao.areas.tests.factories import make_chain
from fengqiao.audit.models import AuditEvent, EventType
from fengqiao.people import services
from fengqiao.people.tests.builders import ID_NUMBER, make_person

pytestmark = pytest.mark.django_db


def test_the_unmask_reason_is_stored_masked():
    person = make_person(make_chain()["village"])
    reason = f"居民来电13812345678，核对身份证{ID_NUMBER}"
    assert services.unmask_person(person, actor="test", reason=reason)["id_number"] == ID_NUMBER
    event = AuditEvent.objects.get(action="people.person.unmask")
    stored = event.summary + str(event.data)
    assert event.event_type == EventType.UNMASK
    assert "13812345678" not in stored and ID_NUMBER not in stored
    assert event.summary == "居民来电138****5678，核对身份证110105********002X"
    assert event.data["reason"] == event.summary


def test_every_people_audit_event_summary_is_redacted(monkeypatch):
    """The people services write through one helper; a summary holding a number is masked whatever it says."""
    seen = []
    original = services.audit.record

    def spy(**kwargs):
        seen.append(kwargs["summary"])
        return original(**kwargs)

    monkeypatch.setattr(services.audit, "record", spy)
    services._record(actor="test", action="people.person.update", summary="改号 13912345678", data={"note": "x"})
    assert seen == ["改号 139****5678"]
