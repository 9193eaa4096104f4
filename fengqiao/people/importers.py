"""Import persons, households or places from an Excel workbook (.xlsx), with the bad-row rules of the division
import: either every row is valid and written, or nothing is written and every bad row is reported as
"FILE: row N: reason" (N is the spreadsheet row; the header is row 1).

The first sheet is read; its first row names the columns in Chinese (extra columns are ignored):

    persons     姓名* 身份证号* 区划代码* 居住类型* 联系电话 户号 与户主关系 民族
    households  户号* 区划代码* 地址
    places      名称* 类型* 区划代码* 地址 安全认证状态 认证日期

Rows are written through the people services (validation, encryption, one audit event per row written). The
import is idempotent on the natural key — the ID number (its keyed hash) for persons, 户号 + 区划代码 for
households, 名称 + 区划代码 for places: an existing row is updated with the file's values, so importing the same
file again writes nothing.
"""

import datetime
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
from django.core.exceptions import ValidationError
from django.db import transaction
from openpyxl.utils.exceptions import InvalidFileException

from fengqiao.areas.models import Area
from fengqiao.core.crypto import lookup_hash
from fengqiao.core.identity import IdentityError, parse_id_number
from fengqiao.core.textfiles import FileFormatError
from fengqiao.people import services
from fengqiao.people.models import Household, Person, Place

MAX_REPORTED_ERRORS = 50
KINDS = ("persons", "households", "places")
COLUMNS = {  # kind -> (required, optional) column headers
    "persons": (["姓名", "身份证号", "区划代码", "居住类型"], ["联系电话", "户号", "与户主关系", "民族"]),
    "households": (["户号", "区划代码"], ["地址"]),
    "places": (["名称", "类型", "区划代码"], ["地址", "安全认证状态", "认证日期"]),
}
RELATIONSHIPS = {
    **{label: Person.Relationship.HEAD for label in ("户主", "本人")},
    **{label: Person.Relationship.SPOUSE for label in ("配偶", "妻", "妻子", "夫", "丈夫")},
    **{label: Person.Relationship.CHILD for label in ("子女", "子", "女", "儿子", "女儿")},
    **{label: Person.Relationship.PARENT for label in ("父母", "父亲", "母亲")},
    **{label: Person.Relationship.OTHER for label in ("其他", "其他亲属")},
}
RESIDENCE_TYPES = {
    **{label: Person.ResidenceType.RESIDENT for label in ("常住", "常住人口")},
    **{label: Person.ResidenceType.REGISTERED for label in ("户籍", "户籍人口")},
    **{label: Person.ResidenceType.FLOATING for label in ("流动", "流动人口")},
}
PLACE_KINDS = {
    **{label: Place.Kind.SHOP for label in ("商铺", "店铺", "门店")},
    **{label: Place.Kind.RENTAL_HOUSE for label in ("出租屋", "出租房")},
    "企业": Place.Kind.ENTERPRISE,
    "学校": Place.Kind.SCHOOL,
    "医院": Place.Kind.HOSPITAL,
    "其他": Place.Kind.OTHER,
}
SAFETY = {
    **{label: Place.Safety.NONE for label in ("", "未认证")},
    **{label: Place.Safety.APPLIED for label in ("已申请", "申请中")},
    "已认证": Place.Safety.CERTIFIED,
    **{label: Place.Safety.REVOKED for label in ("已撤销", "撤销")},
}


class PeopleImportError(ValueError):
    def __init__(self, errors):
        self.errors = errors
        shown = errors[:MAX_REPORTED_ERRORS]
        more = f"\n… and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        super().__init__(f"{len(errors)} problem(s) in the input, nothing imported:\n" + "\n".join(shown) + more)


@dataclass
class ImportReport:
    kind: str
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def summary(self):
        return (
            f"{self.file}: {self.rows} {self.kind}: created {self.created}, updated {self.updated}, "
            f"unchanged {self.unchanged}"
        )


# --- reading the workbook --------------------------------------------------------------------------------


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_xlsx(path, *, required=(), optional=()):
    """The first sheet of an .xlsx workbook as [(row number, {column: raw cell value})], empty rows skipped.
    Raises FileFormatError for a file that is not an .xlsx workbook or lacks a required column."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
            if head == b"\xd0\xcf\x11\xe0":
                raise FileFormatError(f"{path.name}: an old Excel 97–2003 (.xls) workbook; save it as .xlsx")
            if head != b"PK\x03\x04":
                raise FileFormatError(
                    f"{path.name}: not an Excel .xlsx workbook (CSV or other text?); save it as .xlsx"
                )
            fh.seek(0)
            try:
                workbook = openpyxl.load_workbook(fh, read_only=True, data_only=True)
            except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
                raise FileFormatError(f"{path.name}: not a readable Excel .xlsx workbook ({exc})") from None
            try:
                rows = list(workbook.worksheets[0].iter_rows(values_only=True)) if workbook.worksheets else []
            finally:
                workbook.close()
    except FileNotFoundError:
        raise FileFormatError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise FileFormatError(f"{path}: is a directory, not a file") from None
    except PermissionError as exc:
        raise FileFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not rows:
        raise FileFormatError(f"{path.name}: the first sheet is empty")
    header = [_cell(h) for h in rows[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise FileFormatError(
            f"{path.name}: row 1: missing column(s) {', '.join(missing)}; found {', '.join(h for h in header if h)}"
        )
    wanted = {name: header.index(name) for name in [*required, *optional] if name in header}
    out = []
    for number, values in enumerate(rows[1:], start=2):
        if all(_cell(v) == "" for v in values):
            continue
        out.append((number, {name: values[i] if i < len(values) else None for name, i in wanted.items()}))
    return out


# --- checking rows ---------------------------------------------------------------------------------------


class RowError(ValueError):
    pass


def _messages(exc: ValidationError):
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {msg}" for field, msgs in exc.message_dict.items() for msg in msgs)
    return "; ".join(exc.messages)


class _Areas:
    def __init__(self):
        self.cache = {}

    def get(self, raw):
        code = _cell(raw)
        if not code.isdigit() or len(code) not in (6, 9, 12):
            raise RowError(f"区划代码 {code!r} is not a 12-digit division code")
        code = code.ljust(12, "0")
        if code not in self.cache:
            self.cache[code] = Area.objects.current().filter(code=code).first()
        if self.cache[code] is None:
            raise RowError(f"区划代码 {code}: no such current area")
        return self.cache[code]


def _choice(mapping, choices, raw, column, *, default=None):
    text = _cell(raw)
    if not text and default is not None:
        return default
    if text in mapping:
        return mapping[text]
    if text in choices.values:
        return text
    raise RowError(f"{column} {text!r} is not one of {', '.join(k for k in mapping if k)}")


def _required(row, column):
    text = _cell(row.get(column))
    if not text:
        raise RowError(f"{column} is empty")
    return text


def _check_person(row, areas):
    raw_id = row.get("身份证号")
    if isinstance(raw_id, int | float):
        raise RowError("身份证号 is stored as a number, which loses digits; format the column as text")
    try:
        id_number = parse_id_number(_required(row, "身份证号")).number
    except IdentityError as exc:
        raise RowError(f"身份证号: {exc}") from None
    area = areas.get(row.get("区划代码"))
    household = None
    if number := _cell(row.get("户号")):
        household = Household.objects.filter(area=area, number=number).first()
        if household is None:
            raise RowError(f"户号 {number} is not registered in {area.name} ({area.code}); import the households first")
    values = {
        "name": _required(row, "姓名"),
        "residence_type": _choice(RESIDENCE_TYPES, Person.ResidenceType, row.get("居住类型"), "居住类型"),
        "phone": _cell(row.get("联系电话")) if "联系电话" in row else None,
        "household": household,
        "relationship": _choice(RELATIONSHIPS, Person.Relationship, row.get("与户主关系"), "与户主关系", default="")
        if "与户主关系" in row
        else None,
        "ethnicity": _cell(row.get("民族")) if "民族" in row else None,
    }
    services.identity_fields(id_number, values["phone"])  # the phone's check, before anything is written
    return lookup_hash(id_number), {"area": area, "id_number": id_number, **values}


def _check_household(row, areas):
    area = areas.get(row.get("区划代码"))
    number = _required(row, "户号")
    return (number, area.pk), {"area": area, "number": number, "address": _cell(row.get("地址"))}


def _date(raw, column):
    if isinstance(raw, datetime.datetime):
        return raw.date()
    if isinstance(raw, datetime.date):
        return raw
    text = _cell(raw)
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise RowError(f"{column} {text!r} is not a date (YYYY-MM-DD)") from None


def _check_place(row, areas):
    area = areas.get(row.get("区划代码"))
    name = _required(row, "名称")
    values = {
        "area": area,
        "name": name,
        "kind": _choice(PLACE_KINDS, Place.Kind, row.get("类型"), "类型"),
        "address": _cell(row.get("地址")),
        "safety_status": _choice(SAFETY, Place.Safety, row.get("安全认证状态"), "安全认证状态", default="none"),
        "safety_date": _date(row.get("认证日期"), "认证日期"),
    }
    if values["safety_status"] != Place.Safety.NONE and values["safety_date"] is None:
        raise RowError("认证日期 is needed when 安全认证状态 is set")
    return (name, area.pk), values


CHECKS = {"persons": _check_person, "households": _check_household, "places": _check_place}


# --- writing ---------------------------------------------------------------------------------------------


def _write_person(key, values, actor):
    matches = list(Person.objects.filter(id_number_hash=key).order_by("pk")[:2])
    if len(matches) > 1:  # registered twice by staff of different areas (an identity conflict under review)
        raise ValidationError(
            {"身份证号": ["this ID number is registered more than once; resolve the identity conflict first"]}
        )
    existing = matches[0] if matches else None
    if existing is None:
        fields = {k: v for k, v in values.items() if v is not None}
        services.create_person(actor=actor, **fields)
        return "created"
    before = existing.updated_at
    fields = {k: v for k, v in values.items() if k not in ("area", "id_number")}
    after = services.update_person(existing, actor=actor, **fields)
    return "unchanged" if after.updated_at == before else "updated"


def _write_household(key, values, actor):
    existing = Household.objects.filter(area=values["area"], number=values["number"]).first()
    if existing is None:
        services.create_household(actor=actor, **values)
        return "created"
    before = existing.updated_at
    after = services.update_household(existing, actor=actor, address=values["address"])
    return "unchanged" if after.updated_at == before else "updated"


def _write_place(key, values, actor):
    existing = Place.objects.filter(area=values["area"], name=values["name"]).first()
    if existing is None:
        services.create_place(actor=actor, **values)
        return "created"
    before = existing.updated_at
    fields = {k: v for k, v in values.items() if k not in ("area", "name")}
    after = services.update_place(existing, actor=actor, **fields)
    return "unchanged" if after.updated_at == before else "updated"


WRITERS = {"persons": _write_person, "households": _write_household, "places": _write_place}


def import_xlsx(path, *, kind, actor) -> ImportReport:
    """Import `kind` rows from the workbook at `path`; PeopleImportError lists every bad row, nothing written."""
    if kind not in KINDS:
        raise PeopleImportError([f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}"])
    name = Path(path).name
    required, optional = COLUMNS[kind]
    try:
        rows = read_xlsx(path, required=required, optional=optional)
    except FileFormatError as exc:
        raise PeopleImportError([str(exc)]) from None
    if not rows:
        raise PeopleImportError([f"{name}: no data rows (only a header)"])

    errors, checked, seen = [], [], {}
    areas = _Areas()
    for number, row in rows:
        try:
            key, values = CHECKS[kind](row, areas)
        except RowError as exc:
            errors.append(f"{name}: row {number}: {exc}")
            continue
        except ValidationError as exc:
            errors.append(f"{name}: row {number}: {_messages(exc)}")
            continue
        if key in seen:
            errors.append(f"{name}: row {number}: the same {kind[:-1]} as row {seen[key]}")
            continue
        seen[key] = number
        checked.append((number, key, values))
    if errors:
        raise PeopleImportError(errors)

    report = ImportReport(kind=kind, file=name, rows=len(checked))
    with transaction.atomic():
        for number, key, values in checked:
            try:
                outcome = WRITERS[kind](key, values, actor)
            except ValidationError as exc:
                errors.append(f"{name}: row {number}: {_messages(exc)}")
                continue
            setattr(report, outcome, getattr(report, outcome) + 1)
        if errors:
            raise PeopleImportError(errors)  # leaves the atomic block: everything written is rolled back
    return report
