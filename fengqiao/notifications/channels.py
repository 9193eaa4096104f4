"""Outbound notification channels behind one interface (ADR 0012).

A channel is a class with a ``name`` and ``send(delivery, notification)``, which returns nothing when the
message is out and raises otherwise: `ChannelError` (or any exception) for a failure worth retrying,
`PermanentChannelError` for one that will not get better (the delivery is given up at once).

Channels are configured in ``settings.FENGQIAO_NOTIFY_CHANNELS``, read when used (never at import time)::

    FENGQIAO_NOTIFY_CHANNELS = [
        {"class": "fengqiao.notifications.channels.LogChannel"},
        {
            "class": "fengqiao.notifications.channels.WebhookChannel",
            "name": "ops-webhook",               # default: the class's `name`
            "options": {"url": "https://hooks.example.cn/fengqiao", "secret_env": "FENGQIAO_WEBHOOK_SECRET"},
        },
    ]

Every channel accepts the option ``kinds``: a list of kind prefixes (``["matter."]``); it then only receives
notifications whose kind starts with one of them. SMS, WeChat and other adapters are channels a deployment
adds by subclassing `Channel` and naming the class here.
"""

import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

DEFAULT_CHANNELS = [{"class": "fengqiao.notifications.channels.LogChannel"}]
SIGNATURE_HEADER = "X-Fengqiao-Signature"
DELIVERY_HEADER = "X-Fengqiao-Delivery"
KIND_HEADER = "X-Fengqiao-Kind"

logger = logging.getLogger("fengqiao.notifications.outbound")


class ChannelError(Exception):
    """A delivery failed; it is retried later (with backoff, up to the attempt limit)."""


class PermanentChannelError(ChannelError):
    """A delivery failed for a reason a retry will not cure (e.g. the receiver rejects the request)."""


class Channel:
    """Base class of outbound channels. Subclasses set `name` and implement `send`; options from the settings
    entry arrive as keyword arguments (validate them in ``__init__`` and raise ImproperlyConfigured)."""

    name = ""

    def __init__(self, *, name=None, kinds=None, **options):
        if options:
            raise ImproperlyConfigured(f"{type(self).__name__}: unknown options {sorted(options)}")
        self.name = name or self.name
        if not self.name or len(self.name) > 40:
            raise ImproperlyConfigured(f"{type(self).__name__}: a channel needs a name of at most 40 characters")
        if kinds is not None and (isinstance(kinds, str) or not all(isinstance(k, str) and k for k in kinds)):
            raise ImproperlyConfigured(f"channel {self.name}: kinds must be a list of kind prefixes")
        self.kinds = tuple(kinds) if kinds is not None else None

    def accepts(self, notification) -> bool:
        """Whether this channel carries `notification` (by the ``kinds`` option)."""
        return self.kinds is None or notification.kind.startswith(self.kinds)

    def send(self, delivery, notification) -> None:
        raise NotImplementedError


def payload(delivery, notification) -> dict:
    """What an outbound channel may say about a notification: ids, codes and the (personal-data-free) text.
    The recipient is named by user id; an adapter maps it to a phone number or an account when it sends."""
    return {
        "delivery": {"id": delivery.pk, "channel": delivery.channel, "attempt": delivery.attempts},
        "notification": {
            "id": notification.pk,
            "kind": notification.kind,
            "title": notification.title,
            "body": notification.body,
            "recipient": notification.recipient_id,
            "target": {"type": notification.target_type, "id": notification.target_id}
            if notification.target_type
            else None,
            "area": notification.area.code if notification.area_id else None,
            "created_at": notification.created_at.isoformat(),
        },
    }


class LogChannel(Channel):
    """Writes one structured line per delivery to the ``fengqiao.notifications.outbound`` logger: ids and
    codes only, never the text (logs travel further than the database)."""

    name = "log"

    def __init__(self, *, level="INFO", **options):
        super().__init__(**options)
        self.level = logging.getLevelName(level) if isinstance(level, str) else level
        if not isinstance(self.level, int):
            raise ImproperlyConfigured(f"channel {self.name}: unknown log level {level!r}")

    def send(self, delivery, notification) -> None:
        fields = {
            "notification": notification.pk,
            "kind": notification.kind,
            "recipient": notification.recipient_id,
            "target": f"{notification.target_type}:{notification.target_id}" if notification.target_type else "",
            "area": notification.area.code if notification.area_id else "",
            "delivery": delivery.pk,
            "attempt": delivery.attempts,
        }
        line = " ".join(f"{key}={value}" for key, value in fields.items())
        logger.log(self.level, "notification %s", line, extra={"notification": fields})


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the failure it is: the signed body is never re-sent elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def sign(secret: bytes, body: bytes) -> str:
    """The value of the signature header: ``sha256=`` + hex HMAC-SHA256 of the raw body with the secret."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookChannel(Channel):
    """POSTs the `payload` as JSON to ``url`` with an HMAC-SHA256 signature of the raw body in
    ``X-Fengqiao-Signature: sha256=<hex>`` and the delivery id in ``X-Fengqiao-Delivery`` (receivers use it to
    ignore a repeat). Options: ``url`` (http or https), ``secret`` or ``secret_env`` (the name of an environment
    variable holding it; at least 16 characters), ``timeout`` in seconds (default 5). Any 2xx answer is
    success; 408, 429, 5xx, redirects and network errors are retried; other 4xx answers give up at once."""

    name = "webhook"

    def __init__(self, *, url=None, secret=None, secret_env=None, timeout=5, **options):
        super().__init__(**options)
        parts = urllib.parse.urlsplit(url or "")
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ImproperlyConfigured(f"channel {self.name}: url must be an http:// or https:// URL with a host")
        if secret_env:
            secret = os.environ.get(secret_env)
            if not secret:
                raise ImproperlyConfigured(f"channel {self.name}: environment variable {secret_env} is not set")
        if not secret or len(secret) < 16:
            raise ImproperlyConfigured(f"channel {self.name}: secret (or secret_env) of at least 16 characters")
        if not isinstance(timeout, int | float) or not 0 < timeout <= 60:
            raise ImproperlyConfigured(f"channel {self.name}: timeout must be between 0 and 60 seconds")
        self.url = url
        self.secret = secret.encode()
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects)

    def body(self, delivery, notification) -> bytes:
        data = payload(delivery, notification)
        return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def send(self, delivery, notification) -> None:
        body = self.body(delivery, notification)
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "fengqiao-notify/1",
                SIGNATURE_HEADER: sign(self.secret, body),
                DELIVERY_HEADER: str(delivery.pk),
                KIND_HEADER: notification.kind,
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except (urllib.error.URLError, OSError) as exc:  # refused, unreachable, DNS, timeout
            reason = getattr(exc, "reason", exc)
            raise ChannelError(f"{self._where()}: {type(reason).__name__}: {reason}") from None
        if 200 <= status < 300:
            return
        if 400 <= status < 500 and status not in {408, 429}:
            raise PermanentChannelError(f"{self._where()} answered HTTP {status}")
        raise ChannelError(f"{self._where()} answered HTTP {status}")

    def _where(self):
        """The host and port for error messages (never the path or query, which may carry a token)."""
        parts = urllib.parse.urlsplit(self.url)
        host = parts.hostname
        with contextlib.suppress(ValueError):  # a name, not an address
            host = f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
        return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def configured() -> list[Channel]:
    """The outbound channels of ``settings.FENGQIAO_NOTIFY_CHANNELS`` (default: the log channel), built anew
    on every call so a change of settings takes effect. A bad entry raises ImproperlyConfigured naming it."""
    entries = getattr(settings, "FENGQIAO_NOTIFY_CHANNELS", DEFAULT_CHANNELS)
    channels = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("class"), str):
            raise ImproperlyConfigured(f"FENGQIAO_NOTIFY_CHANNELS[{index}] needs a dotted 'class' path")
        unknown = set(entry) - {"class", "name", "options"}
        if unknown:
            raise ImproperlyConfigured(f"FENGQIAO_NOTIFY_CHANNELS[{index}]: unknown keys {sorted(unknown)}")
        try:
            cls = import_string(entry["class"])
        except ImportError as exc:
            raise ImproperlyConfigured(f"FENGQIAO_NOTIFY_CHANNELS[{index}]: {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Channel)):
            raise ImproperlyConfigured(f"FENGQIAO_NOTIFY_CHANNELS[{index}]: {entry['class']} is not a Channel")
        options = dict(entry.get("options") or {})
        if "name" in entry:
            options["name"] = entry["name"]
        channels.append(cls(**options))
    names = [channel.name for channel in channels]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ImproperlyConfigured(f"FENGQIAO_NOTIFY_CHANNELS: channel names must differ: {duplicates}")
    return channels


def by_name(name) -> Channel | None:
    return next((channel for channel in configured() if channel.name == name), None)
