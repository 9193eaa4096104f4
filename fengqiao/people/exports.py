"""Exports of the person register (`fengqiao people export`; domain.md §6, issue 3 §2–3).

`export_people(actor=..., area=...)` returns the persons of an area subtree that lie in the actor's scope, one row
per person, with the column headers of the person import (姓名, 身份证号, 区划代码, ...), so an unmasked export can be
imported again. `write_export` writes it as .xlsx or .csv (UTF-8 with a byte order mark, for Excel).

* Personal data is masked (name, ID number 6+4, phone 3+4, birth date to the year) unless the actor holds
  `people.unmask_person` and states a reason.
* Special groups are left out: no special care column appears unless `include_special_care` is asked for AND the
  actor holds both `people.view_specialcare` and `people.export_specialcare`. No role holds the latter by default
  (accounts/roles.py): a security administrator grants it to a named user for a named purpose (the user's own
  permissions in the admin), or it is added to a role in `ROLE_PERMISSIONS` with a re-seeding migration (ADR 0009,
  amendment 1). Every person is exported either way, so the rows never show who is in a special group.
* One audit event (type EXPORT) per export, with the counts, the options and the (redacted) reason; never the rows.

Refusals raise ValidationError (bad input, keyed by the option) or PermissionDenied (what the actor may not do),
before anything is read or written.
"""

import csv
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import translation
from django.utils.translation import gettext as _

from fengqiao.audit.models import EventType
from fengqiao.core.masking import mask_id_number, mask_name, mask_phone
from fengqiao.people import services
from fengqiao.people.importers import RELATIONSHIPS, RESIDENCE_TYPES
from fengqiao.people.models import Person, SpecialCare

FORMATS = ("xlsx", "csv")
SPECIAL_CARE_PERMS = ("people.view_specialcare", "people.export_specialcare")

# Headers as the person import reads them (importers.COLUMNS), then what only an export gives.
PERSON_COLUMNS = [
    "编号",
    "区划代码",
    "区划名称",
    "户号",
    "与户主关系",
    "居住类型",
    "姓名",
    "身份证号",
    "出生日期",
    "性别",
    "联系电话",
    "民族",
]
CARE_COLUMNS = ["特殊人群类别", "风险等级", "关怀开始", "关怀结束", "保留至"]
CARE_DETAILS_COLUMN = "情况说明"  # unmasked exports only: free text, never masked sensibly

# The first import label of each value, so an export reads back in (importers.RELATIONSHIPS, RESIDENCE_TYPES).
RELATIONSHIP_LABELS = {value: label for label, value in reversed(RELATIONSHIPS.items())}
RESIDENCE_LABELS = {value: label for label, value in reversed(RESIDENCE_TYPES.items())}
SEX_LABELS = {Person.Sex.MALE: "男", Person.Sex.FEMALE: "女"}


@dataclass
class PeopleExport:
    area_code: str
    masked: bool
    include_special_care: bool
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    special_care_records: int = 0

    @property
    def persons(self) -> int:
        return len(self.rows)


def export_format(path) -> str:
    """ "xlsx" or "csv" from the file name; anything else is refused naming the option."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValidationError({"out": [_("Export to a .xlsx or .csv file, not %(name)s.") % {"name": Path(path).name}]})
    return suffix


def _check(actor, area, *, include_special_care, unmasked, reason):
    if actor is None or isinstance(actor, str):
        raise ValidationError({"user": [_("An export is made by a named user, who answers for it.")]})
    if not actor.is_active:
        raise ValidationError({"user": [_("User %(user)s is inactive.") % {"user": actor.get_username()}]})
    if area is None:
        raise ValidationError({"area": [_("Name the area to export.")]})
    if not actor.has_perm("people.view_person"):
        raise PermissionDenied(_("Exporting persons needs the permission people.view_person."))
    scope = services.actor_scope(actor)
    if scope.is_empty:
        raise PermissionDenied(scope.why_empty())
    if not scope.covers(area):
        raise PermissionDenied(
            _("Area %(area)s is outside the areas you hold a role over.") % {"area": f"{area.name} ({area.code})"}
        )
    if unmasked:
        if not actor.has_perm("people.unmask_person"):
            raise PermissionDenied(_("An unmasked export needs the permission people.unmask_person."))
        if not (reason or "").strip():
            raise ValidationError({"reason": [_("Say why the data is needed.")]})
    if include_special_care:
        missing = [p for p in SPECIAL_CARE_PERMS if not actor.has_perm(p)]
        if missing:
            raise PermissionDenied(
                _("Including special care records needs the permissions %(perms)s.") % {"perms": ", ".join(missing)}
            )
    return scope


def _cell(value):
    """Text that a spreadsheet would run as a formula is quoted (CSV/formula injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _person_row(person, masked):
    birth = person.birth_date.isoformat() if person.birth_date else ""
    if masked and birth:
        birth = birth[:4] + "-**-**"
    return [
        person.pk,
        person.area.code,
        person.area.name,
        person.household.number if person.household_id else "",
        RELATIONSHIP_LABELS.get(person.relationship, ""),
        RESIDENCE_LABELS.get(person.residence_type, person.residence_type),
        mask_name(person.name) if masked else person.name,
        mask_id_number(person.id_number) if masked else person.id_number,
        birth,
        SEX_LABELS.get(person.sex, ""),
        mask_phone(person.phone) if masked else person.phone,
        person.ethnicity,
    ]


def _care_cells(records, masked):
    def dates(attr):
        return "; ".join(getattr(r, attr).isoformat() if getattr(r, attr) else "" for r in records)

    levels = [r.risk_level for r in records if r.risk_level is not None]
    cells = [
        "; ".join(r.get_category_display() for r in records),
        max(levels) if levels else "",
        dates("since"),
        dates("until"),
        dates("retention_until"),
    ]
    if not masked:
        cells.append("; ".join(r.details for r in records if r.details))
    return cells


@transaction.atomic
def export_people(*, actor, area, include_special_care=False, unmasked=False, reason="", fmt="") -> PeopleExport:
    """The persons of `area` and below within the actor's scope, masked unless `unmasked` (with permission and a
    reason); special care columns only with `include_special_care` and both special care permissions. Records one
    EXPORT audit event with the counts. `fmt` is only noted in the audit event."""
    scope = _check(actor, area, include_special_care=include_special_care, unmasked=unmasked, reason=reason)
    masked = not unmasked
    persons = scope.filter(
        Person.objects.filter(area__path__startswith=area.path).select_related("area", "household"), "area__path"
    ).order_by("area__code", "pk")
    columns = list(PERSON_COLUMNS)
    if include_special_care:
        columns += CARE_COLUMNS + ([] if masked else [CARE_DETAILS_COLUMN])
        persons = persons.prefetch_related(
            Prefetch("care", queryset=SpecialCare.objects.order_by("since", "pk"), to_attr="care_records")
        )
    export = PeopleExport(
        area_code=area.code, masked=masked, include_special_care=include_special_care, columns=columns
    )
    with translation.override(settings.LANGUAGE_CODE):
        for person in persons.iterator(chunk_size=2000):
            row = _person_row(person, masked)
            if include_special_care:
                export.special_care_records += len(person.care_records)
                row += _care_cells(person.care_records, masked)
            export.rows.append([_cell(v) for v in row])
    reason = (reason or "").strip()
    services._record(
        actor=actor,
        action="people.person.export",
        object_type=Person._meta.label_lower,
        area=area,
        event_type=EventType.EXPORT,
        summary=f"{export.persons} persons exported ({'masked' if masked else 'unmasked'})"
        + (f": {reason}" if reason else ""),
        data={
            "area": area.code,
            "format": fmt,
            "persons": export.persons,
            "special_care_records": export.special_care_records,
            "include_special_care": include_special_care,
            "unmasked": unmasked,
            "reason": reason,
        },
    )
    return export


def write_export(export: PeopleExport, path) -> Path:
    """Write `export` to `path` (.xlsx or .csv) through a temporary file in the same folder, so a failed write
    leaves no half-written file behind."""
    path = Path(path)
    fmt = export_format(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".{fmt}")
    try:
        if fmt == "csv":
            with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(export.columns)
                writer.writerows(export.rows)
        else:
            os.close(fd)
            book = openpyxl.Workbook(write_only=True)
            sheet = book.create_sheet("人员")
            sheet.append(export.columns)
            for row in export.rows:
                sheet.append(row)
            book.save(tmp)
        os.chmod(tmp, 0o600)  # personal data: readable by the exporting account only
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
