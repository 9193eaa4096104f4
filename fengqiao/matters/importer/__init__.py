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
decides, reporter name and phone encrypted by the model fields with the phone's lookup hash, a tracking code, an
acceptance clock from the deadline policy for (category, channel), and one public "import" timeline row per
matter. Each batch goes in with one prepared INSERT per table (one transaction); the run writes one audit event
(``matter.import``) with its counts. The report file and the progress line: `output`.
"""

import contextlib
import dataclasses
import datetime
import hashlib
import re
import secrets
import time

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from fengqiao.areas.grids import UnknownLayerError
from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
from fengqiao.core.crypto import lookup_hash
from fengqiao.core.identity import IdentityError, normalise_phone
from fengqiao.core.textfiles import FileFormatError
from fengqiao.departments.models import Category
from fengqiao.matters import deadlines
from fengqiao.matters.importer.output import ImportResult, Progress, Report, default_report_path
from fengqiao.matters.importer.places import Places
from fengqiao.matters.importer.reading import (
    DEFAULT_MAPPING,
    FIELDS,
    MatterImportError,
    Rejected,
    _text,
    columns_for,
    load_mapping,
    open_table,
    parse_point,
    parse_time,
)
from fengqiao.matters.models import TRACKING_ALPHABET, Channel, Clock, Complexity, Matter, MatterEvent, Stage
from fengqiao.matters.workflows import get_workflow

SOURCES = {"12345": Channel.HOTLINE, "110": Channel.POLICE}
BATCH = 2000
IN_CHUNK = 900  # parameters per IN (…) lookup
BULK_CACHE_KIB = 256 * 1024  # SQLite page cache while importing (the default 2 MiB thrashes on the matter indexes)
BULK_CHECKPOINT_PAGES = 100_000  # SQLite WAL pages between checkpoints while importing (default 1,000)


@contextlib.contextmanager
def bulk_writes(connection):
    """SQLite settings for a bulk write on this connection, restored afterwards (a no-op on other databases): a
    large page cache, and WAL checkpoints (each an fsync of the database file) every ~400 MB instead of every
    4 MB, with one checkpoint at the end. Durability is unchanged: commits go to the WAL as before."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA wal_autocheckpoint")
        checkpoint = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
        cursor.execute(f"PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {cache}")
            cursor.execute(f"PRAGMA wal_autocheckpoint = {checkpoint}")
            if not connection.in_atomic_block:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


def tracking_code() -> str:
    """`models.new_tracking_code` drawn from one call for the random bytes: 32 symbols, so `byte % 32` is uniform."""
    return "FQ" + "".join(TRACKING_ALPHABET[b & 31] for b in secrets.token_bytes(10))


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
    """The file's rows checked, de-duplicated within the file and encrypted, `size` rows to import at a time."""
    seen, read = {}, 0
    rows, notes = [], []
    record_index = columns["record_id"]
    for number, values in table.rows():
        read += 1
        try:
            row = importer.parse(values, columns, number)
        except Rejected as exc:
            record = _text(values[record_index]) if record_index < len(values) else ""
            notes.append((number, record, "rejected", str(exc)))
            continue
        first = seen.get(row.record_id)
        if first is not None:
            notes.append((number, row.record_id, "duplicate", f"same record id as row {first}"))
            continue
        seen[row.record_id] = number
        importer.protect(row)
        rows.append(row)
        if len(rows) >= size:
            yield Batch(read, rows, notes)
            rows, notes = [], []
    yield Batch(read, rows, notes)


class Importer:
    def __init__(self, *, source, actor, now, dry_run):
        self.source, self.channel = source, SOURCES[source]
        self.actor, self.now, self.dry_run = actor, now, dry_run
        self.places = Places()
        self.categories = Categories(source)
        self.workflow = get_workflow("matter")
        self.clocks, self.payloads = {}, {}
        self.connection = connections[Matter.objects.db]
        self.user = actor if actor is not None and not isinstance(actor, str) else None
        self._prepare_statements()

    # --- one row --------------------------------------------------------------------------------------

    def parse(self, values, columns, number):
        def get(field):
            index = columns.get(field)
            return values[index] if index is not None and index < len(values) else None

        record_id = _text(get("record_id"))
        if not record_id:
            raise Rejected("no record id")
        if len(record_id) > 64:
            raise Rejected("record id longer than 64 characters")
        submitted_at = parse_time(get("submitted_at"), self.now)
        title, description = _text(get("title")), _text(get("content"))
        if not title and not description:
            raise Rejected("neither title nor content")
        warnings = []
        if len(title) > 200:
            title = title[:200]
            warnings.append("title cut to 200 characters")
        if len(description) > 10000:
            description = description[:10000]
            warnings.append("content cut to 10,000 characters")
        lon, lat, why = parse_point(get("lon"), get("lat"))
        if why:
            warnings.append(why)
        name = _text(get("reporter_name"))
        if len(name) > 60:
            name = ""
            warnings.append("reporter name longer than 60 characters; dropped")
        phone = _text(get("reporter_phone"))
        if phone:
            try:
                phone = normalise_phone(phone)
            except IdentityError:
                phone = ""
                warnings.append("invalid phone number; dropped")
        category_id, why = self.categories.find(_text(get("category")))
        if why:
            warnings.append(why)
        return Row(number, record_id, submitted_at, title or description[:60], description,
                   _text(get("address"))[:300], lon, lat, name, phone, category_id, warnings)  # fmt: skip

    def protect(self, row):
        """Encrypt the reporter's name and phone as the model fields store them, and hash the phone."""
        if self.dry_run:
            return
        row.stored_name = self.encrypt(row.reporter_name, self.connection)
        row.stored_phone = self.encrypt(row.reporter_phone, self.connection)
        row.phone_hash = lookup_hash(row.reporter_phone) if row.reporter_phone else ""

    # --- batches ----------------------------------------------------------------------------------------

    def clock_for(self, category_id):
        """(amount, unit, warn fraction, due, warn at, provisional) of the acceptance clock, per category."""
        if category_id not in self.clocks:
            probe = Matter(workflow=self.workflow.name, channel=self.channel, complexity=Complexity.SIMPLE)
            probe.category = self.categories.objects.get(category_id)
            amount, unit, fraction = deadlines.policy_for(probe, Stage.ACCEPT)
            due, warn, provisional = deadlines.compute(self.now, amount, unit, fraction)
            adapt = self.adapt_time
            self.clocks[category_id] = (amount, unit, fraction, adapt(due), adapt(warn), provisional)
        return self.clocks[category_id]

    def _lookup(self, record_ids, fields):
        found = []
        record_ids = list(record_ids)
        for start in range(0, len(record_ids), IN_CHUNK):
            chunk = record_ids[start : start + IN_CHUNK]
            query = Matter.objects.filter(source=self.source, external_id__in=chunk).order_by()
            found.extend(query.values_list(*fields))
        return found

    def _new_ids(self, cursor, rows):
        """The ids the rows just inserted got, in order. On SQLite, inside the write transaction, one INSERT gives
        consecutive ids ending at last_insert_rowid() (checked on the first and last row); else looked up."""
        if self.connection.vendor == "sqlite":
            cursor.execute("SELECT last_insert_rowid()")
            last = cursor.fetchone()[0]
            first = last - len(rows) + 1
            ends = dict(Matter.objects.filter(pk__in=[first, last]).values_list("pk", "external_id"))
            if ends.get(first) == rows[0].record_id and ends.get(last) == rows[-1].record_id:
                return range(first, last + 1)
        found = dict(self._lookup([r.record_id for r in rows], ["external_id", "pk"]))
        return [found[r.record_id] for r in rows]

    def payload_for(self, method):
        """The timeline row's payload (as the JSON field stores it), per way of locating."""
        if method not in self.payloads:
            payload = {"channel": self.channel, "source": self.source, "located_by": method}
            self.payloads[method] = self.payload(payload, self.connection)
        return self.payloads[method]

    def existing(self, record_ids):
        return {record for (record,) in self._lookup(record_ids, ["external_id"])}

    def _prepare_statements(self):
        """One INSERT per table: the columns that vary per row first, then every other column's value (what the
        loop's intake writes, else the model default), prepared once."""
        now, user = self.now, (self.user.pk if self.user else None)
        self.encrypt = Matter._meta.get_field("reporter_name").get_db_prep_save
        self.adapt_time = self.connection.ops.adapt_datetimefield_value
        self.payload = MatterEvent._meta.get_field("payload").get_db_prep_save
        state = self.workflow.initial
        self.matter_sql, self.matter_fixed = self._statement(
            Matter,
            ["tracking_code", "title", "description", "category", "lon", "lat", "address", "grid", "area",
             "location_method", "needs_triage", "handling_area", "reporter_name", "reporter_phone",
             "reporter_phone_hash", "external_id", "submitted_at", "provisional_deadline"],
            {"created_at": now, "updated_at": now, "workflow": self.workflow.name, "channel": self.channel,
             "complexity": Complexity.SIMPLE, "source": self.source, "state": state, "state_changed_at": now,
             "entered_by": user},
        )  # fmt: skip
        self.clock_sql, self.clock_fixed = self._statement(
            Clock,
            ["matter", "amount", "unit", "warn_fraction", "due_at", "warn_at", "provisional"],
            {"stage": Stage.ACCEPT, "started_at": now},
        )
        self.event_sql, self.event_fixed = self._statement(
            MatterEvent,
            ["matter", "payload"],
            {"action": "import", "from_state": state, "to_state": state, "actor": user,
             "actor_label": audit.actor_label(self.actor)[:150], "at": now, "public": True},
        )  # fmt: skip

    def _statement(self, model, varying, fixed):
        connection = self.connection
        fields = [model._meta.get_field(name) for name in varying]
        others = [f for f in model._meta.concrete_fields if not f.primary_key and f.name not in varying]
        values = []
        for field in others:
            value = fixed[field.name] if field.name in fixed else field.get_default()
            values.append(field.get_db_prep_save(value, connection) if value is not None else None)
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in [*fields, *others])
        marks = ", ".join(["%s"] * (len(fields) + len(others)))
        return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})", tuple(values)

    def write(self, rows):
        """Insert the rows (one transaction); returns those written (others may have been imported meanwhile)."""
        connection, adapt = self.connection, self.adapt_time
        for attempt in range(3):
            if attempt:  # a concurrent import of the same records, or a tracking code drawn twice: look again
                taken = self.existing(r.record_id for r in rows)
                rows = [r for r in rows if r.record_id not in taken]
            if not rows:
                return rows
            matters = []
            for r in rows:
                clock = self.clock_for(r.category_id)
                matters.append(
                    (tracking_code(), r.title, r.description, r.category_id, r.lon, r.lat, r.address, r.grid_id,
                     r.area_id, r.method, r.needs_triage, r.handling_area_id, r.stored_name, r.stored_phone,
                     r.phone_hash, r.record_id, adapt(r.submitted_at), clock[5], *self.matter_fixed)
                )  # fmt: skip
            try:
                with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                    cursor.executemany(self.matter_sql, matters)
                    ids = self._new_ids(cursor, rows)
                    clocks, events = [], []
                    for r, pk in zip(rows, ids, strict=True):
                        clocks.append((pk, *self.clock_for(r.category_id), *self.clock_fixed))
                        events.append((pk, self.payload_for(r.method), *self.event_fixed))
                    cursor.executemany(self.clock_sql, clocks)
                    cursor.executemany(self.event_sql, events)
                return rows
            except IntegrityError:
                if attempt == 2:
                    raise
        return rows


def import_matters(path, *, source, actor, mapping=None, dry_run=False, report_path=None, progress=None,
                   now=None, batch=BATCH) -> ImportResult:  # fmt: skip
    """Import the rows of an xlsx or CSV export; `mapping` is a dict or the path of a JSON mapping file.
    Raises FileFormatError or MatterImportError before anything is written."""
    if source not in SOURCES:
        raise MatterImportError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    mapping = load_mapping(mapping)
    table = open_table(path)
    columns = columns_for(table, mapping)
    try:
        importer = Importer(source=source, actor=actor, now=now or timezone.now(), dry_run=dry_run)
    except ValidationError as exc:  # no area tree yet
        raise MatterImportError("; ".join(exc.messages)) from None
    except UnknownLayerError as exc:
        raise MatterImportError(str(exc)) from None
    report = Report(report_path or default_report_path(path, source))
    result = ImportResult(file=table.path.name, source=source, report=report.path, total=table.total,
                          dry_run=dry_run)  # fmt: skip
    bar = Progress(progress, table.total)
    started = time.perf_counter()
    try:
        with bulk_writes(importer.connection):
            for chunk in batches(importer, table, columns, batch):
                _flush(importer, chunk, result, report)
                bar.update(result.read)
        bar.update(result.read, final=True)
        result.complete = True
    finally:
        report.close()
        result.seconds = time.perf_counter() - started
        if not dry_run and result.read:
            _audit(importer, table, result)
    return result


def _flush(importer, chunk, result, report):
    result.read = chunk.read
    for note in chunk.notes:
        report.add(*note)
        if note[2] == "rejected":
            result.rejected += 1
        else:
            result.duplicates += 1
    rows = chunk.rows
    taken = importer.existing(r.record_id for r in rows)
    fresh = [r for r in rows if r.record_id not in taken]
    result.duplicates += len(rows) - len(fresh)
    importer.places.locate(fresh)
    if not importer.dry_run:
        written = importer.write(fresh)
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
