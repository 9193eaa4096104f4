"""Outbound channels: the registry read from the settings, the log channel, and the webhook channel against a
real HTTP receiver on 127.0.0.1 (signature verified the way a receiver would)."""

import hashlib
import hmac
import json
import logging
import socket

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from fengqiao.areas.tests.factories import make_chain
from fengqiao.departments.tests.builders import make_user
from fengqiao.notifications import channels
from fengqiao.notifications.channels import ChannelError, PermanentChannelError, WebhookChannel
from fengqiao.notifications.tests.builders import notify_one
from fengqiao.notifications.tests.webhook_server import Receiver

SECRET = "a-webhook-secret-of-32-characters"
WEBHOOK = "fengqiao.notifications.channels.WebhookChannel"


# --- the registry ------------------------------------------------------------------------------------------


def test_without_settings_the_log_channel_is_the_only_channel(settings):
    del settings.FENGQIAO_NOTIFY_CHANNELS
    assert [(type(c).__name__, c.name) for c in channels.configured()] == [("LogChannel", "log")]


def test_channels_are_built_from_dotted_paths_with_names_and_options(settings):
    settings.FENGQIAO_NOTIFY_CHANNELS = [
        {"class": "fengqiao.notifications.channels.LogChannel", "options": {"level": "WARNING"}},
        {"class": WEBHOOK, "name": "ops", "options": {"url": "https://hooks.example.cn/x", "secret": SECRET}},
        {"class": WEBHOOK, "name": "sms-gateway", "options": {"url": "http://10.0.0.5/", "secret": SECRET}},
    ]
    built = channels.configured()
    assert [c.name for c in built] == ["log", "ops", "sms-gateway"]
    assert built[0].level == logging.WARNING and built[1].timeout == 5


@pytest.mark.parametrize(
    "entry,message",
    [
        ({"class": "fengqiao.notifications.channels.Nope"}, "FENGQIAO_NOTIFY_CHANNELS[0]"),
        ({"class": "fengqiao.notifications.models.Notification"}, "is not a Channel"),
        ({"klass": WEBHOOK}, "needs a dotted 'class' path"),
        ({"class": WEBHOOK, "option": {}}, "unknown keys ['option']"),
        ({"class": WEBHOOK, "options": {"url": "ftp://x/", "secret": SECRET}}, "http:// or https://"),
        ({"class": WEBHOOK, "options": {"url": "file:///etc/passwd", "secret": SECRET}}, "http:// or https://"),
        ({"class": WEBHOOK, "options": {"url": "https://x/", "secret": "short"}}, "at least 16 characters"),
        ({"class": WEBHOOK, "options": {"url": "https://x/", "secret_env": "FQ_TEST_UNSET"}}, "FQ_TEST_UNSET"),
        ({"class": WEBHOOK, "options": {"url": "https://x/", "secret": SECRET, "timeout": 0}}, "timeout"),
        ({"class": WEBHOOK, "options": {"url": "https://x/", "secret": SECRET, "tries": 3}}, "unknown options"),
        ({"class": WEBHOOK, "options": {"url": "https://x/", "secret": SECRET, "kinds": "matter."}}, "kinds"),
        ({"class": "fengqiao.notifications.channels.LogChannel", "options": {"level": "LOUD"}}, "log level"),
    ],
)
def test_a_bad_channel_entry_is_a_configuration_error_naming_what_is_wrong(settings, entry, message):
    settings.FENGQIAO_NOTIFY_CHANNELS = [entry]
    with pytest.raises(ImproperlyConfigured) as refused:
        channels.configured()
    assert message in str(refused.value)


def test_two_channels_with_one_name_are_refused_and_the_system_check_reports_it(settings):
    log = {"class": "fengqiao.notifications.channels.LogChannel"}
    settings.FENGQIAO_NOTIFY_CHANNELS = [log, log]
    with pytest.raises(ImproperlyConfigured, match="must differ"):
        channels.configured()
    with pytest.raises(SystemCheckError, match=r"notifications\.E001"):
        call_command("check")


def test_the_secret_can_come_from_the_environment(settings, monkeypatch):
    monkeypatch.setenv("FQ_TEST_SECRET", SECRET)
    settings.FENGQIAO_NOTIFY_CHANNELS = [
        {"class": WEBHOOK, "options": {"url": "https://x/", "secret_env": "FQ_TEST_SECRET"}}
    ]
    assert channels.configured()[0].secret == SECRET.encode()


# --- the log channel ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_log_channel_writes_ids_and_codes_but_no_text(caplog):
    town = make_chain()["town"]
    notification = notify_one(make_user("wang"), target=("matters.matter", "7"), area=town)
    delivery = notification.deliveries.get()
    with caplog.at_level(logging.INFO, logger="fengqiao.notifications.outbound"):
        channels.LogChannel().send(delivery, notification)
    (record,) = caplog.records
    line = record.getMessage()
    assert f"notification={notification.pk} kind=matter.dispatched recipient={notification.recipient_id}" in line
    assert f"target=matters.matter:7 area={town.code}" in line
    assert notification.title not in line and "wang" not in line
    assert record.notification["delivery"] == delivery.pk


# --- the webhook channel -----------------------------------------------------------------------------------


def _webhook(url, **options):
    return WebhookChannel(url=url, secret=SECRET, timeout=options.pop("timeout", 2), **options)


@pytest.mark.django_db
def test_the_webhook_posts_signed_json_that_a_receiver_can_verify():
    town = make_chain()["town"]
    notification = notify_one(make_user("wang"), target=("matters.matter", "7"), area=town)
    delivery = notification.deliveries.get()
    with Receiver(statuses=[200]) as receiver:
        _webhook(receiver.url).send(delivery, notification)
    (request,) = receiver.received
    assert request.path == "/hooks/fengqiao?token=abc"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Fengqiao-Signature"], expected)
    assert request.headers["X-Fengqiao-Delivery"] == str(delivery.pk)
    assert request.headers["X-Fengqiao-Kind"] == "matter.dispatched"
    data = json.loads(request.body)
    assert data["notification"] == {
        "id": notification.pk,
        "kind": "matter.dispatched",
        "title": notification.title,
        "body": notification.body,
        "recipient": notification.recipient_id,
        "target": {"type": "matters.matter", "id": "7"},
        "area": town.code,
        "created_at": notification.created_at.isoformat(),
    }
    assert data["delivery"]["id"] == delivery.pk
    tampered = request.body.replace(b"matter.dispatched", b"matter.closed")
    assert not hmac.compare_digest(
        request.headers["X-Fengqiao-Signature"],
        "sha256=" + hmac.new(SECRET.encode(), tampered, hashlib.sha256).hexdigest(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status,error",
    [(500, ChannelError), (503, ChannelError), (429, ChannelError), (408, ChannelError), (302, ChannelError)],
)
def test_server_errors_throttling_and_redirects_are_failures_worth_retrying(status, error):
    notification = notify_one(make_user("wang"))
    with Receiver(statuses=[status]) as receiver, pytest.raises(error) as failed:
        _webhook(receiver.url).send(notification.deliveries.get(), notification)
    assert not isinstance(failed.value, PermanentChannelError)
    assert f"HTTP {status}" in str(failed.value)
    assert "token=abc" not in str(failed.value) and SECRET not in str(failed.value)
    assert len(receiver.received) == 1  # a redirect is not followed


@pytest.mark.django_db
@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_other_client_errors_are_permanent(status):
    notification = notify_one(make_user("wang"))
    with Receiver(statuses=[status]) as receiver, pytest.raises(PermanentChannelError, match=f"HTTP {status}"):
        _webhook(receiver.url).send(notification.deliveries.get(), notification)


@pytest.mark.django_db
def test_a_refused_connection_is_a_failure_worth_retrying():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    notification = notify_one(make_user("wang"))
    with pytest.raises(ChannelError) as failed:
        _webhook(f"http://127.0.0.1:{port}/hook").send(notification.deliveries.get(), notification)
    assert not isinstance(failed.value, PermanentChannelError)
    assert f"http://127.0.0.1:{port}:" in str(failed.value)
