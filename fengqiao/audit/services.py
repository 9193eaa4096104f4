"""Writing audit events. Every service that changes data calls `record` inside its transaction."""

from fengqiao.audit.models import AuditEvent
from fengqiao.core.context import current_request_id


def actor_label(actor):
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return actor.get_username()


def record(*, actor, action, obj=None, object_type="", object_id="", summary="", data=None):
    """Append one audit event. `actor` is a User, a process name (str) or None for the system."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    return AuditEvent.objects.create(
        actor=actor if actor is not None and not isinstance(actor, str) else None,
        actor_label=actor_label(actor),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=summary[:255],
        data=data or {},
        request_id=current_request_id(),
    )
