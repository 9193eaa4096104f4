"""Django's SQLite backend, with writers queueing on a file lock instead of SQLite's busy-wait (ADR 0013).

SQLite lets one writer in at a time. A connection that finds the database locked sleeps and retries (its busy
handler backs off up to 100 ms a try), so under concurrent writes from several gunicorn workers most waiting is
sleeping while the lock sits free: a few dozen writes a second with second-long tails. Here every write
transaction (``BEGIN IMMEDIATE``, which Django issues for each ``atomic`` block with ``transaction_mode``
IMMEDIATE) first takes an exclusive ``flock`` on ``<database>.writer-lock``: waiters block in the kernel and the
next one runs the moment the previous commits. Readers never take it (WAL lets them read during a write).

The lock is held only between BEGIN and COMMIT/ROLLBACK of one transaction; it is released when the transaction
ends or the connection closes, so a crashed process cannot leave it held.
"""

import fcntl
import os

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    _writer_fd = None
    _writer_locked = False

    def _lock_path(self):
        name = str(self.settings_dict["NAME"])
        if name == ":memory:" or name.startswith("file:") or self.is_in_memory_db():
            return None
        return f"{name}.writer-lock"

    def _take_writer_lock(self):
        path = self._lock_path()
        if path is None or self._writer_locked:
            return
        if self._writer_fd is None:
            self._writer_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._writer_fd, fcntl.LOCK_EX)
        self._writer_locked = True

    def _release_writer_lock(self):
        if self._writer_locked:
            fcntl.flock(self._writer_fd, fcntl.LOCK_UN)
            self._writer_locked = False

    def _start_transaction_under_autocommit(self):
        if self.transaction_mode == "IMMEDIATE":
            self._take_writer_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer_lock()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writer_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writer_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer_lock()
            if self._writer_fd is not None:
                os.close(self._writer_fd)
                self._writer_fd = None
