"""Stamps: exact cross-process invalidation for per-process caches (ADR 0016).

`fengqiao.core.cache` keeps reference data per process for `ttl` seconds, so an edit made elsewhere shows up
only when the entry expires. For data where that delay is wrong (who may do what), the entry is keyed by a
*stamp*: a named counter row in the database. `read(name)` is one primary-key lookup; `bump(name)` adds one
after the current transaction commits (once per transaction however many rows changed), so every process sees a
new value at its next read and rebuilds. A bump that fails is retried by nobody: the cache's TTL is the backstop.
"""

import functools

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import F

from fengqiao.core.models import Stamp

# Users' permissions and scopes (`fengqiao.accounts.snapshot`); bumped by code that changes areas in bulk too.
AUTHZ = "authz"

_TABLE = Stamp._meta.db_table
_callbacks: dict = {}


def read(name: str, using: str = DEFAULT_DB_ALIAS) -> int:
    """The stamp's current value (0 when it was never bumped)."""
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT value FROM {_TABLE} WHERE name = %s", [name])
        row = cursor.fetchone()
    return row[0] if row else 0


def _bump_now(name: str, using: str):
    with transaction.atomic(using=using):
        if Stamp.objects.using(using).filter(name=name).update(value=F("value") + 1):
            return
        try:
            with transaction.atomic(using=using):
                Stamp.objects.using(using).create(name=name, value=1)
        except IntegrityError:  # created meanwhile by another process
            Stamp.objects.using(using).filter(name=name).update(value=F("value") + 1)


def _callback(name, using):
    return _callbacks.setdefault((name, using), functools.partial(_bump_now, name, using))


def pending(name: str, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the current transaction has changed what `name` stamps (its bump waits for the commit): what this
    connection reads now may yet be rolled back, so it must not be cached under the current value."""
    connection = connections[using]
    callback = _callback(name, using)
    return connection.in_atomic_block and any(func is callback for _sids, func, _robust in connection.run_on_commit)


def bump(name: str, using: str = DEFAULT_DB_ALIAS):
    """Bump `name` when the current transaction commits (now, in autocommit); once per transaction. A bump that
    fails is logged, not raised: the change itself has committed, and the caches' TTL is the backstop."""
    if pending(name, using):
        return
    transaction.on_commit(_callback(name, using), using=using, robust=True)
