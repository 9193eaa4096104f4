"""Writing audit events (ADR 0005, 0008). Every service that changes data calls `record` inside its transaction;
reads of sensitive data call `record_read`. Events are chained by hashes; `prune` is the only way rows leave."""

import datetime
import json

from django.db import models, transaction
from django.utils import timezone

from fengqiao.audit import chain
from fengqiao.audit.models import AuditEvent, ChainHead, EventType
from fengqiao.audit.redact import personal_fields, redact, redact_text
from fengqiao.core.context import current_client_address, current_request_id

RETENTION_DAYS = 183  # 网络安全法 Art. 21: network logs are kept at least six months

# The event type of an action, from its last dotted segment (``grid.retire`` -> END), when the caller gives none.
VERB_TYPES = {
    "create": EventType.CREATE,
    "add": EventType.CREATE,
    "log": EventType.CREATE,
    "station": EventType.CREATE,
    "update": EventType.UPDATE,
    "move": EventType.UPDATE,
    "replace": EventType.UPDATE,
    "catalogue": EventType.UPDATE,
    "end": EventType.END,
    "retire": EventType.END,
    "deactivate": EventType.END,
    "delete": EventType.DELETE,
    "import": EventType.IMPORT,
    "build": EventType.IMPORT,
    "grant": EventType.PERMISSION,
    "assign": EventType.PERMISSION,
    "revoke": EventType.PERMISSION,
    "export": EventType.EXPORT,
    "read": EventType.READ,
    "unmask": EventType.UNMASK,
    "login": EventType.LOGIN,
    "login_failed": EventType.LOGIN_FAILED,
    "logout": EventType.LOGOUT,
    "totp_verified": EventType.LOGIN,
    "recovery_code_used": EventType.LOGIN,
    "totp_failed": EventType.LOGIN_FAILED,
    "login_locked": EventType.SECURITY,
    "login_unlocked": EventType.SECURITY,
    "totp_enrolled": EventType.SECURITY,
    "totp_reset": EventType.SECURITY,
    "recovery_codes_generated": EventType.SECURITY,
    "prune": EventType.AUDIT,
    "submit": EventType.CREATE,
}


# Fallbacks by the action's first segment, for verbs VERB_TYPES does not know.
NAMESPACE_TYPES = {
    "security": EventType.SECURITY,
    "accounts": EventType.PERMISSION,
    "audit": EventType.AUDIT,
    # the closed loop: every step of a workflow changes the matter (ADR 0013)
    "matter": EventType.UPDATE,
    "task": EventType.UPDATE,
    "supervision": EventType.UPDATE,
    "notification": EventType.UPDATE,
}


class AuditError(Exception):
    pass


def now():
    """The audit clock. Tests travel in time by replacing it (monkeypatch), never by sleeping."""
    return timezone.now()


def actor_label(actor):
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return actor.get_username()


def event_type_of(action, event_type=None):
    """The stable event type: the one given (validated), else inferred from the action's verb (last segment) or
    its namespace (first segment), else OTHER."""
    if event_type is not None:
        return EventType(event_type)
    verb = action.rsplit(".", 1)[-1]
    if verb.startswith("import_"):
        return EventType.IMPORT
    return VERB_TYPES.get(verb) or NAMESPACE_TYPES.get(action.split(".", 1)[0], EventType.OTHER)


def _area_code(area, obj):
    if area is not None:
        return str(getattr(area, "code", area))
    if obj is None:
        return ""
    if obj._meta.label_lower == "areas.area":
        return obj.code
    cached = obj._state.fields_cache.get("area")  # only when already loaded: no query here
    return getattr(cached, "code", "") or ""


def _plain(value):
    """What the JSON column will give back (tuples become lists, keys strings), so the hash covers stored data."""
    return None if value is None else json.loads(json.dumps(value, ensure_ascii=False, allow_nan=False))


def _redact_reason(data):
    """Free text a person typed (a reason, a note) may hold a phone or ID number: mask those (audit.redact)."""
    for key in ("reason", "note", "comment"):
        if isinstance(data.get(key), str):
            data[key] = redact_text(data[key])
    return data


def record(
    *,
    actor,
    action,
    obj=None,
    object_type="",
    object_id="",
    summary="",
    data=None,
    event_type=None,
    area=None,
    before=None,
    after=None,
    personal=(),
):
    """Append one audit event. `actor` is a User, a process name (str) or None for the system.

    `event_type` is an EventType (inferred from the action's verb when omitted); `area` an Area or division code
    (taken from `obj` when it is an area or has its area loaded); `before`/`after` the old and new values. Values of
    personal keys in `data`, `before` and `after` are masked (`audit.redact`; `personal` names more keys).
    Costs two queries besides the insert: lock the chain head, move it."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    secret = set(personal) | personal_fields(type(obj) if obj is not None else None)
    event = AuditEvent(
        occurred_at=now(),
        actor=actor if actor is not None and not isinstance(actor, str) else None,
        actor_label=actor_label(actor)[:150],
        action=action,
        event_type=event_type_of(action, event_type).value,
        area=_area_code(area, obj),
        object_type=object_type,
        object_id=str(object_id),
        summary=redact_text(summary)[:255],
        data=_plain(_redact_reason(redact(data or {}, secret))),
        before=_plain(redact(before, secret)),
        after=_plain(redact(after, secret)),
        request_id=current_request_id(),
        client_address=current_client_address(),
    )
    with transaction.atomic(savepoint=False):
        chain_head = chain.head(lock=True)
        event.prev_hash = chain_head.last_hash
        event.hash = chain.row_hash(event.prev_hash, {f: getattr(event, f) for f in chain.HASHED_FIELDS})
        event.save(force_insert=True)
        ChainHead.objects.filter(pk=1).update(last_id=event.pk, last_hash=event.hash)
    return event


def record_read(*, actor, obj, reason="", fields=(), area=None):
    """Log that `actor` read sensitive data of `obj` (e.g. a person's record, an unmasked phone number)."""
    return record(
        actor=actor,
        action=f"{obj._meta.label_lower}.read",
        obj=obj,
        area=area,
        summary=reason,
        data={"reason": reason, "fields": list(fields)},
        event_type=EventType.READ,
    )


def start_of_day(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def oldest_prunable_day(today=None):
    """`prune --before` accepts this day or an earlier one: everything younger than RETENTION_DAYS stays."""
    return (today or timezone.localdate(now())) - datetime.timedelta(days=RETENTION_DAYS)


@transaction.atomic
def prune(*, actor, before):
    """Delete events that occurred before the start of day `before` (at least RETENTION_DAYS ago), after verifying
    the chain; the hash of the last deleted row becomes the chain's anchor, so the rest still verifies. The prune
    itself is recorded (with the anchor, which `verify` checks). Returns (deleted rows, Verification)."""
    if before > oldest_prunable_day():
        raise AuditError(
            f"refusing to prune events younger than {RETENTION_DAYS} days: --before must be "
            f"{oldest_prunable_day().isoformat()} or earlier"
        )
    chain_head = chain.head(lock=True)
    verification = chain.verify()
    if not verification.ok:
        v = verification
        raise AuditError(f"refusing to prune a broken chain: row {v.bad_id} {v.problem} ({v.detail})")
    boundary = start_of_day(before)
    first_young = (
        AuditEvent.objects.filter(occurred_at__gte=boundary).order_by("id").values_list("id", flat=True).first()
    )
    doomed = AuditEvent.objects.filter(id__lt=first_young) if first_young else AuditEvent.objects.all()
    anchor = doomed.order_by("-id").values_list("id", "hash").first()
    if anchor is None:
        return 0, verification
    deleted, _ = models.QuerySet.delete(doomed)  # the one sanctioned bypass of the append-only queryset
    ChainHead.objects.filter(pk=chain_head.pk).update(anchor_id=anchor[0], anchor_hash=anchor[1])
    record(
        actor=actor,
        action="audit.prune",
        summary=f"{deleted} events before {before.isoformat()}",
        data={"before": before.isoformat(), "deleted": deleted, "anchor_id": anchor[0], "anchor_hash": anchor[1]},
    )
    return deleted, verification


EXPORT_FIELDS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_label",
    "action",
    "event_type",
    "area",
    "object_type",
    "object_id",
    "summary",
    "data",
    "before",
    "after",
    "request_id",
    "client_address",
    "prev_hash",
    "hash",
)


def export_rows(*, start, end):
    """Events from the start of day `start` to the end of day `end` (local time), oldest first, as plain dicts
    whose values are exactly what the hash covers (timestamps in UTC), so auditors can recompute the chain."""
    rows = (
        AuditEvent.objects.filter(
            occurred_at__gte=start_of_day(start), occurred_at__lt=start_of_day(end + datetime.timedelta(days=1))
        )
        .order_by("id")
        .values_list(*EXPORT_FIELDS)
    )
    for values in rows.iterator(chunk_size=5000):
        row = dict(zip(EXPORT_FIELDS, values, strict=True))
        row["occurred_at"] = chain.canonical_timestamp(row["occurred_at"])
        yield row
