"""Sending deliveries through the outbound channels (ADR 0012): claim, send outside any transaction, record.

* `attempt_delivery(id)` claims a due delivery in a short durable transaction (row lock, skip locked; one more
  attempt; ``next_attempt_at`` moved a lease ahead so no other worker takes it meanwhile), sends it with no
  transaction open (a durable block refuses to run inside the caller's transaction), and records the outcome:
  sent; failed with the error and a retry time (exponential backoff); or given up after the last attempt or
  a permanent error. A delivery that is sent or given up is never attempted again: the task is idempotent.
* `deliver(ids)` is the body of the task ``fengqiao.notifications.tasks.deliver_notifications``.
* `retry_due_deliveries()` is the sweep a worker calls periodically: it enqueues the task for deliveries whose
  retry is due, and for deliveries whose task was lost (enqueued but not run within the lease).

Settings (read when used): ``FENGQIAO_NOTIFY_MAX_ATTEMPTS`` (default 8), ``FENGQIAO_NOTIFY_BACKOFF_SECONDS``
(first retry delay, doubled after each failure; default 60), ``FENGQIAO_NOTIFY_BACKOFF_MAX_SECONDS`` (3600).
"""

import datetime
import functools
import logging
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fengqiao.notifications import channels as outbound
from fengqiao.notifications.models import Delivery, DeliveryStatus, Notification

logger = logging.getLogger("fengqiao.notifications")

OPEN = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
# How long a claimed or enqueued delivery is left alone before the sweep assumes its worker or task was lost.
LEASE = datetime.timedelta(minutes=10)
# Deliveries per task: one slow receiver delays at most this many others.
CHUNK = 100
SKIPPED = "skipped"


def max_attempts() -> int:
    return int(getattr(settings, "FENGQIAO_NOTIFY_MAX_ATTEMPTS", 8))


def backoff(attempts: int) -> datetime.timedelta:
    """The wait after the `attempts`-th failed attempt: base, 2 × base, 4 × base, … up to the maximum."""
    base = float(getattr(settings, "FENGQIAO_NOTIFY_BACKOFF_SECONDS", 60))
    ceiling = float(getattr(settings, "FENGQIAO_NOTIFY_BACKOFF_MAX_SECONDS", 3600))
    return datetime.timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), ceiling))


def enqueue(delivery_ids) -> None:
    """Enqueue the delivery task for `delivery_ids`, in chunks of CHUNK."""
    from fengqiao.notifications.tasks import deliver_notifications

    ids = sorted(set(delivery_ids))
    for start in range(0, len(ids), CHUNK):
        deliver_notifications.enqueue(ids[start : start + CHUNK])


def enqueue_on_commit(delivery_ids) -> None:
    """Enqueue when the current transaction commits (at once outside one); nothing when it rolls back. A
    failing enqueue is logged, not raised (the data is committed by then): the sweep picks the rows up after
    the lease."""
    if delivery_ids:
        transaction.on_commit(functools.partial(enqueue, list(delivery_ids)), robust=True)


def _error_text(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, outbound.ChannelError) else f"{type(exc).__name__}: {exc}"
    return text[:500]


def _close(delivery, status, *, error="", sent_at=None):
    """Record the outcome of the attempt `delivery` holds; stale outcomes (another attempt has started since,
    after our lease ran out) are dropped, except a success, which is always kept."""
    rows = Delivery.objects.filter(pk=delivery.pk, status__in=OPEN)
    if status != DeliveryStatus.SENT:
        rows = rows.filter(attempts=delivery.attempts)
    changes = {"status": status, "queued_until": None}
    if status == DeliveryStatus.SENT:
        changes |= {"sent_at": sent_at, "next_attempt_at": None, "last_error": ""}
    elif status == DeliveryStatus.FAILED:
        changes |= {"last_error": error, "next_attempt_at": delivery.next_attempt_at}
    else:
        changes |= {"last_error": error, "next_attempt_at": None}
    rows.update(**changes)
    return status


def _claim(delivery_id, channels, now):
    """(delivery, channel) for a due delivery now claimed for one attempt, or (None, outcome) when there is
    nothing to send."""
    with transaction.atomic(durable=True):  # never inside someone else's transaction: we send right after
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, status__in=OPEN, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None, SKIPPED  # sent, given up, not due, being attempted elsewhere, or gone
        channel = channels.get(delivery.channel)
        if channel is None:
            error = f"channel {delivery.channel} is not configured"
            return None, _close(delivery, DeliveryStatus.GAVE_UP, error=error)
        if delivery.attempts >= max_attempts():
            error = delivery.last_error or "no outcome was recorded for the last attempt"
            return None, _close(delivery, DeliveryStatus.GAVE_UP, error=error)
        delivery.attempts += 1
        delivery.next_attempt_at = now + LEASE
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return delivery, channel


def attempt_delivery(delivery_id: int, *, channels=None, now=None) -> str:
    """Make one attempt at delivery `delivery_id` if it is due; returns the resulting status, or "skipped".
    `channels` maps names to configured channels (default: the settings); `now` is the clock (tests)."""
    now = now or timezone.now()
    if channels is None:
        channels = {channel.name: channel for channel in outbound.configured()}
    delivery, channel = _claim(delivery_id, channels, now)
    if delivery is None:
        return channel
    notification = Notification.objects.select_related("area").get(pk=delivery.notification_id)
    try:
        channel.send(delivery, notification)
    except outbound.PermanentChannelError as exc:
        logger.warning("delivery %s via %s given up: %s", delivery.pk, delivery.channel, _error_text(exc))
        return _close(delivery, DeliveryStatus.GAVE_UP, error=_error_text(exc))
    except Exception as exc:  # any failure of an adapter is retried, then given up
        error = _error_text(exc)
        if delivery.attempts >= max_attempts():
            logger.warning(
                "delivery %s via %s given up after %s attempts: %s", delivery.pk, channel.name, delivery.attempts, error
            )
            return _close(delivery, DeliveryStatus.GAVE_UP, error=error)
        logger.info("delivery %s via %s failed (attempt %s): %s", delivery.pk, channel.name, delivery.attempts, error)
        delivery.next_attempt_at = now + backoff(delivery.attempts)
        return _close(delivery, DeliveryStatus.FAILED, error=error)
    return _close(delivery, DeliveryStatus.SENT, sent_at=timezone.now())


def deliver(delivery_ids, *, now=None) -> dict[str, int]:
    """Attempt each due delivery of `delivery_ids`; returns the count of each outcome."""
    channels = {channel.name: channel for channel in outbound.configured()}
    outcomes = Counter(attempt_delivery(pk, channels=channels, now=now) for pk in delivery_ids)
    return {str(outcome): count for outcome, count in sorted(outcomes.items())}


def retry_due_deliveries(now=None, *, limit=1000) -> int:
    """The periodic sweep: enqueue the delivery task for up to `limit` deliveries that are due (a retry after
    a failure, or a first attempt whose task was lost) and not already queued. Safe to run in several workers
    at once (row locks, skip locked) and as often as wanted. Returns how many deliveries were enqueued."""
    now = now or timezone.now()
    with transaction.atomic():
        due = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status__in=OPEN, next_attempt_at__lte=now)
            .filter(Q(queued_until__isnull=True) | Q(queued_until__lte=now))
            .order_by("next_attempt_at", "pk")
        )
        ids = list(due.values_list("pk", flat=True)[:limit])
        if ids:
            Delivery.objects.filter(pk__in=ids).update(queued_until=now + LEASE)
            enqueue_on_commit(ids)
    return len(ids)
