"""The reporters' names and phones of an import, encrypted as the model fields store them, with the phone's lookup
hash — in a helper process while the main one writes (ADR 0015). See `fengqiao.matters.importer`.

Fernet encryption (two values a row, ~6 µs each) is the largest share of the import's Python work after SQLite's,
so one helper process encrypts batch k + 1 while this process writes batch k. The helper is a fresh interpreter
(``spawn``: no fork of a process that may run threads) that sets Django up (~1 s; the batches read meanwhile are
encrypted here) and reads the keys as this process does (the same environment and key folder). It only computes:
it is sent names and phones and returns what to store; it opens no database connection. The first values it
returns are checked here (decrypted and hashed again); should they differ, or the helper fail, the import goes on
encrypting in this process. A small file is encrypted in this process; a dry run encrypts nothing.
"""

import concurrent.futures
import multiprocessing
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from fengqiao.core.crypto import decrypt, lookup_hash, reset_key_cache
from fengqiao.matters.models import Matter


def protect_values(pairs):
    """[(stored name, stored phone, phone hash)] for [(name, phone)]: encrypted by the model fields
    (`get_db_prep_save`, the call `bulk_create` makes; empty stays empty) and `lookup_hash` of the phone."""
    connection = connections[Matter.objects.db]  # an argument these fields do not use: no connection is opened
    name = Matter._meta.get_field("reporter_name").get_db_prep_save
    phone = Matter._meta.get_field("reporter_phone").get_db_prep_save
    return [(name(n, connection), phone(p, connection), lookup_hash(p) if p else "") for n, p in pairs]


class HelperMismatch(Exception):
    """The helper's values do not read back here (other keys)."""


def _use_key_dir(key_dir):
    """The helper's first task: the key folder this process resolved (its settings may have been read before the
    environment named another one, as under pytest)."""
    settings.KEY_DIR = Path(key_dir)
    reset_key_cache()
    return True


class _Job:
    def __init__(self, pairs, future=None):
        self.pairs, self.future = pairs, future
        self.values = protect_values(pairs) if future is None else None


class Protector:
    """Encrypts batches: `submit(rows)` returns a job, `apply(rows, job)` waits for it and sets the rows' stored
    values, `close()` ends the helper (also when the import stops half-way).

    `helper`: False encrypts here; True starts the helper and waits for it; "auto" starts it and encrypts here
    until it is ready. Here again should it fail (say, a script that imports without a ``__main__`` guard) or
    return values this process cannot read back."""

    def __init__(self, *, helper):
        self.pool, self.ready, self.checked, self.sent = None, None, False, 0
        if helper:
            context = multiprocessing.get_context("spawn")
            self.pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=context, initializer=django.setup)
            self.ready = self.pool.submit(_use_key_dir, str(settings.KEY_DIR))  # done once the helper is set up
            if helper is True:
                try:
                    self.ready.result()
                except BaseException:
                    self.close(wait=False)
                    raise

    def submit(self, rows):
        pairs = [(r.reporter_name, r.reporter_phone) for r in rows]
        if self.pool is not None and self.ready.done():
            try:
                return _Job(pairs, self.pool.submit(protect_values, pairs))
            except BrokenProcessPool:
                self.close(wait=False)
        return _Job(pairs)

    def apply(self, rows, job):
        values = job.values if job.future is None else self._from_helper(rows, job)
        for row, (name, phone, phone_hash) in zip(rows, values, strict=True):
            row.stored_name, row.stored_phone, row.phone_hash = name, phone, phone_hash

    def _from_helper(self, rows, job):
        if self.pool is not None:  # not given up on
            try:
                values = job.future.result()
                if not self.checked:
                    self._check(rows, values)
                self.sent += 1
                return values
            except (BrokenProcessPool, HelperMismatch):
                self.close(wait=False)
        return protect_values(job.pairs)

    def _check(self, rows, values):
        """Once: what the helper returned reads back here as the plaintext (the same keys in both processes)."""
        for row, (stored_name, stored_phone, phone_hash) in zip(rows, values, strict=True):
            if row.reporter_name or row.reporter_phone:
                try:
                    name = decrypt(stored_name) if stored_name else ""
                    phone = decrypt(stored_phone) if stored_phone else ""
                except ImproperlyConfigured:
                    raise HelperMismatch from None
                expected = lookup_hash(row.reporter_phone) if row.reporter_phone else ""
                if (name, phone, phone_hash) != (row.reporter_name, row.reporter_phone, expected):
                    raise HelperMismatch
                self.checked = True
                return

    def close(self, *, wait=True):
        if self.pool is not None:
            self.pool.shutdown(wait=wait, cancel_futures=True)
            self.pool = None
