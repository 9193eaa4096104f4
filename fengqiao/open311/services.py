"""The writes of the Open311 door (ADR 0014): client keys, the rate limits, and intake.

`submit_request` turns a POST /requests into a matter through `matters.services.submit` (channel ``open311``),
so the request passes the loop's validation, location, clocks, timeline and audit like any other; it refuses
bad input with `Refused` (an HTTP status and the messages) before anything is written.
"""

import datetime
import hashlib
import json
import math
import secrets
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
from fengqiao.matters import services as matters
from fengqiao.matters.models import Channel
from fengqiao.open311 import catalogue
from fengqiao.open311.models import ApiKey, ServiceRequest

KEY_PREFIX = "o311_"
MAX_MEDIA_URLS = 9
MAX_ATTRIBUTES = 50
MAX_VALUE = 2000
MAX_DESCRIPTION = 4000  # the schema's maxLength of a request's description


class Refused(Exception):
    """A request the door refuses: `status` (400, 403, 404, 413, 429) and one message per problem."""

    def __init__(self, status, *messages):
        super().__init__("; ".join(str(m) for m in messages))
        self.status = status
        self.messages = [str(m) for m in messages]


# --- keys ------------------------------------------------------------------------------------------------


def key_hash(key):
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(*, actor, name):
    """A new key for the client `name`; returns (api_key, key). Only the hash is stored: show the key now."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": _("Name the client in 1 to 100 characters.")})
    if ApiKey.objects.filter(name=name, revoked_at__isnull=True).exists():
        raise ValidationError({"name": _("A live key named %(name)s exists already.") % {"name": name}})
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            name=name,
            prefix=prefix,
            key_hash=key_hash(key),
            created_at=timezone.now(),
            created_by=audit_label(actor),
        )
        audit.record(
            actor=actor,
            action="open311.key_created",
            obj=api_key,
            summary=f"Open311 key {prefix} for {name}",
            data={"prefix": prefix, "name": name},
            event_type=EventType.SECURITY,
        )
    return api_key, key


def revoke_key(*, actor, api_key):
    """Revoke `api_key` now; refuses one already revoked."""
    with transaction.atomic():
        api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if api_key.revoked_at is not None:
            raise ValidationError(_("Open311 key %(prefix)s is already revoked.") % {"prefix": api_key.prefix})
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit.record(
            actor=actor,
            action="open311.key_revoked",
            obj=api_key,
            summary=f"Open311 key {api_key.prefix} of {api_key.name} revoked",
            data={"prefix": api_key.prefix, "name": api_key.name},
            event_type=EventType.SECURITY,
        )
    return api_key


def audit_label(actor):
    from fengqiao.audit.services import actor_label

    return actor_label(actor)[:150]


def authenticate(key):
    """The live key for `key`, or Refused(403). Reads only."""
    key = (key or "").strip()
    if not key:
        raise Refused(403, "api_key is required")
    api_key = ApiKey.objects.filter(key_hash=key_hash(key)).first() if key.startswith(KEY_PREFIX) else None
    if api_key is None:
        raise Refused(403, "invalid api_key")
    if api_key.revoked_at is not None:
        raise Refused(403, "this api_key was revoked")
    return api_key


# --- abuse ---------------------------------------------------------------------------------------------


def rate(name, default):
    """Requests per minute allowed by the setting `name` (0: no limit)."""
    return int(getattr(settings, name, default))


def max_body():
    return int(getattr(settings, "OPEN311_MAX_BODY_BYTES", 64 * 1024))


def allow(bucket, limit, window=60):
    """Count one request in `bucket` for the current minute (Django's cache); False past `limit`."""
    if not limit:
        return True
    from django.core.cache import cache

    key = f"open311:rate:{bucket}:{int(time.time() // window)}"
    cache.add(key, 0, timeout=window * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window * 2)
        count = 1
    return count <= limit


def check_address(address):
    if not allow(f"address:{address}", rate("OPEN311_RATE_PER_ADDRESS", 120)):
        raise Refused(429, "too many requests from this address; try again in a minute")


def check_key(api_key):
    if not allow(f"key:{api_key.prefix}", rate("OPEN311_RATE_PER_KEY", 60)):
        raise Refused(429, "too many requests with this api_key; try again in a minute")


# --- intake ------------------------------------------------------------------------------------------------


def one(data, name):
    """The value of `name` stripped; None when absent or empty (an empty argument is an absent one)."""
    value = data.get(name)
    value = value.strip() if isinstance(value, str) else value
    return value or None


def attributes_in(data):
    """``attribute[CODE]`` and ``attribute[CODE][]`` as {code: [values]}."""
    out = {}
    for name in data:
        if not (name.startswith("attribute[") and name.endswith("]")):
            continue
        code = name[len("attribute[") : -1]
        if code.endswith("[]"):
            code = code[:-2].rstrip("]")
        code = code.rstrip("]").strip()
        if not code:
            continue
        out.setdefault(code, []).extend(v for v in data.getlist(name) if isinstance(v, str))
    if len(out) > MAX_ATTRIBUTES:
        raise Refused(400, f"at most {MAX_ATTRIBUTES} attributes per request")
    for code, values in out.items():
        if len(code) > 50 or any(len(v) > MAX_VALUE for v in values):
            raise Refused(400, f"attribute[{code[:50]}] is too long")
    return out


def _coordinates(data):
    lat, lon = one(data, "lat"), one(data, "long")
    if (lat is None) != (lon is None):
        raise Refused(400, "give both lat and long, or neither")
    if lat is None:
        return None, None
    try:
        lat, lon = float(lat), float(lon)
    except ValueError:
        raise Refused(400, "lat and long must be numbers") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise Refused(400, "lat and long must be numbers")
    return lat, lon


def _media_urls(data):
    urls = [u.strip() for u in data.getlist("media_url") if isinstance(u, str) and u.strip()]
    if len(urls) > MAX_MEDIA_URLS:
        raise Refused(400, f"at most {MAX_MEDIA_URLS} media_url values")
    check = URLValidator(schemes=["http", "https"])
    for url in urls:
        try:
            if len(url) > MAX_VALUE:
                raise ValidationError("too long")
            check(url)
        except ValidationError:
            raise Refused(400, "media_url must be an http or https URL") from None
    return urls


def _reporter_name(first, last):
    first, last = first or "", last or ""
    if not first or not last:
        return first or last
    if all("\u4e00" <= ch <= "\u9fff" for ch in first + last):
        return last + first  # a Chinese name: family name first, no space
    return f"{first} {last}"


def _personal(data):
    email = one(data, "email") or ""
    if email:
        try:
            if len(email) > 254:
                raise ValidationError("too long")
            EmailValidator()(email)
        except ValidationError:
            raise Refused(400, "email is not an e-mail address") from None
    ids = {name: one(data, name) or "" for name in ("device_id", "account_id")}
    for name, value in ids.items():
        if len(value) > 100:
            raise Refused(400, f"{name} is too long (at most 100 characters)")
    name = _reporter_name(one(data, "first_name"), one(data, "last_name"))
    return email, ids["device_id"], ids["account_id"], name, one(data, "phone") or ""


def fingerprint(api_key, data, day):
    """The client token of a POST: the same parameters from the same key on the same (UTC) day are a retry and
    answer with the first request (`matters.services.submit` is idempotent on it)."""
    items = sorted((k, v) for k in data if k != "api_key" for v in data.getlist(k))
    raw = json.dumps([api_key.prefix, day.isoformat(), items], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


FIELD_NAMES = {"reporter_name": "first_name/last_name", "reporter_phone": "phone", "location": "lat/long"}


def submit_request(*, api_key, data, now=None):
    """Take a POST /requests in; returns (ServiceRequest, created). `data` is the form (a QueryDict)."""
    code = one(data, "service_code")
    if code is None:
        raise Refused(400, "service_code is required")
    category = catalogue.service(code)
    if category is None:
        raise Refused(404, f"no service with service_code {code}")
    lat, lon = _coordinates(data)
    address = one(data, "address_string") or ""
    address_id = one(data, "address_id") or ""
    if lat is None and not address and not address_id:
        raise Refused(400, "a location is required: lat and long, address_string or address_id")
    if len(address) > 300 or len(address_id) > 100:
        raise Refused(400, "address_string (300) or address_id (100 characters) is too long")
    description = one(data, "description") or ""
    if len(description) > MAX_DESCRIPTION:
        raise Refused(400, f"description is too long (at most {MAX_DESCRIPTION} characters)")
    try:
        attributes = catalogue.check_attributes(category, attributes_in(data))
    except catalogue.AttributeProblem as exc:
        raise Refused(400, str(exc)) from None
    title = attributes.get("title") if isinstance(attributes.get("title"), str) else ""
    if not title and not description:
        title = category.name
    media_urls = _media_urls(data)
    email, device_id, account_id, name, phone = _personal(data)
    now = now or timezone.now()
    label = f"open311 client {api_key.name} ({api_key.prefix})"
    try:
        with transaction.atomic():
            matter, created = matters.submit(
                actor=label,
                channel=Channel.OPEN311,
                title=title,
                description=description,
                category=category,
                urgency=attributes.get("urgency") if isinstance(attributes.get("urgency"), str) else None,
                lon=lon,
                lat=lat,
                address=address,
                reporter_name=name,
                reporter_phone=phone,
                client_key=f"open311:{api_key.prefix}",
                client_token=fingerprint(api_key, data, now.astimezone(datetime.UTC).date()),
                now=now,
            )
            request = ServiceRequest.objects.filter(matter=matter).first()
            if request is None:
                request = ServiceRequest.objects.create(
                    matter=matter,
                    api_key=api_key,
                    token=secrets.token_urlsafe(18),
                    service_code=category.code,
                    address_id=address_id,
                    media_urls=media_urls,
                    attributes=attributes,
                    email=email,
                    device_id=device_id,
                    account_id=account_id,
                    received_at=now,
                )
                ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
                created = True
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise Refused(
                400, *(f"{FIELD_NAMES.get(k, k)}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        raise Refused(400, *exc.messages) from None
    return request, created
