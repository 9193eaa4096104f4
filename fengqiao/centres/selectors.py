"""Reads of centres, the roster and the reception log."""

import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from fengqiao.areas.models import Area
from fengqiao.centres.models import Centre, Reception, Stationing
from fengqiao.core.crypto import lookup_hash


def centre_for(area: Area) -> Centre | None:
    """The nearest active centre at or above `area` (a villager group is served by its village's centre)."""
    paths = []
    prefix = ""
    for code in area.ancestor_codes():
        prefix += f"{code}/"
        paths.append(prefix)
    centres = {c.area.path: c for c in Centre.objects.filter(area__path__in=paths, active=True).select_related("area")}
    for path in reversed(paths):
        if path in centres:
            return centres[path]
    return None


def centres_within(area: Area) -> QuerySet:
    return Centre.objects.filter(area__path__startswith=area.path)


def current_filter(on: datetime.date | None = None, prefix: str = "") -> Q:
    """Q for stationings on duty on `on` (default today)."""
    on = on or timezone.localdate()
    return Q(**{f"{prefix}valid_from__lte": on}) & (
        Q(**{f"{prefix}valid_to__isnull": True}) | Q(**{f"{prefix}valid_to__gte": on})
    )


def roster(centre: Centre, *, on: datetime.date | None = None) -> QuerySet:
    """Who is stationed in `centre` on `on` (default today), with department, staff and space loaded."""
    return (
        Stationing.objects.filter(centre=centre)
        .filter(current_filter(on))
        .select_related("department", "staff", "space")
        .order_by("department__code", "staff__username")
    )


def receptions_by_phone(phone: str, *, centre: Centre | None = None) -> QuerySet:
    """Receptions whose visitor gave this phone number (exact match through the keyed hash; no decryption)."""
    phone = "".join((phone or "").split())
    if not phone:
        return Reception.objects.none()
    queryset = Reception.objects.filter(visitor_phone_hash=lookup_hash(phone))
    return queryset.filter(centre=centre) if centre is not None else queryset
