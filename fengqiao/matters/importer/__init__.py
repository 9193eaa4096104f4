"""Import of hotline work orders (12345) and police transfers (110) from xlsx or CSV exports (ADR 0015).

    result = import_matters(path, source="12345", actor="cli:li", mapping=None, dry_run=False, progress=stream)

The file is checked as a whole before anything is written (format, encoding, header; `reading`): a file that
cannot be read is a `FileFormatError` and nothing is written. Then the rows are taken in batches; a row is
rejected only when it cannot be a matter at all (no record id, no possible time, neither title nor content) and
goes to the report with its reason; everything else is imported. The import is idempotent on the source's record
id: a record already in the database, or met earlier in the same file, is a duplicate and is not written again.

The write path is a bulk version of `services.submit` that keeps its rules: state "submitted" of the matter
workflow, the place (`places`: grid by the vectorised `locate_many`, else the deepest boundary, else a town or
village named in the address, else the top area flagged for triage), the handling area as `handling_area_for`
decides, reporter name and phone encrypted by the model fields with the phone's lookup hash (`protect`: in a
helper process while the batch before is written), a tracking code, an acceptance clock from the deadline policy
for (category, channel) started at the import, and one public "import" timeline row per matter. Each batch is one
transaction (`writing`): the matters through one prepared INSERT (`executemany`), their clocks and timeline rows
through one INSERT … SELECT each; the run writes one audit event (``matter.import``) with its counts. The report
file and the progress line: `output`.
"""

import dataclasses
import datetime
import hashlib
import operator
import re
import time

from django.core.exceptions import ValidationError
from django.utils import timezone

from fengqiao.areas.grids import UnknownLayerError
from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
from fengqiao.core.identity import IdentityError, normalise_phone
from fengqiao.core.textfiles import FileFormatError
from fengqiao.departments.models import Category
from fengqiao.matters.importer.output import ImportResult, Progress, Report, default_report_path
from fengqiao.matters.importer.places import Places
from fengqiao.matters.importer.protect import Protector
from fengqiao.matters.importer.reading import (
    DEFAULT_MAPPING,
    FIELDS,
    WINDOWS_EPOCH,
    MatterImportError,
    Rejected,
    _text,
    columns_for,
    load_mapping,
    open_table,
    parse_point,
    parse_time,
)
from fengqiao.matters.importer.writing import BATCH, Writer, bulk_writes
from fengqiao.matters.models import Channel

SOURCES = {"12345": Channel.HOTLINE, "110": Channel.POLICE}
HELPER_ROWS = 100_000  # a helper process for the encryption costs ~1.5 s of CPU to start; from here on it pays


@dataclasses.dataclass
class Row:
    number: int
    record_id: str
    submitted_at: datetime.datetime
    title: str
    description: str
    address: str
    lon: float | None
    lat: float | None
    reporter_name: str
    reporter_phone: str
    category_id: int | None
    warnings: list
    stored_name: str = ""  # encrypted by the model field
    stored_phone: str = ""
    phone_hash: str = ""
    area_id: int | None = None
    grid_id: int | None = None
    method: str = ""
    needs_triage: bool = False
    handling_area_id: int | None = None


class Categories:
    """Category by code or name (active ones). A name several categories share is taken from the source's own
    scheme (其他 of the 12345 list rather than of GB/T 31000), else it matches none."""

    def __init__(self, source):
        self.by_key, self.ambiguous, self.objects = {}, set(), {}
        for category in Category.objects.filter(active=True):
            self.objects[category.pk] = category
            self.by_key[category.code] = category.pk
        names = {}
        for category in self.objects.values():
            names.setdefault(category.name, set()).add(category.pk)
        for name, pks in names.items():
            if name in self.by_key:
                continue
            if len(pks) > 1:
                pks = {pk for pk in pks if self.objects[pk].scheme == source}
            if len(pks) == 1:
                self.by_key[name] = next(iter(pks))
            else:
                self.ambiguous.add(name)

    def find(self, text):
        if not text:
            return None, ""
        pk = self.by_key.get(text)
        if pk is None:
            pk = self.by_key.get(re.split(r"[/>\\-]", text)[-1].strip())  # "城乡建设/市政设施" → its last part
        if pk is not None:
            return pk, ""
        why = "names several categories" if text in self.ambiguous else "is not in the category tree"
        return None, f"category {text[:40]!r} {why}; imported without a category"


@dataclasses.dataclass
class Batch:
    read: int  # rows read so far (for the progress line)
    rows: list  # Rows to import
    notes: list  # (row number, record id, kind, reason) of rejected and repeated rows


def batches(importer, table, columns, size):
    """The file's rows checked and de-duplicated within the file, `size` rows to import at a time."""
    seen, read = {}, 0
    rows, notes = [], []
    record_index = columns["record_id"]
    pick = importer.picker(columns)
    for number, values in table.rows():
        read += 1
        try:
            row = importer.parse(pick(values), number)
        except Rejected as exc:
            record = _text(values[record_index]) if record_index < len(values) else ""
            notes.append((number, record, "rejected", str(exc)))
            continue
        first = seen.get(row.record_id)
        if first is not None:
            notes.append((number, row.record_id, "duplicate", f"same record id as row {first}"))
            continue
        seen[row.record_id] = number
        rows.append(row)
        if len(rows) >= size:
            yield Batch(read, rows, notes)
            rows, notes = [], []
    yield Batch(read, rows, notes)


def _is_mobile(phone):
    """The common case of `normalise_phone` without its regular expressions: a bare mobile number (kept as is)."""
    return len(phone) == 11 and phone[0] == "1" and phone[1] in "3456789" and phone.isdecimal()


class Importer:
    def __init__(self, *, source, actor, now, dry_run, epoch=WINDOWS_EPOCH):
        self.source, self.channel = source, SOURCES[source]
        self.actor, self.now, self.dry_run, self.epoch = actor, now, dry_run, epoch
        self.places = Places()
        self.categories = Categories(source)
        self.writer = Writer(source=source, channel=self.channel, actor=actor, now=now, categories=self.categories)

    # --- one row --------------------------------------------------------------------------------------

    @staticmethod
    def picker(columns):
        """A function giving a row's values of our fields, in FIELDS order (None: not mapped, or a short row)."""
        width = max(columns.values()) + 1
        unmapped = len(columns) < len(FIELDS)
        pick = operator.itemgetter(*[columns.get(field, -1) for field in FIELDS])  # -1: the None appended

        def values_of(values):
            if len(values) < width:
                values = [*values, *[None] * (width - len(values))]
            return pick([*values, None] if unmapped else values)

        return values_of

    def parse(self, values, number):
        text = _text
        record_id, when, title, description, address, lon, lat, name, phone, category = values
        record_id = text(record_id)
        if not record_id:
            raise Rejected("no record id")
        if len(record_id) > 64:
            raise Rejected("record id longer than 64 characters")
        submitted_at = parse_time(when, self.now, self.epoch)
        title, description = text(title), text(description)
        if not title and not description:
            raise Rejected("neither title nor content")
        warnings = []
        if len(title) > 200:
            title = title[:200]
            warnings.append("title cut to 200 characters")
        if len(description) > 10000:
            description = description[:10000]
            warnings.append("content cut to 10,000 characters")
        if (lon is None or lon == "") and (lat is None or lat == ""):
            lon = lat = None
        else:
            lon, lat, why = parse_point(lon, lat)
            if why:
                warnings.append(why)
        name = text(name)
        if len(name) > 60:
            name = ""
            warnings.append("reporter name longer than 60 characters; dropped")
        phone = text(phone)
        if phone and not _is_mobile(phone):
            try:
                phone = normalise_phone(phone)
            except IdentityError:
                phone = ""
                warnings.append("invalid phone number; dropped")
        category_id, why = self.categories.find(text(category))
        if why:
            warnings.append(why)
        return Row(number, record_id, submitted_at, title or description[:60], description, text(address)[:300],
                   lon, lat, name, phone, category_id, warnings)  # fmt: skip


def import_matters(path, *, source, actor, mapping=None, dry_run=False, report_path=None, progress=None,
                   now=None, batch=BATCH, helper=None) -> ImportResult:  # fmt: skip
    """Import the rows of an xlsx or CSV export; `mapping` is a dict or the path of a JSON mapping file.
    Raises FileFormatError or MatterImportError before anything is written. `helper`: encrypt in a helper process
    (`protect`): None from HELPER_ROWS rows on, True always (waiting for it to start), False never."""
    started = time.perf_counter()  # the whole run, the check of the file included
    if source not in SOURCES:
        raise MatterImportError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    mapping = load_mapping(mapping)
    table = open_table(path)
    columns = columns_for(table, mapping)
    try:
        importer = Importer(source=source, actor=actor, now=now or timezone.now(), dry_run=dry_run,
                            epoch=table.epoch)  # fmt: skip
    except ValidationError as exc:  # no area tree yet
        raise MatterImportError("; ".join(exc.messages)) from None
    except UnknownLayerError as exc:
        raise MatterImportError(str(exc)) from None
    report = Report(report_path or default_report_path(path, source))
    result = ImportResult(file=table.path.name, source=source, report=report.path, total=table.total,
                          dry_run=dry_run)  # fmt: skip
    bar = Progress(progress, table.total)
    protector = None
    try:
        if helper is None:
            helper = "auto" if (table.total or 0) >= HELPER_ROWS else False
        if not dry_run:
            protector = Protector(helper=helper)
        with bulk_writes(importer.writer.connection):
            pending = None  # the batch read before, encrypted (in the helper) while this one was read
            for chunk in batches(importer, table, columns, batch):
                job = protector.submit(chunk.rows) if protector else None
                if pending is not None:
                    _flush(importer, *pending, protector, result, report)
                    bar.update(result.read)
                pending = (chunk, job)
            if pending is not None:
                _flush(importer, *pending, protector, result, report)
        bar.update(result.read, final=True)
        result.complete = True
    finally:
        if protector is not None:
            protector.close()
            result.helper_batches = protector.sent
        report.close()
        result.seconds = time.perf_counter() - started
        if not dry_run and result.read:
            _audit(importer, table, result)
    return result


def _flush(importer, chunk, job, protector, result, report):
    result.read = chunk.read
    for note in chunk.notes:
        report.add(*note)
        if note[2] == "rejected":
            result.rejected += 1
        else:
            result.duplicates += 1
    rows = chunk.rows
    taken = importer.writer.existing(r.record_id for r in rows)
    fresh = [r for r in rows if r.record_id not in taken]
    result.duplicates += len(rows) - len(fresh)
    importer.places.locate(fresh)
    if not importer.dry_run:
        protector.apply(rows, job)
        written = importer.writer.write(fresh)
        result.duplicates += len(fresh) - len(written)
        fresh = written
    result.imported += len(fresh)
    for row in fresh:
        result.located[row.method] = result.located.get(row.method, 0) + 1
        for warning in row.warnings:
            result.warnings += 1
            report.add(row.number, row.record_id, "warning", warning)


def _audit(importer, table, result):
    audit.record(
        actor=importer.actor,
        action="matter.import",
        object_type="matters.matter",
        area=importer.places.top,
        summary=f"import of {result.imported} matters from {importer.source}",
        data={
            "source": importer.source,
            "file_name_sha256": hashlib.sha256(table.path.name.encode()).hexdigest(),
            "file_sha256": table.sha256,
            "rows": result.read,
            "imported": result.imported,
            "duplicates": result.duplicates,
            "rejected": result.rejected,
            "warnings": result.warnings,
            "located": result.located,
            "complete": result.complete,
        },
        event_type=EventType.IMPORT,
    )


__all__ = [
    "DEFAULT_MAPPING",
    "FIELDS",
    "FileFormatError",
    "ImportResult",
    "MatterImportError",
    "import_matters",
    "load_mapping",
    "open_table",
]
