"""Every write to the registers of people, places and organisations (style: one transaction, keyword-only
actor, one audit event). Personal values are masked in the audit (`personal=`; encrypted fields are masked by
`audit.redact` anyway); free text (reasons, notes, summaries) passes through `audit.redact.redact_text`, which masks
anything shaped like a phone or ID number. Bad input raises ValidationError naming the field, and nothing is
written."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.accounts.scope import Scope
from fengqiao.areas.codes import Level
from fengqiao.areas.models import Area
from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
from fengqiao.audit.redact import redact_text
from fengqiao.core.changes import apply_changes, jsonable
from fengqiao.core.crypto import lookup_hash
from fengqiao.core.identity import IdentityError, normalise_phone, parse_id_number
from fengqiao.people.codes import CreditCodeError, parse_credit_code
from fengqiao.people.models import (
    Building,
    Household,
    Organisation,
    Person,
    PersonIdentityConflict,
    Place,
    SpecialCare,
    default_retention_until,
)

PERSONAL = ["name", "id_number", "phone", "address", "details"]
HASHES = {"id_number_hash", "phone_hash"}


FREE_TEXT_KEYS = ("reason", "note")


def _record(**kwargs):
    """`audit.record` with the free text masked: the summary and the reason/note in `data` may hold phone or ID
    numbers typed by staff (`redact_text`)."""
    kwargs["summary"] = redact_text(kwargs.get("summary", ""))
    data = kwargs.get("data")
    if data:
        kwargs["data"] = {
            k: redact_text(v) if k in FREE_TEXT_KEYS and isinstance(v, str) else v for k, v in data.items()
        }
    return audit.record(**kwargs)


def actor_scope(actor) -> Scope | None:
    """The Scope of a User actor; None for a process (a command, an import, a test), which is trusted."""
    if actor is None or isinstance(actor, str):
        return None
    return Scope.for_user(actor)


def _full_clean(obj, exclude=()):
    obj.full_clean(exclude=[*exclude, "area", "grid", "household", "person"], validate_unique=False)


def _check_place(area, grid, household=None):
    errors = {}
    if grid is not None and not grid.area.path.startswith(area.path):
        errors["grid"] = [_("The grid lies outside the area.")]
    if household is not None and household.area_id != area.pk:
        errors["household"] = [_("The household is registered in another area.")]
    if errors:
        raise ValidationError(errors)


def _personal(obj):
    return PERSONAL if isinstance(obj, Person | Household) else ()


def _audit_create(actor, obj, fields):
    data = {f: getattr(obj, f"{f}_id", None) or getattr(obj, f) for f in fields}
    _record(
        actor=actor,
        action=f"people.{obj._meta.model_name}.create",
        obj=obj,
        summary=f"{obj._meta.model_name} {obj.pk}",
        data=jsonable({k: [None, v] for k, v in data.items() if v not in ("", None)}),
        personal=_personal(obj),
    )


def _save_changes(obj, actor, changed):
    if not changed:
        return obj
    _full_clean(obj)
    obj.save(update_fields=[*changed, "updated_at"])
    _record(
        actor=actor,
        action=f"people.{obj._meta.model_name}.update",
        obj=obj,
        summary=f"{obj._meta.model_name} {obj.pk}: {', '.join(changed)}",
        data={"changed": jsonable({k: v for k, v in changed.items() if k not in HASHES})},
        personal=_personal(obj),
    )
    return obj


# --- households ------------------------------------------------------------------------------------------


@transaction.atomic
def create_household(*, actor, area, number="", address="", grid=None) -> Household:
    if area.level not in (Level.VILLAGE, Level.GROUP):
        raise ValidationError({"area": [_("A household is registered in a village or community.")]})
    _check_place(area, grid)
    household = Household(area=area, grid=grid, number=(number or "").strip(), address=(address or "").strip())
    _full_clean(household)
    household.save()
    _audit_create(actor, household, ["area", "grid", "number", "address"])
    return household


@transaction.atomic
def update_household(household, *, actor, number=None, address=None, grid=None) -> Household:
    household = Household.objects.select_for_update().select_related("area").get(pk=household.pk)
    changed = apply_changes(household, {"number": number, "address": address, "grid": grid})
    _check_place(household.area, household.grid)
    return _save_changes(household, actor, changed)


# --- persons ---------------------------------------------------------------------------------------------


def identity_fields(id_number, phone):
    """{field: value} for the ID number (with hash, birth date, sex) and the phone (with hash), validated."""
    values, errors = {}, {}
    if id_number is not None:
        if str(id_number).strip():
            try:
                parsed = parse_id_number(id_number)
            except IdentityError as exc:
                errors["id_number"] = [str(exc)]
            else:
                values |= {
                    "id_number": parsed.number,
                    "id_number_hash": lookup_hash(parsed.number),
                    "birth_date": parsed.birth_date,
                    "sex": parsed.sex,
                }
        else:
            values |= {"id_number": "", "id_number_hash": "", "birth_date": None, "sex": ""}
    if phone is not None:
        if str(phone).strip():
            try:
                number = normalise_phone(phone)
            except IdentityError as exc:
                errors["phone"] = [str(exc)]
            else:
                values |= {"phone": number, "phone_hash": lookup_hash(number)}
        else:
            values |= {"phone": "", "phone_hash": ""}
    if errors:
        raise ValidationError(errors)
    return values


def _check_unique_id(id_number_hash, *, actor, exclude=None) -> list[Person]:
    """Refuse an ID number already registered within the actor's scope, naming that record; return the persons
    outside the scope that hold it (to be flagged, never revealed: `_flag_conflicts`). Costs one query, and one
    more (the actor's scope) only when the number is already registered."""
    if not id_number_hash:
        return []
    clash = Person.objects.filter(id_number_hash=id_number_hash).select_related("area").order_by("pk")
    if exclude is not None:
        clash = clash.exclude(pk=exclude.pk)
    clashes = list(clash)
    if not clashes:
        return []
    scope = actor_scope(actor)
    for other in clashes:
        if scope is None or scope.covers(other.area):
            raise ValidationError(
                {
                    "id_number": [
                        _("A person with this ID number is already registered: record %(id)s in %(area)s.")
                        % {"id": other.pk, "area": other.area.name}
                    ]
                }
            )
    return clashes


def common_area(first: Area, second: Area) -> Area | None:
    """The lowest area holding both (their lowest common ancestor), or None under different roots."""
    shared = []
    for a, b in zip(first.ancestor_codes(), second.ancestor_codes(), strict=False):
        if a != b:
            break
        shared.append(a)
    if not shared:
        return None
    if shared[-1] == first.code:
        return first
    if shared[-1] == second.code:
        return second
    return Area.objects.get(code=shared[-1])


def _flag_conflicts(person, others, *, actor):
    """Flag `person` against each earlier record of the same ID number outside the actor's scope. The audit event
    goes to the common area, where the reviewers are; nothing of it reaches the actor's response."""
    for other in others:
        area = common_area(person.area, other.area)
        conflict, created = PersonIdentityConflict.objects.get_or_create(
            person=person, existing=other, defaults={"area": area}
        )
        if not created:
            continue
        _record(
            actor=actor,
            action="people.personidentityconflict.create",
            obj=conflict,
            area=area,
            summary=f"ID number of person {person.pk} already registered as person {other.pk}",
            data={"person": person.pk, "existing": other.pk},
        )


@transaction.atomic
def create_person(
    *,
    actor,
    area,
    name,
    residence_type,
    id_number="",
    phone="",
    grid=None,
    household=None,
    relationship="",
    ethnicity="",
) -> Person:
    """Register a person. Birth date and sex come from the ID number; ID number and phone are validated."""
    identity = identity_fields(id_number, phone)
    _check_place(area, grid, household)
    outside = _check_unique_id(identity.get("id_number_hash"), actor=actor)
    person = Person(
        area=area,
        grid=grid,
        household=household,
        relationship=relationship or "",
        residence_type=residence_type,
        name=(name or "").strip(),
        ethnicity=(ethnicity or "").strip(),
        **identity,
    )
    _full_clean(person)
    person.save()
    _audit_create(
        actor, person, ["area", "grid", "household", "relationship", "residence_type", "name", "id_number", "phone"]
    )
    _flag_conflicts(person, outside, actor=actor)
    return person


@transaction.atomic
def update_person(
    person,
    *,
    actor,
    name=None,
    residence_type=None,
    id_number=None,
    phone=None,
    grid=None,
    household=None,
    relationship=None,
    ethnicity=None,
) -> Person:
    person = Person.objects.select_for_update().select_related("area").get(pk=person.pk)
    identity = identity_fields(id_number, phone)
    outside = []
    if identity.get("id_number_hash") and identity["id_number_hash"] != person.id_number_hash:
        outside = _check_unique_id(identity["id_number_hash"], actor=actor, exclude=person)
    changed = apply_changes(
        person,
        {
            "name": name,
            "residence_type": residence_type,
            "grid": grid,
            "household": household,
            "relationship": relationship,
            "ethnicity": ethnicity,
        },
    )
    for field, value in identity.items():
        if getattr(person, field) != value:
            changed[field] = [getattr(person, field), value]
            setattr(person, field, value)
    _check_place(person.area, person.grid, person.household)
    _save_changes(person, actor, changed)
    _flag_conflicts(person, outside, actor=actor)
    return person


@transaction.atomic
def resolve_identity_conflict(conflict, *, actor, note="") -> PersonIdentityConflict:
    """Mark a flagged pair as reviewed (the records themselves are corrected through update_person). A User actor
    must have both persons in scope; otherwise the conflict is "not found"."""
    conflict = (
        PersonIdentityConflict.objects.select_for_update(of=("self",))
        .select_related("person__area", "existing__area", "area")
        .get(pk=conflict.pk)
    )
    scope = actor_scope(actor)
    if scope is not None and not (scope.covers(conflict.person.area) and scope.covers(conflict.existing.area)):
        raise PersonIdentityConflict.DoesNotExist("no such identity conflict")
    if conflict.resolved_at is not None:
        raise ValidationError({"resolved_at": [_("This conflict has already been resolved.")]})
    conflict.resolved_at = timezone.now()
    conflict.resolved_by = audit.actor_label(actor)[:150]
    conflict.save(update_fields=["resolved_at", "resolved_by", "updated_at"])
    _record(
        actor=actor,
        action="people.personidentityconflict.update",
        obj=conflict,
        area=conflict.area,
        summary=f"identity conflict {conflict.pk} resolved" + (f": {note.strip()}" if (note or "").strip() else ""),
        data={"resolved": True, "note": (note or "").strip()},
    )
    return conflict


@transaction.atomic
def unmask_person(person, *, actor, reason) -> dict:
    """The plaintext personal data of `person`, for a stated reason; the reading is audited (event type unmask)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the data is needed.")]})
    fields = ["name", "id_number", "phone"]
    _record(
        actor=actor,
        action="people.person.unmask",
        obj=person,
        summary=reason,
        data={"reason": reason, "fields": fields},
        event_type=EventType.UNMASK,
    )
    return {field: getattr(person, field) for field in fields}


# --- buildings, places, organisations --------------------------------------------------------------------


@transaction.atomic
def create_building(*, actor, area, address, grid=None, floors=None, use=Building.Use.RESIDENTIAL) -> Building:
    _check_place(area, grid)
    building = Building(area=area, grid=grid, address=(address or "").strip(), floors=floors, use=use)
    _full_clean(building)
    building.save()
    _audit_create(actor, building, ["area", "grid", "address", "floors", "use"])
    return building


@transaction.atomic
def update_building(building, *, actor, address=None, grid=None, floors=None, use=None) -> Building:
    building = Building.objects.select_for_update().select_related("area").get(pk=building.pk)
    changed = apply_changes(building, {"address": address, "grid": grid, "floors": floors, "use": use})
    _check_place(building.area, building.grid)
    return _save_changes(building, actor, changed)


def _check_safety(place):
    if place.safety_status != Place.Safety.NONE and place.safety_date is None:
        raise ValidationError({"safety_date": [_("Give the date of the certification status.")]})


@transaction.atomic
def create_place(
    *, actor, area, kind, name, address="", grid=None, safety_status=Place.Safety.NONE, safety_date=None
) -> Place:
    _check_place(area, grid)
    place = Place(
        area=area,
        grid=grid,
        kind=kind,
        name=(name or "").strip(),
        address=(address or "").strip(),
        safety_status=safety_status,
        safety_date=safety_date,
    )
    _check_safety(place)
    _full_clean(place)
    place.save()
    _audit_create(actor, place, ["area", "grid", "kind", "name", "safety_status", "safety_date"])
    return place


@transaction.atomic
def update_place(
    place, *, actor, kind=None, name=None, address=None, grid=None, safety_status=None, safety_date=None
) -> Place:
    place = Place.objects.select_for_update().select_related("area").get(pk=place.pk)
    changed = apply_changes(
        place,
        {
            "kind": kind,
            "name": name,
            "address": address,
            "grid": grid,
            "safety_status": safety_status,
            "safety_date": safety_date,
        },
    )
    _check_place(place.area, place.grid)
    _check_safety(place)
    return _save_changes(place, actor, changed)


def _credit_code(value):
    if not (value or "").strip():
        return ""
    try:
        return parse_credit_code(value)
    except CreditCodeError as exc:
        raise ValidationError({"credit_code": [str(exc)]}) from None


@transaction.atomic
def create_organisation(*, actor, area, kind, name, credit_code="", points=0) -> Organisation:
    organisation = Organisation(
        area=area, kind=kind, name=(name or "").strip(), credit_code=_credit_code(credit_code), points=points or 0
    )
    _full_clean(organisation)
    organisation.save()
    _audit_create(actor, organisation, ["area", "kind", "name", "credit_code", "points"])
    return organisation


@transaction.atomic
def update_organisation(organisation, *, actor, kind=None, name=None, credit_code=None, points=None) -> Organisation:
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    code = None if credit_code is None else _credit_code(credit_code)
    changed = apply_changes(organisation, {"kind": kind, "name": name, "credit_code": code, "points": points})
    return _save_changes(organisation, actor, changed)


# --- special care ----------------------------------------------------------------------------------------


def _check_care(care):
    if care.category == SpecialCare.Category.MENTAL_ILLNESS:
        if care.risk_level is None:
            raise ValidationError({"risk_level": [_("Severe mental illness needs a risk level from 0 to 5.")]})
    elif care.risk_level is not None:
        raise ValidationError({"risk_level": [_("A risk level is kept for severe mental illness only.")]})
    if care.since and care.until and care.until < care.since:
        raise ValidationError({"until": [_("The last day of care is before the first day.")]})
    if care.since and care.retention_until and care.retention_until < care.since:
        raise ValidationError({"retention_until": [_("The end date is before the start date.")]})
    if care.until and care.retention_until and care.retention_until < care.until:
        raise ValidationError({"retention_until": [_("The erasure date is before the last day of care.")]})


def _default_retention(care, today=None):
    """The end of the category's retention period (models.SPECIAL_CARE_RETENTION_DAYS), counted from the last day
    of care once it ended, else from the first day, else from the day of recording."""
    if care.category not in SpecialCare.Category.values:
        return None  # full_clean names the unknown category
    start = care.until or care.since or today or timezone.localdate()
    return default_retention_until(care.category, start)


@transaction.atomic
def create_special_care(
    *, actor, person, category, risk_level=None, details="", since=None, until=None, retention_until=None
) -> SpecialCare:
    """Record a person in a special group. Without `retention_until` the category's default period applies."""
    care = SpecialCare(
        person=person,
        category=category,
        risk_level=risk_level,
        details=(details or "").strip(),
        since=since,
        until=until,
        retention_until=retention_until,
    )
    if care.retention_until is None:
        care.retention_until = _default_retention(care)
    _check_care(care)
    _full_clean(care)
    care.save()
    _record(
        actor=actor,
        action="people.specialcare.create",
        obj=care,
        area=person.area,
        # the category itself is sensitive and the audit outlives the record (retention): ids only
        summary=f"special care record for person {person.pk}",
        data={
            "person": person.pk,
            "has_details": bool(care.details),
            "retention_until": care.retention_until.isoformat() if care.retention_until else None,
        },
    )
    return care


@transaction.atomic
def update_special_care(
    care, *, actor, category=None, risk_level=None, details=None, since=None, until=None, retention_until=None
) -> SpecialCare:
    """Change a record. Ending it (setting `until`) without a `retention_until` restarts the category's retention
    period from the last day of care; a record still without a retention date gets the default one."""
    care = SpecialCare.objects.select_for_update().get(pk=care.pk)
    changed = apply_changes(
        care,
        {
            "category": category,
            "risk_level": risk_level,
            "details": details,
            "since": since,
            "until": until,
            "retention_until": retention_until,
        },
    )
    if retention_until is None and ("until" in changed or care.retention_until is None):
        default = _default_retention(care)
        if default != care.retention_until:
            changed["retention_until"] = [care.retention_until, default]
            care.retention_until = default
    if not changed:
        return care
    _check_care(care)
    _full_clean(care)
    care.save(update_fields=[*changed, "updated_at"])
    _record(
        actor=actor,
        action="people.specialcare.update",
        obj=care,
        summary=f"special care {care.pk}: {', '.join(changed)}",
        data={"changed": jsonable({k: v for k, v in changed.items() if k != "details"}), "fields": list(changed)},
    )
    return care


def end_special_care(care, *, actor, until=None, retention_until=None) -> SpecialCare:
    """End the care on `until` (default today); the retention period then runs from that day."""
    return update_special_care(care, actor=actor, until=until or timezone.localdate(), retention_until=retention_until)


def record_care_reads(*, actor, records):
    """Audit that `actor` read special care records: one event per record, or one naming the ids of a list."""
    records = list(records)
    areas = {r.person.area for r in records}  # callers pass records with person__area selected
    area = areas.pop() if len(areas) == 1 else None  # one area, or none for a list that spans several
    if len(records) == 1:
        audit.record_read(actor=actor, obj=records[0], reason="special care record", fields=["details"], area=area)
    elif records:
        _record(
            actor=actor,
            action="people.specialcare.read",
            object_type=SpecialCare._meta.label_lower,
            summary=f"{len(records)} special care records",
            data={"ids": [r.pk for r in records]},
            event_type=EventType.READ,
            area=area,
        )


@transaction.atomic
def erase_expired(now: datetime.datetime | datetime.date | None = None, *, actor=None) -> int:
    """Delete the special care records whose retention date lies before the day of `now` (default: today), and
    return how many (PIPL Art. 47). Plain and idempotent, for a daily background job (`erase_expired()`) as well as
    the ``fengqiao people erase-expired`` command; `actor` defaults to the system. One audit event per run, with
    the counts per category, never the content."""
    if now is None:
        today = timezone.localdate()
    elif isinstance(now, datetime.datetime):
        today = timezone.localdate(now) if timezone.is_aware(now) else now.date()
    else:
        today = now
    expired = SpecialCare.objects.filter(retention_until__lt=today)
    counts = {}
    for category in expired.values_list("category", flat=True):
        counts[category] = counts.get(category, 0) + 1
    deleted, _detail = expired.delete()
    _record(
        actor=actor,
        action="people.specialcare.delete",
        object_type=SpecialCare._meta.label_lower,
        summary=f"{deleted} expired special care records erased",
        data={"before": today.isoformat(), "deleted": deleted, "by_category": counts},
    )
    return deleted
