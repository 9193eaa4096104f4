"""Writes to governance centres (GZ1), their service spaces (GZ2), the roster of stationed staff (GZ3) and the
walk-in reception log (GZ2).

Every function takes a keyword-only ``actor``, runs in one transaction, records one audit event and raises
``django.core.exceptions.ValidationError`` keyed by the field that is wrong. The `check_*` functions hold the
rules without writing, so forms (admin, API) can show the same errors before anything is saved.
Visitor names and phone numbers never enter audit data.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.areas.codes import Level
from fengqiao.areas.models import Area
from fengqiao.audit import services as audit
from fengqiao.centres.models import Centre, Reception, ServiceSpace, SpaceType, Stationing
from fengqiao.core.changes import apply_changes, jsonable
from fengqiao.core.crypto import lookup_hash
from fengqiao.departments.models import Department

CENTRE_LEVELS = (Level.CITY, Level.COUNTY, Level.TOWN, Level.VILLAGE)


def _full_clean(obj, **kwargs):
    try:
        obj.full_clean(**kwargs)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None


# --- centres ---------------------------------------------------------------------------------------------


def check_centre_area(area: Area, *, centre: Centre | None = None) -> None:
    """A centre needs a current city, county, town/street or village/community, and one centre per area."""
    if area.level not in CENTRE_LEVELS:
        raise ValidationError(
            {
                "area": [
                    _("Governance centres exist at city, county, town and village level, not at %(level)s.")
                    % {"level": Level(area.level).label}
                ]
            }
        )
    if not area.is_current:
        raise ValidationError({"area": [_("Area %(code)s is retired.") % {"code": area.code}]})
    clash = Centre.objects.filter(area=area)
    if centre is not None and centre.pk:
        clash = clash.exclude(pk=centre.pk)
    if clash.exists():
        raise ValidationError({"area": [_("Area %(code)s already has a centre.") % {"code": area.code}]})


@transaction.atomic
def create_centre(
    *,
    actor,
    area: Area,
    name: str,
    address: str = "",
    duty_phone: str = "",
    opened_on: datetime.date | None = None,
    floor_area_m2: int | None = None,
    active: bool = True,
) -> Centre:
    check_centre_area(area)
    centre = Centre(
        area=area,
        name=(name or "").strip(),
        address=(address or "").strip(),
        duty_phone=(duty_phone or "").strip(),
        opened_on=opened_on,
        floor_area_m2=floor_area_m2,
        active=active,
    )
    _full_clean(centre, exclude=["area"])
    centre.save()
    audit.record(
        actor=actor,
        action="centre.create",
        obj=centre,
        summary=f"{area.code} {centre.name}",
        data={"area": area.code, "level": area.level},
    )
    return centre


@transaction.atomic
def update_centre(
    centre: Centre,
    *,
    actor,
    name: str | None = None,
    address: str | None = None,
    duty_phone: str | None = None,
    opened_on: datetime.date | None = None,
    floor_area_m2: int | None = None,
    active: bool | None = None,
) -> Centre:
    """Change the given fields (None leaves a field as it is). A centre never moves to another area."""
    centre = Centre.objects.select_for_update().select_related("area").get(pk=centre.pk)
    changed = apply_changes(
        centre,
        {
            "name": name,
            "address": address,
            "duty_phone": duty_phone,
            "opened_on": opened_on,
            "floor_area_m2": floor_area_m2,
            "active": active,
        },
    )
    if not changed:
        return centre
    _full_clean(centre, exclude=["area"])
    centre.save(update_fields=[*changed, "updated_at"])
    audit.record(
        actor=actor,
        action="centre.update",
        obj=centre,
        summary=f"{centre.area.code}: {', '.join(changed)}",
        data={"changed": jsonable(changed)},
    )
    return centre


# --- service spaces --------------------------------------------------------------------------------------


def check_space(centre: Centre, space_type: SpaceType, *, space: ServiceSpace | None = None) -> None:
    """A centre has at most one active reception hall ("一厅")."""
    if not space_type.is_hall:
        return
    halls = ServiceSpace.objects.filter(centre=centre, space_type__is_hall=True, active=True)
    if space is not None and space.pk:
        halls = halls.exclude(pk=space.pk)
    if halls.exists():
        raise ValidationError({"space_type": [_("This centre already has a reception hall.")]})


@transaction.atomic
def add_space(
    *, actor, centre: Centre, space_type: SpaceType, name: str = "", seats: int | None = None, active: bool = True
) -> ServiceSpace:
    centre = Centre.objects.select_for_update().get(pk=centre.pk)
    if active:
        check_space(centre, space_type)
    space = ServiceSpace(
        centre=centre, space_type=space_type, name=(name or "").strip() or space_type.name, seats=seats, active=active
    )
    _full_clean(space)
    space.save()
    audit.record(
        actor=actor,
        action="centre.space.add",
        obj=space,
        summary=f"{centre.name} · {space.name} ({space_type.code})",
        data={"centre": centre.pk, "space_type": space_type.code},
    )
    return space


@transaction.atomic
def update_space(
    space: ServiceSpace,
    *,
    actor,
    name: str | None = None,
    space_type: SpaceType | None = None,
    seats: int | None = None,
    active: bool | None = None,
) -> ServiceSpace:
    Centre.objects.select_for_update().filter(pk=space.centre_id).first()
    space = ServiceSpace.objects.select_related("space_type").get(pk=space.pk)
    changed = apply_changes(space, {"name": name, "space_type": space_type, "seats": seats, "active": active})
    if not changed:
        return space
    if space.active:
        check_space(space.centre, space.space_type, space=space)
    _full_clean(space)
    space.save(update_fields=list(changed))
    audit.record(
        actor=actor,
        action="centre.space.update",
        obj=space,
        summary=f"{space.name}: {', '.join(changed)}",
        data={"changed": jsonable(changed)},
    )
    return space


# --- roster of stationed staff ---------------------------------------------------------------------------


def overlapping_stationings(centre, staff, valid_from, valid_to, *, exclude=None):
    """Stationings of `staff` in `centre` whose period shares a day with [valid_from, valid_to] (inclusive;
    an open end means "until further notice")."""
    queryset = Stationing.objects.filter(centre=centre, staff=staff).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=valid_from)
    )
    if valid_to is not None:
        queryset = queryset.filter(valid_from__lte=valid_to)
    if exclude is not None and exclude.pk:
        queryset = queryset.exclude(pk=exclude.pk)
    return queryset


def check_stationing(
    *,
    centre: Centre,
    department: Department,
    staff,
    valid_from: datetime.date,
    valid_to: datetime.date | None = None,
    space: ServiceSpace | None = None,
    stationing: Stationing | None = None,
) -> None:
    """The rules of the roster: a period in order, no overlap for one person in one centre, a space of this
    centre, an active department, an active account and an active centre (for a new stationing)."""
    errors = {}
    if valid_from is None:
        errors["valid_from"] = [_("This field cannot be null.")]
    elif valid_to is not None and valid_to < valid_from:
        errors["valid_to"] = [_("The end date is before the start date.")]
    if space is not None and space.centre_id != centre.pk:
        errors["space"] = [_("The space belongs to another centre.")]
    if stationing is None:
        if not department.active:
            errors["department"] = [_("The department is inactive.")]
        if not staff.is_active:
            errors["staff"] = [_("The user account is inactive.")]
        if not centre.active:
            errors["centre"] = [_("The centre is inactive.")]
    if "valid_from" not in errors and "valid_to" not in errors:
        clash = overlapping_stationings(centre, staff, valid_from, valid_to, exclude=stationing).first()
        if clash is not None:
            errors["valid_from"] = [
                _("%(staff)s is already stationed in this centre from %(start)s to %(end)s.")
                % {
                    "staff": staff.get_username(),
                    "start": clash.valid_from.isoformat(),
                    "end": clash.valid_to.isoformat() if clash.valid_to else _("further notice"),
                }
            ]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def station_staff(
    *,
    actor,
    centre: Centre,
    department: Department,
    staff,
    valid_from: datetime.date,
    valid_to: datetime.date | None = None,
    duty: str = "",
    space: ServiceSpace | None = None,
) -> Stationing:
    """Put a member of a department's staff on the centre's roster for a period (inclusive dates)."""
    centre = Centre.objects.select_for_update().get(pk=centre.pk)  # serialises roster changes per centre
    check_stationing(
        centre=centre, department=department, staff=staff, valid_from=valid_from, valid_to=valid_to, space=space
    )
    stationing = Stationing(
        centre=centre,
        department=department,
        staff=staff,
        valid_from=valid_from,
        valid_to=valid_to,
        duty=(duty or "").strip(),
        space=space,
    )
    _full_clean(stationing)
    stationing.save()
    audit.record(
        actor=actor,
        action="centre.station",
        obj=stationing,
        summary=f"{staff.get_username()} @ {centre.name} ({department.code})",
        data={
            "centre": centre.pk,
            "department": department.pk,
            "staff": staff.pk,
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat() if valid_to else None,
        },
    )
    return stationing


@transaction.atomic
def update_stationing(
    stationing: Stationing,
    *,
    actor,
    duty: str | None = None,
    space: ServiceSpace | None = None,
    clear_space: bool = False,
) -> Stationing:
    """Change the duty or the space of a stationing (the period changes only through `end_stationing`)."""
    stationing = Stationing.objects.select_for_update().select_related("centre", "staff").get(pk=stationing.pk)
    changed = apply_changes(stationing, {"duty": duty, "space": space})
    if clear_space and stationing.space_id is not None:
        changed["space"] = [stationing.space_id, None]
        stationing.space = None
    if not changed:
        return stationing
    if stationing.space is not None and stationing.space.centre_id != stationing.centre_id:
        raise ValidationError({"space": [_("The space belongs to another centre.")]})
    _full_clean(stationing)
    stationing.save(update_fields=list(changed))
    audit.record(
        actor=actor,
        action="centre.stationing.update",
        obj=stationing,
        summary=f"{stationing.staff.get_username()}: {', '.join(changed)}",
        data={"changed": jsonable(changed)},
    )
    return stationing


@transaction.atomic
def end_stationing(stationing: Stationing, *, actor, valid_to: datetime.date | None = None) -> Stationing:
    """End a stationing on `valid_to` (the last day on duty; default today). An ended stationing may be ended
    earlier, never later."""
    Centre.objects.select_for_update().filter(pk=stationing.centre_id).first()
    stationing = Stationing.objects.select_related("staff").get(pk=stationing.pk)
    valid_to = valid_to or timezone.localdate()
    if valid_to < stationing.valid_from:
        raise ValidationError({"valid_to": [_("The end date is before the start date.")]})
    if stationing.valid_to is not None and valid_to >= stationing.valid_to:
        raise ValidationError(
            {"valid_to": [_("The stationing already ended on %(date)s.") % {"date": stationing.valid_to.isoformat()}]}
        )
    old = stationing.valid_to
    stationing.valid_to = valid_to
    stationing.save(update_fields=["valid_to"])
    audit.record(
        actor=actor,
        action="centre.stationing.end",
        obj=stationing,
        summary=f"{stationing.staff.get_username()} until {valid_to.isoformat()}",
        data={"valid_to": [old.isoformat() if old else None, valid_to.isoformat()]},
    )
    return stationing


# --- reception log ---------------------------------------------------------------------------------------


def check_reception(
    *, centre: Centre, space: ServiceSpace | None = None, department: Department | None = None, outcome: str = ""
) -> None:
    errors = {}
    if space is not None and space.centre_id != centre.pk:
        errors["space"] = [_("The space belongs to another centre.")]
    if outcome == Reception.Outcome.REFERRED and space is None and department is None:
        errors["outcome"] = [_("A referral names the space or the department it was referred to.")]
    if errors:
        raise ValidationError(errors)


def _actor_user(actor):
    return actor if actor is not None and not isinstance(actor, str) and actor.pk else None


@transaction.atomic
def log_reception(
    *,
    actor,
    centre: Centre,
    purpose: str,
    received_at: datetime.datetime | None = None,
    visitor_name: str = "",
    visitor_phone: str = "",
    headcount: int = 1,
    space: ServiceSpace | None = None,
    department: Department | None = None,
    outcome: str = Reception.Outcome.ANSWERED,
    received_by=None,
) -> Reception:
    """Log a walk-in visit. Name and phone are stored encrypted; the phone's keyed hash allows exact search."""
    check_reception(centre=centre, space=space, department=department, outcome=outcome)
    visitor_phone = "".join((visitor_phone or "").split())
    reception = Reception(
        centre=centre,
        received_at=received_at or timezone.now(),
        visitor_name=(visitor_name or "").strip(),
        visitor_phone=visitor_phone,
        visitor_phone_hash=lookup_hash(visitor_phone) if visitor_phone else "",
        headcount=headcount,
        purpose=(purpose or "").strip(),
        space=space,
        department=department,
        outcome=outcome,
        received_by=received_by if received_by is not None else _actor_user(actor),
    )
    if reception.received_at > timezone.now() + datetime.timedelta(minutes=5):
        raise ValidationError({"received_at": [_("The time of the visit is in the future.")]})
    if headcount is None or headcount < 1:
        raise ValidationError({"headcount": [_("At least one visitor.")]})
    _full_clean(reception)
    reception.save()
    audit.record(
        actor=actor,
        action="centre.reception.log",
        obj=reception,
        summary=f"{centre.name} {reception.outcome}",
        data={"centre": centre.pk, "outcome": outcome, "headcount": headcount, "has_phone": bool(visitor_phone)},
    )
    return reception


@transaction.atomic
def update_reception(
    reception: Reception,
    *,
    actor,
    purpose: str | None = None,
    headcount: int | None = None,
    space: ServiceSpace | None = None,
    department: Department | None = None,
    outcome: str | None = None,
) -> Reception:
    """Record what became of a visit (referral, outcome). Visitor details are not changed here."""
    reception = Reception.objects.select_for_update().get(pk=reception.pk)
    changed = apply_changes(
        reception,
        {"purpose": purpose, "headcount": headcount, "space": space, "department": department, "outcome": outcome},
    )
    if not changed:
        return reception
    check_reception(
        centre=reception.centre, space=reception.space, department=reception.department, outcome=reception.outcome
    )
    if reception.headcount < 1:
        raise ValidationError({"headcount": [_("At least one visitor.")]})
    _full_clean(reception)
    reception.save(update_fields=[*changed, "updated_at"])
    audit.record(
        actor=actor,
        action="centre.reception.update",
        obj=reception,
        summary=f"{reception.centre.name}: {', '.join(changed)}",
        data={"changed": jsonable({k: v for k, v in changed.items() if k != "purpose"})},
    )
    return reception
