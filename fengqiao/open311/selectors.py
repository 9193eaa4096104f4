"""The reads of the Open311 door (ADR 0014): requests and their updates, as GeoReport v2 bodies.

Only matters of the published channels (``OPEN311_PUBLISH_CHANNELS``: those that came through this door, by
default) are visible: a 12345 or 110 record was never given to be published. Nothing personal is returned:
no name, phone, e-mail, device or account id; titles, descriptions and addresses pass `redact_text` (ID and phone
numbers typed into them are masked), the timeline shows labels only, as the reporter's tracking page does.
"""

import datetime

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit.redact import redact_text
from fengqiao.departments.models import Category
from fengqiao.matters.models import Channel, Clock, Matter, MatterEvent, Stage
from fengqiao.matters.workflows import get_workflow, terminal_states
from fengqiao.open311 import catalogue
from fengqiao.open311.catalogue import parse_when, w3c
from fengqiao.open311.services import Refused, no_service, one

MAX_RANGE = datetime.timedelta(days=90)
MAX_RESULTS = 1000
MAX_IDS = 200

# FixMyStreet's extended statuses for our states (the base status stays open/closed).
EXTENDED_STATUS = {
    "submitted": "OPEN",
    "accepted": "INVESTIGATING",
    "dispatched": "ACTION_SCHEDULED",
    "in_progress": "IN_PROGRESS",
    "waiting": "IN_PROGRESS",
    "handled": "FIXED",
    "verified": "FIXED",
    "replied": "FIXED",
    "closed": "CLOSED",
    "declined": "NO_FURTHER_ACTION",
    "merged": "DUPLICATE",
}


def number(text):
    """`text` as a whole number, or None: only ASCII digits count ("²" and "١٢" are digits to `str.isdigit`)."""
    return int(text) if text.isascii() and text.isdigit() else None


def publish_channels():
    return tuple(getattr(settings, "OPEN311_PUBLISH_CHANNELS", (Channel.OPEN311,)))


def published():
    return Matter.objects.filter(channel__in=publish_channels())


def base_status(matter):
    return "closed" if matter.state in terminal_states() else "open"


def extended_status(matter, state=None, action=None):
    if action == "reopen":
        return "REOPEN"
    state = state or matter.state
    if state == "submitted" and matter.needs_triage:
        return "FOR_TRIAGE"
    return EXTENDED_STATUS.get(state, "OPEN")


def labels(matter):
    wf = get_workflow(matter.workflow)
    out = {t.action: str(t.label) for t in wf.transitions}
    from django.utils.translation import gettext

    out["submit"] = gettext("submitted")
    return out


# --- requests ----------------------------------------------------------------------------------------------


def with_details(queryset, *, extensions=False):
    queryset = queryset.select_related("category", "department", "handling_area", "open311_request").defer(
        "reporter_name",
        "reporter_phone",
        "open311_request__email",
        "open311_request__device_id",
        "open311_request__account_id",
    )
    running = Clock.objects.filter(stopped_at__isnull=True, dispatch__isnull=True).order_by("due_at")
    queryset = queryset.prefetch_related(Prefetch("clocks", queryset=running, to_attr="running_clocks"))
    if extensions:
        public = MatterEvent.objects.filter(public=True).order_by("at", "id")
        queryset = queryset.prefetch_related(Prefetch("events", queryset=public, to_attr="public_events"))
    return queryset


def _expected(matter):
    clocks = getattr(matter, "running_clocks", [])
    for clock in clocks:
        if clock.stage == Stage.HANDLE:
            return clock.due_at
    return clocks[0].due_at if clocks else None


def _open311(matter):
    try:
        return matter.open311_request
    except Matter.open311_request.RelatedObjectDoesNotExist:
        return None


def request_bodies(matters, *, extensions=False):
    """The request bodies of `matters` (the attribute definitions of their services read once)."""
    definitions = catalogue.attributes_by_category(m.category for m in matters) if extensions else {}
    return [request_body(m, extensions=extensions, definitions=definitions.get(m.category_id, {})) for m in matters]


def request_body(matter, *, extensions=False, definitions=None):
    """A request as GeoReport v2 has it; with `extensions` also ``extended_attributes``, ``attributes`` (the
    answers to the questions the service defines, `catalogue.answers`) and ``notes``."""
    extra = _open311(matter)
    media = list(extra.media_urls) if extra is not None else []
    terminal = matter.state in terminal_states()
    body = {
        "service_request_id": str(matter.pk),
        "status": "closed" if terminal else "open",
        "status_notes": redact_text(matter.reply) or None,
        "service_name": matter.category.name if matter.category_id else None,
        "service_code": matter.category.code if matter.category_id else "",
        "description": (redact_text(matter.description) or "")[:4000] or None,
        "agency_responsible": matter.department.name if matter.department_id else None,
        "service_notice": None,
        "requested_datetime": w3c(matter.submitted_at),
        "updated_datetime": w3c(matter.state_changed_at),
        "expected_datetime": None if terminal else w3c(_expected(matter)),
        "address": redact_text(matter.address) or None,
        "address_id": (extra.address_id or None) if extra is not None else None,
        "zipcode": None,
        "lat": matter.lat,
        "long": matter.lon,
        "media_url": media[0] if media else None,
    }
    if extensions:
        names = labels(matter)
        body["extended_attributes"] = {
            "channel": matter.channel,
            "title": redact_text(matter.title),
            "state": matter.state,
            "state_label": str(get_workflow(matter.workflow).state(matter.state).label),
            "extended_status": extended_status(matter),
            "handling_level": matter.handling_area.name,
            "rating": matter.rating or None,
            "photos": [{"media_url": url} for url in media],
        }
        if definitions is None and matter.category_id:
            definitions = catalogue.attributes_by_category([matter.category]).get(matter.category_id, {})
        body["attributes"] = catalogue.answers(definitions or {}, extra.attributes if extra is not None else {})
        body["notes"] = [
            {"datetime": w3c(event.at), "description": names.get(event.action, event.action), "type": event.action}
            for event in getattr(matter, "public_events", [])
        ]
    return body


def _flag(data, name):
    value = (one(data, name) or "").lower()
    if value not in {"", "true", "false", "1", "0"}:
        raise Refused(400, _("%(param)s must be true or false") % {"param": name})
    return value in {"true", "1"}


def _positive(data, name, default, maximum):
    value = one(data, name)
    if value is None:
        return default
    if number(value) is None or not 1 <= int(value) <= maximum:
        raise Refused(400, _("%(param)s must be a whole number from 1 to %(max)d") % {"param": name, "max": maximum})
    return int(value)


def date_range(data, *, now=None):
    """(start, end) from start_date / end_date: W3C datetimes, at most 90 days apart; default the last 90 days."""
    now = now or timezone.now()
    start, end = one(data, "start_date"), one(data, "end_date")
    parsed = {}
    for name, value in (("start_date", start), ("end_date", end)):
        if value is not None:
            parsed[name] = parse_when(value)
            if parsed[name] is None:
                raise Refused(
                    400,
                    _("%(param)s is not a W3C date and time (e.g. 2024-01-01T00:00:00+08:00)") % {"param": name},
                )
    start, end = parsed.get("start_date"), parsed.get("end_date")
    if start is None and end is None:
        end = now
    if end is None:
        end = start + MAX_RANGE
    if start is None:
        start = end - MAX_RANGE
    if end < start:
        raise Refused(400, _("end_date is before start_date"))
    if end - start > MAX_RANGE:
        raise Refused(400, _("start_date and end_date may be at most %(days)d days apart") % {"days": MAX_RANGE.days})
    return start, end


def _codes(value):
    return [c.strip() for c in (value or "").split(",") if c.strip()]


def find_requests(data, *, now=None):
    """The matters a GET /requests asks for (a list), and whether to add the extensions."""
    extensions = _flag(data, "extensions")
    page = _positive(data, "page", 1, 100000)
    page_size = _positive(data, "page_size", MAX_RESULTS, MAX_RESULTS)
    ids = _codes(one(data, "service_request_id"))
    queryset = published()
    if ids:
        if len(ids) > MAX_IDS:
            raise Refused(400, _("at most %(max)d %(param)s values") % {"max": MAX_IDS, "param": "service_request_id"})
        queryset = queryset.filter(pk__in=[n for n in map(number, ids) if n is not None])
    else:
        codes = _codes(one(data, "service_code"))
        if codes:
            known = set(Category.objects.filter(code__in=codes).values_list("code", flat=True))
            unknown = [c for c in codes if c not in known]
            if unknown:
                raise Refused(404, no_service(unknown[0]))
            queryset = queryset.filter(category__code__in=codes)
        start, end = date_range(data, now=now)
        queryset = queryset.filter(submitted_at__gte=start, submitted_at__lte=end)
        statuses = set(_codes(one(data, "status")))
        if statuses - {"open", "closed"}:
            raise Refused(400, _("status must be open, closed or both (comma separated)"))
        if statuses == {"open"}:
            queryset = queryset.exclude(state__in=terminal_states())
        elif statuses == {"closed"}:
            queryset = queryset.filter(state__in=terminal_states())
    queryset = with_details(queryset.order_by("-submitted_at", "-id"), extensions=extensions)
    offset = (page - 1) * page_size
    return list(queryset[offset : offset + page_size]), extensions


def one_request(code, data):
    extensions = _flag(data, "extensions")
    # The public request id is the matter's number, never its tracking code (the reporter's key to rate it).
    pk = number(code) or -1
    matter = with_details(published().filter(pk=pk), extensions=extensions).first()
    if matter is None:
        raise Refused(404, no_request(code))
    return matter, extensions


def no_request(code):
    return _("no service request %(id)s") % {"id": code}


# --- updates (FixMyStreet's servicerequestupdates) ------------------------------------------------------------


def updates(data, *, now=None):
    """The public timeline rows of published matters in the date range, as request_update bodies."""
    start, end = date_range(data, now=now)
    events = (
        MatterEvent.objects.filter(public=True, at__gte=start, at__lte=end, matter__channel__in=publish_channels())
        .select_related("matter")
        .only("id", "action", "to_state", "at", "matter__workflow", "matter__needs_triage")
        .order_by("at", "id")[:MAX_RESULTS]
    )
    out, names = [], {}
    for event in events:
        matter = event.matter
        if matter.workflow not in names:
            names[matter.workflow] = labels(matter)
        state = event.to_state or None
        out.append(
            {
                "update_id": str(event.pk),
                "service_request_id": str(matter.pk),
                "status": extended_status(matter, state=state or "submitted", action=event.action),
                "updated_datetime": w3c(event.at),
                "description": names[matter.workflow].get(event.action, event.action),
                "media_url": None,
                "external_status_code": state,
            }
        )
    return out
