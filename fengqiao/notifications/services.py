"""Writes to the inbox (ADR 0012).

`notify` is what other apps call: it writes inbox rows and pending deliveries inside the caller's transaction
and enqueues the delivery task on commit, so nothing leaves the system for a change that is rolled back, and
nothing is sent inside a transaction. Titles and bodies carry no personal data: text that looks like a phone
or ID number is refused.
"""

import re
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.areas.models import Area
from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
from fengqiao.notifications import channels as outbound
from fengqiao.notifications import delivery
from fengqiao.notifications.models import Delivery, DeliveryStatus, Notification

_SEP = r"[ -]?"
PHONE_RE = re.compile(rf"(?<!\d)1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}(?!\d)")
ID_NUMBER_RE = re.compile(r"(?<!\d)[1-9]\d{5}(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)")


def check_text(field: str, text: str) -> None:
    """Refuse text that looks like it holds a mobile phone number or a citizen ID number. (Names cannot be
    recognised reliably: callers name a matter by its tracking code or category, never by a person.)"""
    if PHONE_RE.search(text):
        raise ValidationError(
            {field: [_("Notifications carry no personal data: this text looks like it holds a phone number.")]}
        )
    if ID_NUMBER_RE.search(text):
        raise ValidationError(
            {field: [_("Notifications carry no personal data: this text looks like it holds an ID number.")]}
        )


def _target(target) -> tuple[str, str]:
    if target is None:
        return "", ""
    if isinstance(target, models.Model) and target.pk is not None:
        return target._meta.label_lower, str(target.pk)
    if isinstance(target, tuple) and len(target) == 2 and target[0] and str(target[1]):
        return str(target[0]), str(target[1])
    raise ValidationError({"target": [_("A target is a saved object or a (type, id) pair.")]})


def _recipients(recipients) -> list:
    """The distinct active users among `recipients`, in the order given."""
    user_model = get_user_model()
    if isinstance(recipients, user_model) or not isinstance(recipients, Iterable):
        recipients = [recipients]
    users, seen = [], set()
    for user in recipients:
        if not isinstance(user, user_model) or user.pk is None:
            raise ValidationError({"recipients": [_("Recipients are saved users.")]})
        if user.pk not in seen and user.is_active:
            seen.add(user.pk)
            users.append(user)
    return users


def _prototype(*, kind, title, body, target, area) -> Notification:
    """One unsaved notification holding the checked fields every recipient's row shares."""
    if area is not None and not isinstance(area, Area):
        raise ValidationError({"area": [_("The area must be an area.")]})
    target_type, target_id = _target(target)
    prototype = Notification(
        kind=(kind or "").strip(),
        title=(title or "").strip(),
        body=(body or "").strip(),
        target_type=target_type,
        target_id=target_id,
        area=area,
        created_at=timezone.now(),
    )
    try:
        prototype.full_clean(exclude=["recipient", "area"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None
    check_text("title", prototype.title)
    check_text("body", prototype.body)
    return prototype


@transaction.atomic
def notify(recipients, *, kind, title, body, target=None, area=None, actor=None) -> list[Notification]:
    """Put a notification in the inbox of each of `recipients` (users; duplicates and inactive users are
    skipped) and schedule its outbound deliveries: one per configured channel that accepts the kind.

    ``kind`` is a stable dotted code (``matter.dispatched``); ``title`` and ``body`` carry no personal data;
    ``target`` is the object it is about (a model instance or a ``(type, id)`` pair); ``area`` gives context.
    Runs in the caller's transaction: the delivery task is enqueued only when it commits. Records one audit
    event (``notification.create``). Returns the new notifications (none when no recipient is left).
    """
    prototype = _prototype(kind=kind, title=title, body=body, target=target, area=area)
    users = _recipients(recipients)
    if not users:
        return []
    shared = {f.attname: getattr(prototype, f.attname) for f in Notification._meta.concrete_fields if not f.primary_key}
    rows = Notification.objects.bulk_create([Notification(**(shared | {"recipient_id": user.pk})) for user in users])
    channels = outbound.configured()
    queued_until = prototype.created_at + delivery.LEASE
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                notification=row,
                channel=channel.name,
                next_attempt_at=prototype.created_at,
                queued_until=queued_until,
                created_at=prototype.created_at,
            )
            for row in rows
            for channel in channels
            if channel.accepts(row)
        ]
    )
    audit.record(
        actor=actor,
        action="notification.create",
        object_type="notifications.notification",
        object_id=str(rows[0].pk),
        event_type=EventType.CREATE,
        area=area,
        summary=f"{prototype.kind} to {len(rows)}",
        data={
            "kind": prototype.kind,
            "target": f"{prototype.target_type}:{prototype.target_id}" if prototype.target_type else "",
            "notifications": [row.pk for row in rows],
            "recipients": [user.pk for user in users],
            "deliveries": len(deliveries),
        },
    )
    delivery.enqueue_on_commit([d.pk for d in deliveries])
    return rows


def mark_read(*, actor, notification: Notification) -> Notification:
    """Mark one of the actor's own notifications read (idempotent: the first reading time stays).

    Not audited: the inbox is the recipient's own state and ``read_at`` is its record (ADR 0012)."""
    if notification.recipient_id != getattr(actor, "pk", None):
        raise PermissionDenied(_("Only the recipient can mark a notification read."))
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
    notification.refresh_from_db(fields=["read_at"])
    return notification


def mark_all_read(*, actor, up_to: int | None = None) -> int:
    """Mark the actor's unread notifications read — those with an id up to `up_to` when given, so a
    notification that arrived after the user looked stays unread. Returns how many were marked."""
    unread = Notification.objects.filter(recipient_id=actor.pk, read_at__isnull=True)
    if up_to is not None:
        unread = unread.filter(pk__lte=up_to)
    return unread.update(read_at=timezone.now())


@transaction.atomic
def retry_deliveries(*, actor, deliveries) -> int:
    """Send failed or given-up deliveries again with a fresh attempt budget (admin action, e.g. after a
    receiver's outage or a corrected secret). Sent deliveries are never sent again. Returns how many."""
    now = timezone.now()
    ids = list(
        Delivery.objects.select_for_update()
        .filter(pk__in=[d.pk for d in deliveries], status__in=[DeliveryStatus.FAILED, DeliveryStatus.GAVE_UP])
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    Delivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, queued_until=now + delivery.LEASE
    )
    audit.record(
        actor=actor,
        action="notification.delivery.retry",
        object_type="notifications.delivery",
        object_id=str(ids[0]),
        event_type=EventType.UPDATE,
        summary=f"{len(ids)} deliveries",
        data={"deliveries": ids},
    )
    delivery.enqueue_on_commit(ids)
    return len(ids)
