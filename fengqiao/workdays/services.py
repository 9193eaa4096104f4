"""Writes to the override table of the working-day calendar (ADR 0011).

Every function takes a keyword-only ``actor``, runs in one transaction, records one audit event and raises
``django.core.exceptions.ValidationError`` keyed by the field that is wrong. The process's cached table is dropped by
the model's signals (`cache`), whoever writes.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
from fengqiao.core.changes import apply_changes, jsonable
from fengqiao.workdays.models import CalendarOverride


def _values(override: CalendarOverride) -> dict:
    return {"date": override.date.isoformat(), "kind": override.kind, "name": override.name, "note": override.note}


def _check(override: CalendarOverride) -> None:
    errors = {}
    if not isinstance(override.date, datetime.date) or isinstance(override.date, datetime.datetime):
        errors["date"] = [_("Enter a date (YYYY-MM-DD).")]
    if override.kind not in CalendarOverride.Kind.values:
        errors["kind"] = [
            _("Unknown kind %(kind)s: use holiday or workday.") % {"kind": override.kind},
        ]
    if not override.name:
        errors["name"] = [_("Give the day a name, for example 元旦 or 调休上班.")]
    if errors:
        raise ValidationError(errors)
    try:
        override.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None


def check_date_free(date: datetime.date, *, override: CalendarOverride | None = None) -> None:
    clash = CalendarOverride.objects.filter(date=date)
    if override is not None and override.pk:
        clash = clash.exclude(pk=override.pk)
    if clash.exists():
        raise ValidationError({"date": [_("%(date)s already has an override.") % {"date": date.isoformat()}]})


@transaction.atomic
def create_override(*, actor, date: datetime.date, kind: str, name: str, note: str = "") -> CalendarOverride:
    """Enter one day of the State Council's holiday notice: a holiday (day off) or a make-up workday."""
    override = CalendarOverride(date=date, kind=kind, name=(name or "").strip(), note=(note or "").strip())
    _check(override)
    check_date_free(date)
    override.save()
    audit.record(
        actor=actor,
        action="workdays.override.create",
        event_type=EventType.CREATE,
        obj=override,
        summary=str(override),
        after=_values(override),
    )
    return override


@transaction.atomic
def update_override(
    override: CalendarOverride, *, actor, kind: str | None = None, name: str | None = None, note: str | None = None
) -> CalendarOverride:
    """Change an override's kind, name or note (a wrong date: delete the override and enter the right day)."""
    override = CalendarOverride.objects.select_for_update().get(pk=override.pk)
    changed = apply_changes(override, {"kind": kind, "name": name, "note": note})
    if not changed:
        return override
    _check(override)
    override.save(update_fields=[*changed, "updated_at"])
    changes = jsonable(changed)
    audit.record(
        actor=actor,
        action="workdays.override.update",
        event_type=EventType.UPDATE,
        obj=override,
        summary=str(override),
        before={k: old for k, (old, _new) in changes.items()},
        after={k: new for k, (_old, new) in changes.items()},
    )
    return override


@transaction.atomic
def delete_override(override: CalendarOverride, *, actor) -> None:
    """Remove an override: the day falls back to the package or, in a year the package does not know, to weekends."""
    override = CalendarOverride.objects.select_for_update().get(pk=override.pk)
    values, pk = _values(override), override.pk
    override.delete()
    audit.record(
        actor=actor,
        action="workdays.override.delete",
        event_type=EventType.DELETE,
        object_type=CalendarOverride._meta.label_lower,
        object_id=str(pk),
        summary=f"{values['date']} {values['name']}",
        before=values,
    )
