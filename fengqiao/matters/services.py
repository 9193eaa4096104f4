"""Intake and the other writes of the closed loop that are not transitions (ADR 0013).

`submit` takes a matter in from any channel: validates it (nothing written on bad input), makes it idempotent
on the client's token, locates it (grid and area from the foundation's `locate`; outside every grid it is
flagged for manual triage at the lowest centre whose area contains it, or the top centre), stores its photos
(checked by content, EXIF location read then stripped, encrypted at rest), starts the acceptance clock and
writes the first timeline row and an audit event.
"""

import dataclasses

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.areas.models import Area, Grid
from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
from fengqiao.core import cache
from fengqiao.core.crypto import lookup_hash
from fengqiao.core.identity import IdentityError, normalise_phone
from fengqiao.departments.models import Category
from fengqiao.matters import attachments as attachment_store
from fengqiao.matters import deadlines
from fengqiao.matters.engine import handling_centre_area, new_event
from fengqiao.matters.models import Channel, Complexity, Matter, Stage, Urgency
from fengqiao.matters.workflows import get_workflow

MAX_PHOTOS = 9


@dataclasses.dataclass
class Located:
    area: Area
    grid: Grid | None
    method: str
    needs_triage: bool


REFERENCE_TTL = 60  # seconds (see fengqiao.core.cache)


def _top_area_id():
    from fengqiao.centres.models import Centre

    centre = Centre.objects.filter(active=True).order_by("area__level", "area__code").values_list("area_id", flat=True)
    first = centre.first()
    if first is None:
        first = Area.objects.current().order_by("level", "code").values_list("id", flat=True).first()
    return first


def top_area():
    """The root of the installation's tree that has a centre (province or city), else the shallowest area."""
    area_id = cache.get(("centres", "top"), REFERENCE_TTL, _top_area_id)
    if area_id is None:
        raise ValidationError(_("The area tree is empty: import the divisions first."))
    return Area.objects.get(pk=area_id)


def _centre_area_ids():
    from fengqiao.centres.models import Centre

    return frozenset(Centre.objects.filter(active=True).values_list("area_id", flat=True))


def handling_area_for(area):
    """The lowest area at or above `area` with an active centre; the top area when there is none."""
    with_centre = cache.get(("centres", "areas"), REFERENCE_TTL, _centre_area_ids)
    if area.pk in with_centre:
        return area
    found = handling_centre_area(area)
    return found or top_area()


def _layer():
    from fengqiao.areas.grids import get_layer
    from fengqiao.areas.models import GridLayer

    return cache.get(("grid-layers", "comprehensive"), REFERENCE_TTL, lambda: get_layer(GridLayer.COMPREHENSIVE))


def _grid(grid_id):
    """A grid with its area (without its geometry), cached per process like the locate index itself."""
    return cache.get(
        ("grids", grid_id),
        REFERENCE_TTL,
        lambda: Grid.objects.select_related("area").defer("geometry_wkb").filter(pk=grid_id).first(),
    )


def place(*, lon=None, lat=None, area=None) -> Located:
    """Where a matter belongs. A point outside every grid is not an error: it is flagged for triage."""
    from fengqiao.areas.locate import boundary_index, grid_index
    from fengqiao.core.geo import GeoError, check_lonlat

    if lon is not None and lat is not None:
        try:
            lon, lat = check_lonlat(lon, lat)
        except GeoError as exc:
            raise ValidationError({"location": str(exc)}) from None
        ids = grid_index(_layer()).query_ids([lon], [lat])
        if ids[0] >= 0:
            grid = _grid(int(ids[0]))
            if grid is not None:
                return Located(grid.area, grid, "grid", False)
        area_id = boundary_index().find(lon, lat)
        found = Area.objects.filter(pk=area_id).first() if area_id is not None else None
        if found is not None:
            return Located(found, None, "area-boundary", True)
        return Located(area or top_area(), None, "none", True)
    if area is not None:
        return Located(area, None, "given", False)
    return Located(top_area(), None, "none", True)


def _choice(value, choices, field):
    if value in (None, ""):
        return None
    if value not in choices:
        raise ValidationError({field: _("Unknown %(field)s: %(value)s") % {"field": field, "value": value}})
    return value


def _category(value):
    if value in (None, ""):
        return None
    category = value if isinstance(value, Category) else Category.objects.filter(code=str(value)).first()
    if category is None or not category.active:
        raise ValidationError({"category": _("Unknown category: %(code)s") % {"code": value}})
    return category


def _coordinates(lon, lat):
    if (lon is None) != (lat is None):
        raise ValidationError({"location": _("Give both longitude and latitude, or neither.")})
    if lon is None:
        return None, None
    try:
        return float(lon), float(lat)
    except (TypeError, ValueError):
        raise ValidationError({"location": _("Longitude and latitude must be numbers.")}) from None


def submit(
    *,
    actor,
    channel,
    title="",
    description="",
    category=None,
    urgency=None,
    complexity=None,
    lon=None,
    lat=None,
    address="",
    area=None,
    anonymous=False,
    reporter=None,
    reporter_name="",
    reporter_phone="",
    photos=(),
    client_key="",
    client_token="",
    source="",
    external_id="",
    submitted_at=None,
    now=None,
):
    """Take a matter in. Returns ``(matter, created)``; ``created`` is False when the same client token (or the
    same source record) came before: the first matter is returned and nothing is written.

    ``now`` is the moment of intake (clocks start then; default: the present) — importers of older records and
    the demo pass it; ``submitted_at`` defaults to it."""
    channel = _choice(channel, Channel.values, "channel")
    if channel is None:
        raise ValidationError({"channel": _("The channel is required.")})
    title = (title or "").strip()
    description = (description or "").strip()
    if not title and not description:
        raise ValidationError({"title": _("A matter needs a title or a description.")})
    if len(title) > 200:
        raise ValidationError({"title": _("The title is too long (at most 200 characters).")})
    if len(description) > 10000:
        raise ValidationError({"description": _("The description is too long (at most 10,000 characters).")})
    if not title:
        title = description[:60]
    category = _category(category)
    urgency = _choice(urgency, Urgency.values, "urgency") or Urgency.NORMAL
    complexity = _choice(complexity, Complexity.values, "complexity") or Complexity.SIMPLE
    lon, lat = _coordinates(lon, lat)
    address = (address or "").strip()[:300]
    reporter_name = (reporter_name or "").strip()
    if anonymous and (reporter_name or reporter_phone):
        raise ValidationError({"anonymous": _("An anonymous report cannot carry a name or phone number.")})
    if len(reporter_name) > 60:
        raise ValidationError({"reporter_name": _("The name is too long (at most 60 characters).")})
    phone = ""
    if reporter_phone:
        try:
            phone = normalise_phone(reporter_phone)
        except IdentityError as exc:
            raise ValidationError({"reporter_phone": str(exc)}) from None
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": _("At most %(n)d photos per matter.") % {"n": MAX_PHOTOS}})
    client_token = (client_token or "").strip()
    if len(client_token) > 64:
        raise ValidationError({"client_token": _("The client token is too long (at most 64 characters).")})
    if client_token and not client_key:
        raise ValidationError({"client_token": _("A client token needs a client identity.")})

    if not client_token:  # with a client token the unique constraint decides, below (one query less)
        existing = _existing(client_key, client_token, source, external_id)
        if existing is not None:
            return existing, False

    # Photos first (decoding is the slow part, and a bad photo must refuse the matter before anything is written).
    try:
        processed = [(name, attachment_store.check(data, name)) for name, data in photos]
    except ValidationError as exc:
        raise ValidationError({"photos": exc.messages}) from None
    if lon is None:
        for _name, image in processed:
            if image.gps is not None:  # no location given: take the photo's, as FixMyStreet does
                lon, lat = image.gps
                break
    located = place(lon=lon, lat=lat, area=area)
    if area is not None and lon is not None and located.method != "none":
        if area.path.startswith(located.area.path) and located.grid is None:
            located = Located(area, None, "given", False)  # the point's boundary is coarser: trust the given area
        elif not located.area.path.startswith(area.path):
            raise ValidationError(
                {
                    "area": _("The location lies in %(found)s, not in the area given (%(given)s).")
                    % {"found": located.area.name, "given": area.name}
                }
            )
    handling = handling_area_for(located.area)
    now = now or timezone.now()
    submitted_at = submitted_at or now
    workflow = get_workflow("matter")
    matter = Matter(
        workflow=workflow.name,
        channel=channel,
        title=title,
        description=description,
        category=category,
        urgency=urgency,
        complexity=complexity,
        lon=lon,
        lat=lat,
        address=address,
        grid=located.grid,
        area=located.area,
        location_method=located.method,
        needs_triage=located.needs_triage,
        handling_area=handling,
        anonymous=bool(anonymous),
        reporter=reporter,
        reporter_name=reporter_name,
        reporter_phone=phone,
        reporter_phone_hash=lookup_hash(phone) if phone else "",
        entered_by=actor if actor is not None and not isinstance(actor, str) else None,
        client_key=client_key if client_token else "",
        client_token=client_token,
        source=source,
        external_id=external_id,
        state=workflow.initial,
        state_changed_at=now,
        submitted_at=submitted_at,
    )
    try:
        with transaction.atomic():
            matter.save(force_insert=True)
            stored = [
                attachment_store.store(matter, image, name=name, uploaded_by=matter.entered_by)
                for name, image in processed
            ]
            deadlines.start_clock(matter, Stage.ACCEPT, now=now, fresh=True)
            if matter.provisional_deadline:
                matter.save(update_fields=["provisional_deadline"])
            new_event(
                matter,
                "submit",
                actor=actor,
                payload={"channel": channel, "located_by": located.method, "photos": len(stored)},
                public=True,
                now=now,
            )
            audit.record(
                actor=actor,
                action="matter.submit",
                obj=matter,
                area=matter.area,
                summary=f"{matter.tracking_code} via {channel}",
                data={"channel": channel, "category": category.code if category else "", "photos": len(stored)},
                event_type=EventType.CREATE,
                personal=("reporter_name", "reporter_phone"),
            )
    except IntegrityError:
        # A concurrent submission with the same token won the race: answer with its matter.
        existing = _existing(client_key, client_token, source, external_id)
        if existing is not None:
            return existing, False
        raise
    return matter, True


def _existing(client_key, client_token, source, external_id):
    if client_token and client_key:
        found = Matter.objects.filter(client_key=client_key, client_token=client_token).order_by()[:1]
        if found:
            return found[0]
    if external_id and source:
        found = Matter.objects.filter(source=source, external_id=external_id).order_by()[:1]
        if found:
            return found[0]
    return None


def add_photo(matter, *, actor, name, data, purpose="evidence"):
    """Upload one more photo to a matter (evidence of handling, a later picture)."""
    from fengqiao.matters.models import Attachment

    if matter.attachments.count() >= MAX_PHOTOS * 3:
        raise ValidationError({"photo": _("This matter already has the most photos it can hold.")})
    try:
        image = attachment_store.check(data, name)
    except ValidationError as exc:
        raise ValidationError({"photo": exc.messages}) from None
    with transaction.atomic():
        user = actor if actor is not None and not isinstance(actor, str) else None
        attachment = attachment_store.store(matter, image, name=name, uploaded_by=user, purpose=purpose)
        audit.record(
            actor=actor,
            action="matter.photo",
            obj=matter,
            area=matter.area,
            summary=f"{matter.tracking_code} photo {attachment.sha256[:12]}",
            data={"attachment": attachment.pk, "purpose": purpose},
            event_type=EventType.UPDATE,
        )
    return Attachment.objects.get(pk=attachment.pk)


def reporter_contact(matter, *, actor, reason):
    """The reporter's name and phone unmasked, for a call back: needs the permission and leaves an audit event."""
    if not actor.has_perm("matters.unmask_reporter"):
        raise PermissionError(_("You may not see reporters' contact details."))
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise ValidationError({"reason": _("Say why you need the reporter's contact details.")})
    audit.record(
        actor=actor,
        action="matter.reporter.unmask",
        obj=matter,
        area=matter.area,
        summary=f"{matter.tracking_code} reporter unmasked",
        data={"reason": reason, "fields": ["reporter_name", "reporter_phone"]},
        event_type=EventType.UNMASK,
    )
    return {"name": matter.reporter_name, "phone": matter.reporter_phone}
