"""Delivery attempts: idempotent, failures recorded and retried with backoff up to the limit, then given up;
never inside a transaction; the periodic sweep; the admin's "send again"."""

import datetime

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from fengqiao.audit.models import AuditEvent
from fengqiao.departments.tests.builders import make_user
from fengqiao.notifications import channels, delivery
from fengqiao.notifications.delivery import attempt_delivery, retry_due_deliveries
from fengqiao.notifications.models import Delivery, DeliveryStatus
from fengqiao.notifications.services import retry_deliveries
from fengqiao.notifications.tests.builders import notify_one
from fengqiao.notifications.tests.webhook_server import Receiver

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 10, 9, 9, 0, tzinfo=datetime.UTC)


class Scripted(channels.Channel):
    """A channel that fails or succeeds as the test says: `script` holds exceptions (raised) or None (sent)."""

    name = "scripted"
    script = []
    sent = []

    def send(self, delivery, notification):
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        self.sent.append((delivery.pk, delivery.attempts))


@pytest.fixture(autouse=True)
def scripted(settings):
    settings.FENGQIAO_NOTIFY_CHANNELS = [{"class": f"{__name__}.Scripted"}]
    settings.FENGQIAO_NOTIFY_MAX_ATTEMPTS = 3
    settings.FENGQIAO_NOTIFY_BACKOFF_SECONDS = 60
    Scripted.script, Scripted.sent = [], []
    return Scripted


def _delivery(**extra):
    notification = notify_one(make_user(extra.pop("username", "wang")), **extra)
    Delivery.objects.filter(notification=notification).update(next_attempt_at=T0, queued_until=T0)
    return notification.deliveries.get()


def _state(d):
    d.refresh_from_db()
    return d.status, d.attempts, d.next_attempt_at, d.last_error


def test_a_due_delivery_is_sent_once_and_never_again(scripted):
    d = _delivery()
    assert attempt_delivery(d.pk, now=T0) == DeliveryStatus.SENT
    assert attempt_delivery(d.pk, now=T0 + datetime.timedelta(days=1)) == delivery.SKIPPED
    assert delivery.deliver([d.pk, d.pk], now=T0) == {"skipped": 2}
    assert scripted.sent == [(d.pk, 1)]
    d.refresh_from_db()
    assert (d.status, d.attempts, d.sent_at is not None, d.next_attempt_at, d.queued_until) == (
        DeliveryStatus.SENT,
        1,
        True,
        None,
        None,
    )


def test_a_delivery_that_is_not_due_yet_is_left_alone(scripted):
    d = _delivery()
    assert attempt_delivery(d.pk, now=T0 - datetime.timedelta(seconds=1)) == delivery.SKIPPED
    assert scripted.sent == [] and _state(d)[:2] == (DeliveryStatus.PENDING, 0)


def test_failures_are_recorded_and_retried_with_doubling_waits_until_the_limit_then_given_up(scripted):
    scripted.script = [ConnectionError("receiver down")] * 3
    d = _delivery()
    assert attempt_delivery(d.pk, now=T0) == DeliveryStatus.FAILED
    assert _state(d) == (
        DeliveryStatus.FAILED,
        1,
        T0 + datetime.timedelta(seconds=60),
        "ConnectionError: receiver down",
    )
    assert attempt_delivery(d.pk, now=T0 + datetime.timedelta(seconds=59)) == delivery.SKIPPED  # not due yet
    t1 = T0 + datetime.timedelta(seconds=60)
    assert attempt_delivery(d.pk, now=t1) == DeliveryStatus.FAILED
    assert _state(d)[:3] == (DeliveryStatus.FAILED, 2, t1 + datetime.timedelta(seconds=120))
    t2 = t1 + datetime.timedelta(seconds=120)
    assert attempt_delivery(d.pk, now=t2) == DeliveryStatus.GAVE_UP
    assert _state(d) == (DeliveryStatus.GAVE_UP, 3, None, "ConnectionError: receiver down")
    assert attempt_delivery(d.pk, now=t2 + datetime.timedelta(days=1)) == delivery.SKIPPED
    assert scripted.sent == []


def test_a_retry_that_succeeds_clears_the_error(scripted):
    scripted.script = [channels.ChannelError("http://x answered HTTP 503")]
    d = _delivery()
    assert attempt_delivery(d.pk, now=T0) == DeliveryStatus.FAILED
    assert attempt_delivery(d.pk, now=T0 + datetime.timedelta(minutes=1)) == DeliveryStatus.SENT
    status, attempts, _next, error = _state(d)
    assert (status, attempts, error) == (DeliveryStatus.SENT, 2, "")


def test_a_permanent_error_gives_up_at_once(scripted):
    scripted.script = [channels.PermanentChannelError("http://x answered HTTP 401")]
    d = _delivery()
    assert attempt_delivery(d.pk, now=T0) == DeliveryStatus.GAVE_UP
    assert _state(d) == (DeliveryStatus.GAVE_UP, 1, None, "http://x answered HTTP 401")


def test_a_delivery_for_a_channel_no_longer_configured_is_given_up(settings):
    d = _delivery()
    settings.FENGQIAO_NOTIFY_CHANNELS = [{"class": "fengqiao.notifications.channels.LogChannel"}]
    assert attempt_delivery(d.pk, now=T0) == DeliveryStatus.GAVE_UP
    assert _state(d)[3] == "channel scripted is not configured"


def test_a_delivery_is_never_attempted_inside_a_transaction(scripted):
    d = _delivery()
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        attempt_delivery(d.pk, now=T0)
    assert scripted.sent == [] and _state(d)[:2] == (DeliveryStatus.PENDING, 0)


def test_a_claimed_delivery_is_not_taken_by_a_second_worker_until_its_lease_runs_out(scripted):
    d = _delivery()
    Delivery.objects.filter(pk=d.pk).update(attempts=1, next_attempt_at=T0 + delivery.LEASE)  # claimed at T0
    assert attempt_delivery(d.pk, now=T0 + datetime.timedelta(minutes=1)) == delivery.SKIPPED
    assert retry_due_deliveries(now=T0 + datetime.timedelta(minutes=1)) == 0
    # the first worker died: after the lease, the sweep and a new attempt take it up
    assert retry_due_deliveries(now=T0 + delivery.LEASE) == 1
    assert attempt_delivery(d.pk, now=T0 + delivery.LEASE) == DeliveryStatus.SENT
    assert scripted.sent == [(d.pk, 2)]


def test_the_sweep_enqueues_due_retries_and_lost_first_attempts_once_per_lease(
    scripted, django_capture_on_commit_callbacks
):
    scripted.script = [ConnectionError("down")]
    failed = _delivery(username="a")
    attempt_delivery(failed.pk, now=T0)  # retry due at T0 + 60 s
    lost = _delivery(username="b")  # enqueued at T0 (queued until T0), its task never ran
    fresh = _delivery(username="c")
    Delivery.objects.filter(pk=fresh.pk).update(queued_until=T0 + delivery.LEASE)  # its task is still queued
    sent = _delivery(username="d")
    attempt_delivery(sent.pk, now=T0)
    DBTaskResult.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        assert retry_due_deliveries(now=T0 + datetime.timedelta(seconds=30)) == 1  # only the lost one is due
        assert retry_due_deliveries(now=T0 + datetime.timedelta(seconds=61)) == 1  # now the retry
        assert retry_due_deliveries(now=T0 + datetime.timedelta(seconds=62)) == 0  # both queued: not again
    queued = [r.args_kwargs["args"][0] for r in DBTaskResult.objects.order_by("enqueued_at")]
    assert queued == [[lost.pk], [failed.pk]]
    assert retry_due_deliveries(now=T0 + delivery.LEASE + datetime.timedelta(seconds=61)) == 3  # leases over


def test_send_again_in_the_admin_gives_failed_and_given_up_deliveries_a_fresh_budget(
    scripted, django_capture_on_commit_callbacks
):
    scripted.script = [channels.PermanentChannelError("answered HTTP 401")]
    gave_up = _delivery(username="a")
    attempt_delivery(gave_up.pk, now=T0)
    sent = _delivery(username="b")
    attempt_delivery(sent.pk, now=T0)
    root = make_user("root", superuser=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert retry_deliveries(actor=root, deliveries=Delivery.objects.all()) == 1
    assert _state(gave_up)[:2] == (DeliveryStatus.PENDING, 0)
    assert _state(sent)[0] == DeliveryStatus.SENT
    assert AuditEvent.objects.get(action="notification.delivery.retry").data == {"deliveries": [gave_up.pk]}
    assert delivery.deliver([gave_up.pk, sent.pk]) == {"sent": 1, "skipped": 1}
    assert scripted.sent == [(sent.pk, 1), (gave_up.pk, 1)]  # the first before the retry


def test_webhook_deliveries_retry_through_a_receivers_outage(settings):
    with Receiver(statuses=[503, 200]) as receiver:
        settings.FENGQIAO_NOTIFY_CHANNELS = [
            {
                "class": "fengqiao.notifications.channels.WebhookChannel",
                "options": {"url": receiver.url, "secret": "x" * 20, "timeout": 2},
            }
        ]
        d = _delivery()
        assert attempt_delivery(d.pk, now=T0) == DeliveryStatus.FAILED
        assert _state(d)[3] == f"http://127.0.0.1:{receiver.server.server_address[1]} answered HTTP 503"
        assert attempt_delivery(d.pk, now=T0 + datetime.timedelta(minutes=1)) == DeliveryStatus.SENT
    assert [r.headers["X-Fengqiao-Delivery"] for r in receiver.received] == [str(d.pk)] * 2
    assert timezone.now() - Delivery.objects.get(pk=d.pk).sent_at < datetime.timedelta(minutes=1)
