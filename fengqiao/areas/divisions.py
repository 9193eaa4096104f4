"""Import of the statistical division codes (统计用区划代码) as editions of the area tree.

An edition is a set of CSV files. The import is one transaction: either every row is valid and the tree is
brought in line with the edition, or nothing is written and every bad row is reported with its line number.
Codes are never deleted: a code that vanished from the edition is retired (valid_to), one that returns is
revived, and each change leaves an AreaChange row (ADR 0003).
"""

import datetime
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from fengqiao.areas.codes import CodeError, Level, check_parent, level_of
from fengqiao.areas.models import Area, AreaChange
from fengqiao.areas.services import short_name_of
from fengqiao.audit import services as audit
from fengqiao.core.textfiles import FileFormatError, read_csv_dicts

# Column prefixes by level, shallowest first; a file may use any contiguous or gapped subset of them
# (the Dongguan/Zhongshan towns file has no county columns).
LEVEL_COLUMNS = [
    (Level.PROVINCE, "province"),
    (Level.CITY, "city"),
    (Level.COUNTY, "county"),
    (Level.TOWN, "town"),
    (Level.VILLAGE, "village"),
    (Level.GROUP, "group"),
]
MAX_REPORTED_ERRORS = 50


class DivisionImportError(ValueError):
    def __init__(self, errors):
        self.errors = errors
        shown = errors[:MAX_REPORTED_ERRORS]
        more = f"\n… and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        super().__init__(f"{len(errors)} bad row(s), nothing imported:\n" + "\n".join(shown) + more)


@dataclass
class Record:
    code: str
    name: str
    level: Level
    parent_code: str | None
    urban_rural_code: str
    where: str


@dataclass
class DivisionImportReport:
    edition: str
    total: int = 0
    created: int = 0
    changed: int = 0
    revived: int = 0
    retired: int = 0
    unchanged: int = 0
    by_level: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self):
        levels = ", ".join(f"{Level(level).name.lower()} {n}" for level, n in sorted(self.by_level.items()))
        return (
            f"divisions edition {self.edition}: {self.total} areas ({levels}); created {self.created}, "
            f"changed {self.changed}, revived {self.revived}, retired {self.retired}, "
            f"unchanged {self.unchanged} in {self.seconds:.1f} s"
        )


def parse_division_files(paths):
    """Read and validate the files. Returns ({code: Record}, [error strings])."""
    records: dict[str, Record] = {}
    errors: list[str] = []
    for path in paths:
        try:
            rows = read_csv_dicts(path)
        except FileFormatError as exc:
            errors.append(str(exc))
            continue
        columns = set(rows[0][1]) if rows else set()
        levels = [(lvl, pre) for lvl, pre in LEVEL_COLUMNS if f"{pre}_code" in columns]
        if not levels:
            errors.append(f"{path}: line 1: no <level>_code columns (province_code, city_code, …)")
            continue
        for line, row in rows:
            _parse_row(Path(path).name, line, row, levels, records, errors)
    return records, errors


def _parse_row(filename, line, row, levels, records, errors):
    where = f"{filename}: line {line}"
    parent_code = None
    chain = []
    for expected_level, prefix in levels:
        code, name = row.get(f"{prefix}_code", ""), row.get(f"{prefix}_name", "")
        if not code:
            continue
        try:
            level = level_of(code)
            if level != expected_level:
                raise CodeError(f"{prefix}_code {code} is a {level.label} code, not a {expected_level.label} code")
            check_parent(code, parent_code)
        except CodeError as exc:
            errors.append(f"{where}: {exc}")
            return
        if not name:
            errors.append(f"{where}: {prefix}_name is empty for {code}")
            return
        chain.append(Record(code, name, level, parent_code, "", where))
        parent_code = code
    if not chain:
        errors.append(f"{where}: no division code in this row")
        return
    urban_rural = row.get("urban_rural_code", "")
    if urban_rural:
        if not re.fullmatch(r"[12]\d\d", urban_rural):
            errors.append(f"{where}: urban_rural_code {urban_rural!r} is not a 3-digit 城乡分类代码 (111…220)")
            return
        chain[-1].urban_rural_code = urban_rural
    for rec in chain:
        seen = records.get(rec.code)
        if seen is None:
            records[rec.code] = rec
            continue
        if seen.name != rec.name or seen.parent_code != rec.parent_code:
            errors.append(
                f"{where}: {rec.code} is {rec.name!r} under {rec.parent_code}, but {seen.where} has "
                f"{seen.name!r} under {seen.parent_code}"
            )
        elif rec.urban_rural_code and not seen.urban_rural_code:
            seen.urban_rural_code = rec.urban_rural_code


def default_valid_from(edition):
    """NBS editions are dated 30 June of their year (domain.md §3)."""
    if re.fullmatch(r"\d{4}", edition):
        return datetime.date(int(edition), 6, 30)
    return datetime.date.today()


def import_division_files(paths, *, actor, edition, valid_from=None, retire_missing=True):
    started = time.perf_counter()
    paths = [Path(p) for p in paths]
    records, errors = parse_division_files(paths)
    if errors:
        raise DivisionImportError(errors)
    valid_from = valid_from or default_valid_from(edition)
    report = DivisionImportReport(edition=edition, total=len(records))
    report.by_level.update(int(r.level) for r in records.values())
    with transaction.atomic():
        _apply(records, report, edition=edition, valid_from=valid_from, retire_missing=retire_missing)
        report.seconds = time.perf_counter() - started
        audit.record(
            actor=actor,
            action="areas.import_divisions",
            object_type="areas.area",
            summary=report.summary(),
            data={
                "files": [p.name for p in paths],
                "edition": edition,
                "created": report.created,
                "changed": report.changed,
                "revived": report.revived,
                "retired": report.retired,
                "unchanged": report.unchanged,
            },
        )
    return report


def _apply(records, report, *, edition, valid_from, retire_missing):
    fields = ["code", "name", "level", "parent_id", "path", "urban_rural_code", "valid_from", "valid_to", "edition"]
    existing = {a.code: a for a in Area.objects.only(*fields)}
    code_by_pk = {a.pk: a.code for a in existing.values()}
    changes = []
    to_update = []
    by_level = sorted(records.values(), key=lambda r: (r.level, r.code))
    for level in sorted({r.level for r in by_level}):
        to_create = []
        for rec in (r for r in by_level if r.level == level):
            parent = existing.get(rec.parent_code) if rec.parent_code else None
            if rec.parent_code and parent is None:
                raise DivisionImportError([f"{rec.where}: parent {rec.parent_code} of {rec.code} does not exist"])
            path = f"{parent.path if parent else ''}{rec.code}/"
            area = existing.get(rec.code)
            if area is None:
                area = Area(
                    code=rec.code,
                    name=rec.name,
                    short_name=short_name_of(rec.name, rec.level),
                    level=rec.level,
                    parent=parent,
                    path=path,
                    urban_rural_code=rec.urban_rural_code,
                    valid_from=valid_from,
                    edition=edition,
                )
                to_create.append(area)
                continue
            # A code's parent follows from the code itself (codes.check_parent), so an area never moves;
            # the parent is compared anyway so that a corrupted row is repaired and recorded.
            before = {
                "name": area.name,
                "parent": code_by_pk.get(area.parent_id),
                "urban_rural_code": area.urban_rural_code,
            }
            after = {
                "name": rec.name,
                "parent": rec.parent_code,
                "urban_rural_code": rec.urban_rural_code or area.urban_rural_code,
            }
            was_retired = area.valid_to is not None
            dirty = before != after or was_retired or area.edition != edition
            if before != after:
                area.name, area.short_name = rec.name, short_name_of(rec.name, rec.level)
                area.parent, area.path = parent, path
                area.urban_rural_code = after["urban_rural_code"]
                diff = {k for k in before if before[k] != after[k]}
                changes.append(
                    AreaChange(
                        area=area,
                        edition=edition,
                        kind=AreaChange.Kind.CHANGED,
                        before={k: before[k] for k in diff},
                        after={k: after[k] for k in diff},
                    )
                )
                report.changed += 1
            if was_retired:
                area.valid_to = None
                changes.append(AreaChange(area=area, edition=edition, kind=AreaChange.Kind.REVIVED))
                report.revived += 1
            if not (before != after or was_retired):
                report.unchanged += 1
            if dirty:
                area.edition = edition
                to_update.append(area)
        if to_create:
            Area.objects.bulk_create(to_create, batch_size=2000)
            for area in to_create:
                existing[area.code] = area
            changes.extend(
                AreaChange(area=a, edition=edition, kind=AreaChange.Kind.CREATED, after={"name": a.name})
                for a in to_create
            )
            report.created += len(to_create)
    if to_update:
        Area.objects.bulk_update(
            to_update,
            ["name", "short_name", "parent", "path", "urban_rural_code", "valid_to", "edition"],
            batch_size=2000,
        )
    if retire_missing:
        report.retired = _retire_missing(records, changes, edition=edition, valid_to=valid_from)
    AreaChange.objects.bulk_create(changes, batch_size=2000)


def _retire_missing(records, changes, *, edition, valid_to):
    """Retire current areas below the edition's cities that the edition no longer lists.

    The scope is the cities the files cover, so importing one city's file never retires another city.
    Villager groups (not part of any statistical edition) are left alone.
    """
    cities = [code for code, rec in records.items() if rec.level == Level.CITY]
    if not cities:
        return 0
    city_paths = tuple(Area.objects.filter(code__in=cities).values_list("path", flat=True))
    stale_ids = [
        pk
        for pk, code, path in Area.objects.current()
        .filter(level__lt=Level.GROUP)
        .values_list("pk", "code", "path")
        .iterator(chunk_size=5000)
        if code not in records and path.startswith(city_paths)
    ]
    for start in range(0, len(stale_ids), 500):
        Area.objects.filter(pk__in=stale_ids[start : start + 500]).update(valid_to=valid_to)
    changes.extend(AreaChange(area_id=pk, edition=edition, kind=AreaChange.Kind.RETIRED) for pk in stale_ids)
    retired = len(stale_ids)
    return retired
