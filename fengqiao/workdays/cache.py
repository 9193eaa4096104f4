"""The override table, cached per process (ADR 0011).

The calendar asks about a day many times per deadline, so the whole table (a few dozen rows a year) is read in one
query and kept as a `Snapshot`:

* **Same process:** saving or deleting an override (any ORM save or delete, through the services or not) drops the
  snapshot at once and again when the transaction commits (`changed`, connected to the model's signals in
  `apps.py`). While the writing transaction is open, the writer reads the table afresh on every call and caches
  nothing, so a rolled-back write never lingers in the cache.
* **Other processes** (web workers, the deadline worker) re-read the table at most `TTL_SECONDS` later.
* Writes that send no signal (`QuerySet.update`, `bulk_create`, raw SQL) are seen after `TTL_SECONDS` too.
"""

import datetime
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from django.db import connections, router, transaction

TTL_SECONDS = 60.0

# The clock of the cache. Tests travel in time by replacing it (monkeypatch), never by sleeping.
clock = time.monotonic


@dataclass(frozen=True)
class Snapshot:
    days: dict[datetime.date, bool] = field(default_factory=dict)  # date -> is a working day
    names: dict[datetime.date, str] = field(default_factory=dict)
    per_year: Counter = field(default_factory=Counter)  # year -> number of overrides
    loaded_at: float = 0.0


_lock = threading.Lock()
_cached: Snapshot | None = None
_generation = 0  # bumped by every invalidation: a load that started before one is not kept


def _model():
    from fengqiao.workdays.models import CalendarOverride

    return CalendarOverride


def _load() -> Snapshot:
    CalendarOverride = _model()
    days, names, per_year = {}, {}, Counter()
    for day, kind, name in CalendarOverride.objects.values_list("date", "kind", "name"):
        days[day] = kind == CalendarOverride.Kind.WORKDAY
        names[day] = name
        per_year[day.year] += 1
    return Snapshot(days=days, names=names, per_year=per_year, loaded_at=clock())


def _writing(connection) -> bool:
    """True while this connection's open transaction has written an override that is not committed yet."""
    return connection.in_atomic_block and any(entry[1] is _committed for entry in connection.run_on_commit)


def current() -> Snapshot:
    """The override table as this process sees it now."""
    global _cached
    connection = connections[router.db_for_read(_model())]
    if _writing(connection):
        return _load()
    snapshot = _cached
    if snapshot is not None and clock() - snapshot.loaded_at < TTL_SECONDS:
        return snapshot
    generation = _generation
    snapshot = _load()
    with _lock:
        if generation == _generation:
            _cached = snapshot
    return snapshot


def invalidate() -> None:
    """Forget the cached table; the next call reads it again."""
    global _cached, _generation
    with _lock:
        _cached = None
        _generation += 1


def _committed() -> None:
    invalidate()


def changed(using=None) -> None:
    """An override was saved or deleted on `using`: forget the table now and once more on commit."""
    invalidate()
    transaction.on_commit(_committed, using=using)


def on_override_saved(sender, instance, using, **kwargs):
    changed(using)
