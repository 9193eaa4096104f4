"""A tiny per-process cache for reference data read on hot paths (deadline policies, centres, grid layers).

Entries live `ttl` seconds, so an edit made in another process takes effect there within that time; the process
that makes an edit calls `clear(prefix)`. Thread-safe; values must be treated as read-only.
"""

import threading
import time

_lock = threading.Lock()
_entries: dict = {}


def get(key, ttl, build):
    now = time.monotonic()
    with _lock:
        entry = _entries.get(key)
        if entry is not None and now - entry[0] < ttl:
            return entry[1]
    value = build()
    with _lock:
        _entries[key] = (now, value)
    return value


def clear(prefix=None):
    with _lock:
        if prefix is None:
            _entries.clear()
            return
        for key in [k for k in _entries if k[0] == prefix]:
            del _entries[key]
