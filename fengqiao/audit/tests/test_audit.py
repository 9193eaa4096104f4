import pytest

from fengqiao.accounts.models import User
from fengqiao.audit.models import AuditEvent
from fengqiao.audit.services import record
from fengqiao.core.context import reset_request_id, set_request_id


@pytest.mark.django_db
def test_events_record_actor_object_and_request_id():
    user = User.objects.create_user("li", password="x" * 12)
    token = set_request_id("req-1")
    try:
        event = record(actor=user, action="areas.test", obj=user, summary="did it", data={"n": 1})
    finally:
        reset_request_id(token)
    assert (event.actor, event.actor_label, event.request_id) == (user, "li", "req-1")
    assert (event.object_type, event.object_id) == ("accounts.user", str(user.pk))
    system = record(actor="import-divisions", action="areas.import")
    assert system.actor is None and system.actor_label == "import-divisions"


@pytest.mark.django_db
def test_events_are_append_only():
    event = record(actor=None, action="x")
    event.summary = "changed"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    assert AuditEvent.objects.get().summary == ""


@pytest.mark.django_db
def test_bulk_updates_and_deletes_are_refused_too():
    record(actor=None, action="x")
    with pytest.raises(ValueError, match="append-only"):
        AuditEvent.objects.update(summary="changed")
    with pytest.raises(ValueError, match="append-only"):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(summary="").count() == 1
