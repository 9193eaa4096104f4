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
from fengqiao.areas.models import Area, AreaChange, DivisionEdition
from fengqiao.areas.services import short_name_of
from fengqiao.audit import services as audit
from fengqiao.core import stamps
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
        super().__init__(f"{len(errors)} problem(s) in the input, nothing imported:\n" + "\n".join(shown) + more)


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
        if not rows:
            errors.append(f"{path}: no data rows (an empty file, or only a header)")
            continue
        columns = set(rows[0][1])
        levels = [(lvl, pre) for lvl, pre in LEVEL_COLUMNS if f"{pre}_code" in columns]
        if not levels:
            errors.append(
                f"{path}: line 1: no division code columns; expected some of "
                f"{', '.join(pre + '_code' for _, pre in LEVEL_COLUMNS)} (found {', '.join(sorted(columns))})"
            )
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


class OlderEditionError(DivisionImportError):
    pass


def import_division_files(
    paths, *, actor, edition, valid_from=None, retire_missing=True, retire_within=(), force=False
):
    """Apply an edition. Vanished codes are retired under the county-level units the files list (and under
    the areas named in `retire_within`, e.g. the province for a complete provincial edition).

    An edition older than one already applied is refused unless `force`: applying it would roll names back
    and retire codes that the newer edition created.
    """
    started = time.perf_counter()
    paths = [Path(p) for p in paths]
    records, errors = parse_division_files(paths)
    if errors:
        raise DivisionImportError(errors)
    valid_from = valid_from or default_valid_from(edition)
    newer = DivisionEdition.objects.filter(valid_from__gt=valid_from).order_by("-valid_from").first()
    if newer is not None and not force:
        raise OlderEditionError(
            [
                f"edition {edition} (valid from {valid_from}) is older than edition {newer.label} "
                f"(valid from {newer.valid_from}), applied on {newer.applied_at:%Y-%m-%d}; applying it would roll "
                "the tree back. Pass --force if that is really meant."
            ]
        )
    report = DivisionImportReport(edition=edition, total=len(records))
    report.by_level.update(int(r.level) for r in records.values())
    with transaction.atomic():
        scope = _retirement_scope(records, retire_within) if retire_missing else []
        _apply(records, report, edition=edition, valid_from=valid_from, scope=scope)
        report.seconds = time.perf_counter() - started
        counts = {
            "created": report.created,
            "changed": report.changed,
            "revived": report.revived,
            "retired": report.retired,
            "unchanged": report.unchanged,
        }
        DivisionEdition.objects.create(
            label=edition,
            valid_from=valid_from,
            files=[p.name for p in paths],
            scope=scope,
            counts=counts,
            forced=newer is not None,
        )
        audit.record(
            actor=actor,
            action="areas.import_divisions",
            object_type="areas.area",
            summary=report.summary(),
            data={"files": [p.name for p in paths], "edition": edition, "scope": scope[:50], **counts},
        )
    return report


def _retirement_scope(records, retire_within):
    """Codes under which a code missing from the files is retired: every county-level unit the files list
    (a county, or a city whose towns hang directly under it), plus the explicitly named areas."""
    scope = {rec.code for rec in records.values() if rec.level == Level.COUNTY}
    scope |= {
        rec.parent_code
        for rec in records.values()
        if rec.level == Level.TOWN and level_of(rec.parent_code) == Level.CITY
    }
    for code in retire_within:
        if code not in records and not Area.objects.filter(code=code).exists():
            raise DivisionImportError([f"--retire-within {code}: no such area"])
        scope.add(code)
    return sorted(scope)


def _apply(records, report, *, edition, valid_from, scope):
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
            if was_retired:
                area.valid_to = None
                changes.append(AreaChange(area=area, edition=edition, kind=AreaChange.Kind.REVIVED))
            # each area counts once: revived (perhaps also changed), changed, or unchanged
            if was_retired:
                report.revived += 1
            elif before != after:
                report.changed += 1
            else:
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
    if scope:
        report.retired = _retire_missing(records, changes, scope=scope, edition=edition, valid_to=valid_from)
    AreaChange.objects.bulk_create(changes, batch_size=2000)
    if to_update or report.retired:
        stamps.bump(stamps.AUTHZ)  # users' scopes follow area paths and retirement (bulk writes send no signal)


def _retire_missing(records, changes, *, scope, edition, valid_to):
    """Retire the current areas under `scope` that the edition no longer lists, with their villager groups
    (which no edition lists, so they go with their village). valid_to never precedes an area's valid_from."""
    scope_paths = tuple(Area.objects.filter(code__in=scope).values_list("path", flat=True))
    current = list(
        Area.objects.current().filter(level__gt=Level.PROVINCE).values_list("pk", "code", "path", "level", "valid_from")
    )
    stale = [
        row
        for row in current
        if row[3] < Level.GROUP
        and row[1] not in records
        and row[2].startswith(scope_paths)
        and row[2] not in scope_paths
    ]
    stale_paths = tuple(row[2] for row in stale)
    if stale_paths:
        stale += [row for row in current if row[3] == Level.GROUP and row[2].startswith(stale_paths)]
    by_end = {}
    for pk, _code, _path, _level, area_valid_from in stale:
        by_end.setdefault(max(valid_to, area_valid_from), []).append(pk)
    for end, pks in by_end.items():
        for start in range(0, len(pks), 500):
            Area.objects.filter(pk__in=pks[start : start + 500]).update(valid_to=end)
    changes.extend(AreaChange(area_id=row[0], edition=edition, kind=AreaChange.Kind.RETIRED) for row in stale)
    return len(stale)
