"""A tiny per-process cache for reference data read on hot paths (deadline policies, centres, grid layers).

Entries live `ttl` seconds, so an edit made in another process takes effect there within that time; the process
that makes an edit calls `clear(prefix)`. Thread-safe; values must be treated as read-only.
"""

import threading
import time

_lock = threading.Lock()
_entries: dict = {}  # prefix (key[0]) -> {key: (built at, value)}


def get(key, ttl, build):
    """The value cached under `key` (a tuple whose first item is its prefix), built by `build()` when missing or
    older than `ttl` seconds."""
    now = time.monotonic()
    with _lock:
        entry = _entries.get(key[0], {}).get(key)
        if entry is not None and now - entry[0] < ttl:
            return entry[1]
    value = build()
    with _lock:
        _entries.setdefault(key[0], {})[key] = (now, value)
    return value


def clear(prefix=None):
    """Forget every entry, or those whose key starts with `prefix`."""
    with _lock:
        if prefix is None:
            _entries.clear()
        else:
            _entries.pop(prefix, None)
