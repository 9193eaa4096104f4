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
from fengqiao.core.geo import CHINA_BBOX
from fengqiao.matters import services as matters
from fengqiao.matters.models import Channel
from fengqiao.open311 import catalogue, text
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
        raise Refused(403, required("api_key"))
    api_key = ApiKey.objects.filter(key_hash=key_hash(key)).first() if key.startswith(KEY_PREFIX) else None
    if api_key is None:
        raise Refused(403, _("invalid api_key"))
    if api_key.revoked_at is not None:
        raise Refused(403, _("this api_key was revoked"))
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
        raise Refused(429, _("too many requests from this address; try again in a minute"))


def check_key(api_key):
    if not allow(f"key:{api_key.prefix}", rate("OPEN311_RATE_PER_KEY", 60)):
        raise Refused(429, _("too many requests with this api_key; try again in a minute"))


# --- checks shared by the POSTs ------------------------------------------------------------------------------


def required(param):
    return _("%(param)s is required") % {"param": param}


def markup_left(param):
    return _("%(param)s contains markup that cannot be removed; send plain text") % {"param": param}


def too_long(param, maximum):
    return _("%(param)s is too long (at most %(max)d characters)") % {"param": param, "max": maximum}


def plain_param(data, name, *, one_line=False, maximum=None):
    """The parameter `name` as plain text (markup removed, see `text`; None when absent or empty), at most
    `maximum` characters; Refused(400) naming it otherwise."""
    value = one(data, name)
    if value is None:
        return None
    try:
        value = (text.one_line if one_line else text.plain)(value).strip()
    except text.MarkupLeft:
        raise Refused(400, markup_left(name)) from None
    if maximum is not None and len(value) > maximum:
        raise Refused(400, too_long(name, maximum))
    return value or None


def media_urls(data):
    urls = [u.strip() for u in data.getlist("media_url") if isinstance(u, str) and u.strip()]
    if len(urls) > MAX_MEDIA_URLS:
        raise Refused(400, _("at most %(max)d %(param)s values") % {"max": MAX_MEDIA_URLS, "param": "media_url"})
    check = URLValidator(schemes=["http", "https"])
    for url in urls:
        try:
            if len(url) > MAX_VALUE:
                raise ValidationError("too long")
            check(url)
        except ValidationError:
            raise Refused(400, _("media_url must be an http or https URL")) from None
    return urls


def email_param(data):
    email = one(data, "email") or ""
    if email:
        try:
            if len(email) > 254:
                raise ValidationError("too long")
            EmailValidator()(email)
        except ValidationError:
            raise Refused(400, _("email is not an e-mail address")) from None
    return email


def reporter_name(data):
    """first_name and last_name as one name (Chinese names: family name first, no space)."""
    first = plain_param(data, "first_name", one_line=True, maximum=60) or ""
    last = plain_param(data, "last_name", one_line=True, maximum=60) or ""
    if not first or not last:
        return first or last
    if all("\u4e00" <= ch <= "\u9fff" for ch in first + last):
        return last + first
    return f"{first} {last}"


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
        raise Refused(400, _("at most %(max)d %(param)s values") % {"max": MAX_ATTRIBUTES, "param": "attribute"})
    for code, values in out.items():
        if len(code) > 50 or any(len(v) > MAX_VALUE for v in values):
            raise Refused(400, too_long(f"attribute[{code[:50]}]", MAX_VALUE))
    return out


def _coordinates(data):
    lat, lon = one(data, "lat"), one(data, "long")
    if (lat is None) != (lon is None):
        raise Refused(400, _("give both lat and long, or neither"))
    if lat is None:
        return None, None
    try:
        lat, lon = float(lat), float(lon)
    except ValueError:
        raise Refused(400, _("lat and long must be numbers")) from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise Refused(400, _("lat and long must be numbers"))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Refused(400, _("lat must lie from -90 to 90 and long from -180 to 180 (WGS84 degrees)"))
    # The loop takes points in China only (`core.geo.check_lonlat`, whose messages are not translated): say so here.
    minx, miny, maxx, maxy = CHINA_BBOX
    if not (minx <= lon <= maxx and miny <= lat <= maxy):
        where = {"lat": lat, "long": lon, "lat_range": f"{miny}–{maxy}", "long_range": f"{minx}–{maxx}"}
        if minx <= lat <= maxx and miny <= lon <= maxy:
            message = _(
                "lat %(lat)s and long %(long)s look swapped: in China lat is %(lat_range)s, long %(long_range)s"
            )
        else:
            message = _("lat %(lat)s and long %(long)s lie outside China (lat %(lat_range)s, long %(long_range)s)")
        raise Refused(400, message % where)
    return lat, lon


def _personal(data):
    email = email_param(data)
    ids = {name: one(data, name) or "" for name in ("device_id", "account_id")}
    for name, value in ids.items():
        if len(value) > 100:
            raise Refused(400, too_long(name, 100))
    return email, ids["device_id"], ids["account_id"], reporter_name(data), one(data, "phone") or ""


def fingerprint(api_key, data, day):
    """The client token of a POST: the same parameters from the same key on the same (UTC) day are a retry and
    answer with the first request (`matters.services.submit` is idempotent on it)."""
    items = sorted((k, v) for k in data if k != "api_key" for v in data.getlist(k))
    raw = json.dumps([api_key.prefix, day.isoformat(), items], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


FIELD_NAMES = {
    "reporter_name": "first_name/last_name",
    "reporter_phone": "phone",
    "location": "lat/long",
    "title": "attribute[title]",
    "address": "address_string",
}


def refused_by(exc):
    """A ValidationError of the loop as Refused(400), each message naming the parameter it is about."""
    if hasattr(exc, "error_dict"):
        return Refused(
            400,
            *(
                _("%(param)s: %(problem)s") % {"param": FIELD_NAMES.get(k, k), "problem": " ".join(v)}
                for k, v in exc.message_dict.items()
            ),
        )
    return Refused(400, *exc.messages)


def submit_request(*, api_key, data, now=None):
    """Take a POST /requests in; returns (ServiceRequest, created). `data` is the form (a QueryDict)."""
    code = one(data, "service_code")
    if code is None:
        raise Refused(400, required("service_code"))
    category = catalogue.service(code)
    if category is None:
        raise Refused(404, no_service(code))
    lat, lon = _coordinates(data)
    address = plain_param(data, "address_string", one_line=True, maximum=300) or ""
    address_id = one(data, "address_id") or ""
    if lat is None and not address and not address_id:
        raise Refused(400, _("a location is required: lat and long, address_string or address_id"))
    if len(address_id) > 100:
        raise Refused(400, too_long("address_id", 100))
    description = plain_param(data, "description", maximum=MAX_DESCRIPTION) or ""
    try:
        attributes = catalogue.check_attributes(category, attributes_in(data))
    except catalogue.AttributeProblem as exc:
        raise Refused(400, *exc.problems) from None
    title = attributes.get("title") if isinstance(attributes.get("title"), str) else ""
    if not title and not description:
        title = category.name
    urls = media_urls(data)
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
                    media_urls=urls,
                    attributes=attributes,
                    email=email,
                    device_id=device_id,
                    account_id=account_id,
                    received_at=now,
                )
                ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
                created = True
    except ValidationError as exc:
        raise refused_by(exc) from None
    return request, created


def no_service(code):
    return _("no service with service_code %(code)s") % {"code": code}
