"""End to end through the real django-tasks-db backend: a committed `notify` enqueues the delivery task, the
`db_worker` command runs it and the webhook receiver gets the signed message; a rolled-back one leaves
nothing for the worker. Real commits, so these tests use `transactional_db`."""

import hashlib
import hmac
import io
import signal

import pytest
from django.core.management import call_command
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from fengqiao.departments.tests.builders import make_user
from fengqiao.notifications.models import Delivery, DeliveryStatus, Notification
from fengqiao.notifications.services import notify
from fengqiao.notifications.tests.webhook_server import Receiver

SECRET = "worker-test-secret-0123456789"


@pytest.fixture
def run_worker():
    """Run `db_worker --batch` (all queued tasks, then exit), restoring the signal handlers it installs."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}

    def run():
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval=0", stdout=io.StringIO())

    yield run
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps the migrations' data
def test_a_committed_notification_is_delivered_by_the_db_worker(settings, run_worker):
    wang = make_user("wang")
    with Receiver(statuses=[200]) as receiver:
        settings.FENGQIAO_NOTIFY_CHANNELS = [
            {"class": "fengqiao.notifications.channels.LogChannel"},
            {
                "class": "fengqiao.notifications.channels.WebhookChannel",
                "options": {"url": receiver.url, "secret": SECRET, "timeout": 2},
            },
        ]
        with transaction.atomic():
            notification = notify([wang], kind="matter.dispatched", title="新的事项待处理", body="", actor="test")[0]
            assert DBTaskResult.objects.count() == 0
        task = DBTaskResult.objects.get()
        assert task.task_path == "fengqiao.notifications.tasks.deliver_notifications"
        run_worker()
        run_worker()  # a second run finds nothing to do
    task.refresh_from_db()
    assert task.status == "SUCCESSFUL" and task.return_value == {"sent": 2}
    assert set(Delivery.objects.filter(notification=notification).values_list("channel", "status")) == {
        ("log", DeliveryStatus.SENT),
        ("webhook", DeliveryStatus.SENT),
    }
    (request,) = receiver.received
    signature = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Fengqiao-Signature"] == signature


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps the migrations' data
def test_a_rolled_back_notification_gives_the_worker_nothing(run_worker):
    wang = make_user("wang")
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        notify([wang], kind="matter.dispatched", title="新的事项待处理", body="", actor="test")
        1 / 0  # noqa: B018
    run_worker()
    assert (Notification.objects.count(), Delivery.objects.count(), DBTaskResult.objects.count()) == (0, 0, 0)
