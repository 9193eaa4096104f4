"""`notify`: inbox rows and pending deliveries inside the caller's transaction, the delivery task enqueued only
when it commits, refusals of bad input (personal data above all) that write nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django_tasks_db.models import DBTaskResult

from fengqiao.areas.tests.factories import make_chain
from fengqiao.audit.models import AuditEvent
from fengqiao.departments.tests.builders import make_user
from fengqiao.notifications import delivery
from fengqiao.notifications.models import Delivery, DeliveryStatus, Notification
from fengqiao.notifications.services import notify

pytestmark = pytest.mark.django_db

WEBHOOK = {
    "class": "fengqiao.notifications.channels.WebhookChannel",
    "options": {"url": "http://127.0.0.1:9/hook", "secret": "s" * 32, "kinds": ["matter."]},
}
LOG = {"class": "fengqiao.notifications.channels.LogChannel"}


def _notify(recipients, **extra):
    fields = {"kind": "matter.dispatched", "title": "新的事项待处理", "body": "事项 FQ0000000001 已派发给您。"}
    return notify(recipients, **(fields | extra))


def _queued_ids():
    return sorted(i for r in DBTaskResult.objects.all() for i in r.args_kwargs["args"][0])


def test_notify_puts_one_row_in_each_recipients_inbox_with_one_pending_delivery_per_channel(settings):
    settings.FENGQIAO_NOTIFY_CHANNELS = [LOG, WEBHOOK]
    chain = make_chain()
    wang, li = make_user("wang"), make_user("li")
    rows = _notify([wang, li, wang], target=("matters.matter", "42"), area=chain["town"], actor=wang)
    assert [n.recipient for n in rows] == [wang, li]  # duplicates dropped, order kept
    for row in rows:
        row.refresh_from_db()
        assert (row.kind, row.target, row.area, row.read_at) == (
            "matter.dispatched",
            ("matters.matter", "42"),
            chain["town"],
            None,
        )
        deliveries = row.deliveries.order_by("channel")
        assert [(d.channel, d.status, d.attempts) for d in deliveries] == [
            ("log", DeliveryStatus.PENDING, 0),
            ("webhook", DeliveryStatus.PENDING, 0),
        ]
    event = AuditEvent.objects.get(action="notification.create")
    assert event.actor == wang and event.area == chain["town"].code
    assert event.data["recipients"] == [wang.pk, li.pk] and event.data["target"] == "matters.matter:42"


def test_a_channel_with_kinds_only_gets_those_kinds(settings):
    settings.FENGQIAO_NOTIFY_CHANNELS = [LOG, WEBHOOK]
    row = _notify([make_user("wang")], kind="security.token_expiring", title="令牌即将过期", body="")[0]
    assert list(row.deliveries.values_list("channel", flat=True)) == ["log"]


def test_a_model_instance_is_a_target():
    wang = make_user("wang")
    row = _notify([wang], target=make_chain()["village"])[0]
    assert row.target == ("areas.area", str(row.target_id)) and row.target_id.isdigit()


def test_inactive_users_get_nothing_and_no_recipient_means_no_rows():
    gone = make_user("gone", is_active=False)
    assert _notify([gone]) == [] and _notify([]) == []
    assert Notification.objects.count() == 0 and not AuditEvent.objects.filter(action="notification.create").exists()


def test_the_task_is_enqueued_when_the_callers_transaction_commits(django_capture_on_commit_callbacks):
    wang = make_user("wang")
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        row = _notify([wang])[0]
        assert DBTaskResult.objects.count() == 0  # nothing while the transaction is open
    assert len(callbacks) == 1 and DBTaskResult.objects.count() == 0
    callbacks[0]()
    task_row = DBTaskResult.objects.get()
    assert task_row.task_path == "fengqiao.notifications.tasks.deliver_notifications"
    assert _queued_ids() == [row.deliveries.get().pk]


def test_a_rolled_back_transaction_leaves_no_notification_and_enqueues_nothing(django_capture_on_commit_callbacks):
    wang = make_user("wang")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        _notify([wang])
        raise RuntimeError("the caller's write failed")
    assert callbacks == []
    assert (Notification.objects.count(), Delivery.objects.count(), DBTaskResult.objects.count()) == (0, 0, 0)


def test_a_rolled_back_savepoint_drops_its_enqueue_but_not_the_outer_ones(django_capture_on_commit_callbacks):
    wang = make_user("wang")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        kept = _notify([wang], kind="matter.accepted")[0]
        try:
            with transaction.atomic():
                _notify([wang], kind="matter.declined")
                raise ValueError
        except ValueError:
            pass
    assert list(Notification.objects.values_list("kind", flat=True)) == ["matter.accepted"]
    assert _queued_ids() == [kept.deliveries.get().pk]


def test_large_fan_outs_are_split_into_tasks_of_a_hundred(django_capture_on_commit_callbacks):
    users = [make_user(f"u{i}") for i in range(delivery.CHUNK + 5)]
    with django_capture_on_commit_callbacks(execute=True):
        _notify(users)
    assert sorted(len(r.args_kwargs["args"][0]) for r in DBTaskResult.objects.all()) == [5, delivery.CHUNK]


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("title", "请联系 13800138000", "phone number"),
        ("title", "电话 138 0013 8000", "phone number"),
        ("body", "身份证 11010519491231002X 的居民", "ID number"),
        ("kind", "Matter Dispatched", "valid"),
        ("kind", "dispatched", "valid"),
        ("title", "   ", "blank"),
        ("title", "长" * 201, "at most 200"),
        ("target", ("matters.matter", ""), "(type, id)"),
        ("target", "matters.matter:1", "(type, id)"),
        ("area", "441821", "must be an area"),
        ("recipients", ["wang"], "saved users"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(field, value, message):
    wang = make_user("wang")
    audit_before = AuditEvent.objects.count()
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        if field == "recipients":
            _notify(value)
        else:
            _notify([wang], **{field: value})
    assert field in refused.value.message_dict
    assert message in " ".join(refused.value.message_dict[field])
    assert (Notification.objects.count(), Delivery.objects.count()) == (0, 0)
    assert AuditEvent.objects.count() == audit_before


def test_tracking_codes_and_dates_are_not_mistaken_for_personal_data():
    row = _notify([make_user("wang")], title="事项 FQ3K7M9P2QXT 将于 2026-10-09 到期", body="编号 20261009001")[0]
    assert row.pk
