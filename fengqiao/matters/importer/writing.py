"""How an import writes (ADR 0015): per batch one transaction, the matters through one prepared INSERT
(`executemany`, the shared values as literals), their acceptance clocks and timeline rows through one INSERT … SELECT
each; SQLite settings for the bulk write. See `fengqiao.matters.importer`."""

import contextlib
import dataclasses
import json
import secrets

from django.db import IntegrityError, connections, transaction
from django.db.models.expressions import RawSQL

from fengqiao.audit import services as audit
from fengqiao.matters import deadlines
from fengqiao.matters.models import TRACKING_ALPHABET, Clock, Complexity, Matter, MatterEvent, Stage
from fengqiao.matters.workflows import get_workflow

BATCH = 10_000  # rows per write transaction: ~0.4 s holding SQLite's writer lock on this machine (ADR 0015)
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


_TRACKING_TABLE = bytes(ord(TRACKING_ALPHABET[b & 31]) for b in range(256))


def tracking_codes(count) -> list[str]:
    """`count` codes as `models.new_tracking_code` draws them ("FQ" + 10 symbols of its alphabet, 50 bits), from
    one call for the random bytes: 32 symbols, so `byte % 32` is uniform."""
    symbols = secrets.token_bytes(10 * count).translate(_TRACKING_TABLE).decode("ascii")
    return ["FQ" + symbols[i : i + 10] for i in range(0, 10 * count, 10)]


def sql_literal(value):
    """A constant of a prepared INSERT as an SQL literal (bound once in the statement instead of on every row), or
    None when it must stay a parameter. ``%`` is doubled for Django's ``%s`` placeholders."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"  # PostgreSQL refuses 1/0 for a boolean; SQLite reads both
    if isinstance(value, int):
        return str(int(value))  # int() drops a driver's wrapper type (psycopg's Int2 prints as "Int2(0)")
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return repr(float(value))
    if isinstance(value, str) and "\x00" not in value:
        return "'" + value.replace("'", "''").replace("%", "%%") + "'"
    return None


@dataclasses.dataclass
class Insert:
    """A prepared INSERT: the columns that vary per row first (placeholders or expressions), then every other
    column with its fixed value, as an SQL literal (else a placeholder with its value in `params`)."""

    table: str
    columns: str
    varying: int
    fixed: str
    params: tuple

    def values(self):
        """The INSERT for `executemany`: each row gives the varying values, then `params`."""
        marks = ", ".join(["%s"] * self.varying)
        return f"INSERT INTO {self.table} ({self.columns}) VALUES ({marks}, {self.fixed})"

    def select(self, expressions, source):
        """INSERT … SELECT `expressions` (the varying columns) `source` (FROM …); its parameters: `params`, then
        those of `source`."""
        return f"INSERT INTO {self.table} ({self.columns}) SELECT {expressions}, {self.fixed} {source}"


class Writer:
    """Writes the located, encrypted rows of one import: matters, clocks and timeline rows as `submit` would."""

    def __init__(self, *, source, channel, actor, now, categories):
        self.source, self.channel, self.actor, self.now = source, channel, actor, now
        self.categories = categories
        self.workflow = get_workflow("matter")
        self.clocks, self.payloads = {}, {}
        self.connection = connections[Matter.objects.db]
        self.user = actor if actor is not None and not isinstance(actor, str) else None
        self._prepare_statements()

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
        """`fields` of the matters of this source with these record ids (on SQLite one query: the ids as a JSON
        array, matched on the (source, external id) index)."""
        found = []
        record_ids = list(record_ids)
        if self.connection.vendor == "sqlite":
            ids = RawSQL("SELECT value FROM json_each(%s)", [json.dumps(record_ids)])
            return list(Matter.objects.filter(source=self.source, external_id__in=ids).order_by().values_list(*fields))
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
        self.adapt_time = self.connection.ops.adapt_datetimefield_value
        self.payload = MatterEvent._meta.get_field("payload").get_db_prep_save
        state = self.workflow.initial
        self.matter_insert = self._statement(
            Matter,
            ["tracking_code", "title", "description", "category", "lon", "lat", "address", "grid", "area",
             "location_method", "needs_triage", "handling_area", "reporter_name", "reporter_phone",
             "reporter_phone_hash", "external_id", "submitted_at", "provisional_deadline"],
            {"created_at": now, "updated_at": now, "workflow": self.workflow.name, "channel": self.channel,
             "complexity": Complexity.SIMPLE, "source": self.source, "state": state, "state_changed_at": now,
             "entered_by": user},
        )  # fmt: skip
        self.clock_insert = self._statement(
            Clock,
            ["matter", "amount", "unit", "warn_fraction", "due_at", "warn_at", "provisional"],
            {"stage": Stage.ACCEPT, "started_at": now},
        )
        self.event_insert = self._statement(
            MatterEvent,
            ["matter", "payload"],
            {"action": "import", "from_state": state, "to_state": state, "actor": user,
             "actor_label": audit.actor_label(self.actor)[:150], "at": now, "public": True},
        )  # fmt: skip

    def _statement(self, model, varying, fixed):
        connection = self.connection
        fields = [model._meta.get_field(name) for name in varying]
        others = [f for f in model._meta.concrete_fields if not f.primary_key and f.name not in varying]
        marks, params = [], []
        for field in others:
            value = fixed[field.name] if field.name in fixed else field.get_default()
            value = field.get_db_prep_save(value, connection) if value is not None else None
            literal = sql_literal(value)
            marks.append("%s" if literal is None else literal)
            if literal is None:
                params.append(value)
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in [*fields, *others])
        return Insert(quote(model._meta.db_table), columns, len(fields), ", ".join(marks), tuple(params))

    def write(self, rows):
        """Insert the rows (one transaction); returns those written (others may have been imported meanwhile)."""
        connection, insert = self.connection, self.matter_insert
        for attempt in range(3):
            if attempt:  # a concurrent import of the same records, or a tracking code drawn twice: look again
                taken = self.existing(r.record_id for r in rows)
                rows = [r for r in rows if r.record_id not in taken]
            if not rows:
                return rows
            clock_for, adapt, fixed = self.clock_for, self.adapt_time, insert.params
            matters = [
                (code, r.title, r.description, r.category_id, r.lon, r.lat, r.address, r.grid_id, r.area_id, r.method,
                 r.needs_triage, r.handling_area_id, r.stored_name, r.stored_phone, r.phone_hash, r.record_id,
                 adapt(r.submitted_at), clock_for(r.category_id)[5], *fixed)
                for r, code in zip(rows, tracking_codes(len(rows)), strict=True)
            ]  # fmt: skip
            try:
                with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                    cursor.executemany(insert.values(), matters)
                    ids = self._new_ids(cursor, rows)
                    if isinstance(ids, range):
                        self._write_dependents_of_range(cursor, rows, ids)
                    else:
                        self._write_dependents(cursor, rows, ids)
                return rows
            except IntegrityError:
                if attempt == 2:
                    raise
        return rows

    def _write_dependents(self, cursor, rows, ids):
        """The acceptance clock and the timeline row of each matter, one row at a time (`executemany`)."""
        clock_for, payload_for = self.clock_for, self.payload_for
        clocks, events = self.clock_insert, self.event_insert
        pairs = list(zip(rows, ids, strict=True))
        cursor.executemany(clocks.values(), [(pk, *clock_for(r.category_id), *clocks.params) for r, pk in pairs])
        cursor.executemany(events.values(), [(pk, payload_for(r.method), *events.params) for r, pk in pairs])

    def _write_dependents_of_range(self, cursor, rows, ids):
        """The same for matters with consecutive ids, set-based: one INSERT … SELECT per table over the id range,
        joined to the clock of each category and the payload of each way of locating (no values bound per row)."""
        quote, field = self.connection.ops.quote_name, Matter._meta.get_field
        matters = f"FROM {quote(Matter._meta.db_table)} AS m"
        category, method = quote(field("category").column), quote(field("location_method").column)
        where = "WHERE m.id BETWEEN %s AND %s ORDER BY m.id"
        categories = {r.category_id for r in rows}
        clocks = [value for category in categories for value in (category, *self.clock_for(category))]
        marks = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(categories))
        cursor.execute(
            self.clock_insert.select(
                "m.id, c.column2, c.column3, c.column4, c.column5, c.column6, c.column7",
                f"{matters} JOIN (VALUES {marks}) AS c ON m.{category} IS c.column1 {where}",
            ),
            [*self.clock_insert.params, *clocks, ids[0], ids[-1]],
        )
        written = cursor.rowcount
        methods = {r.method for r in rows}
        payloads = [value for method in methods for value in (method, self.payload_for(method))]
        marks = ", ".join(["(%s, %s)"] * len(methods))
        cursor.execute(
            self.event_insert.select(
                "m.id, p.column2",
                f"{matters} JOIN (VALUES {marks}) AS p ON m.{method} = p.column1 {where}",
            ),
            [*self.event_insert.params, *payloads, ids[0], ids[-1]],
        )
        if written != len(rows) or cursor.rowcount != len(rows):  # never: each matter has one clock and one row
            raise RuntimeError(f"import: {written} clocks and {cursor.rowcount} timeline rows for {len(rows)} matters")
