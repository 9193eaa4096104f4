"""Benchmarks other apps add to `fengqiao bench` (the command lives in fengqiao.areas; apps register theirs in
`AppConfig.ready`): name -> (add_arguments(parser), run(out, **options), one-line summary)."""

import contextlib
import shutil
import tempfile
import time
from pathlib import Path

from django.db import connections

BENCHMARKS: dict[str, tuple] = {}


def register(name, add_arguments, run, summary):
    BENCHMARKS[name] = (add_arguments, run, summary)


@contextlib.contextmanager
def scratch_database(name, *, path=None, keep=False, reuse=False, out=print):
    """A throw-away database for a benchmark, made like a test database (migrated) and dropped afterwards.

    SQLite: the file `path` (default: a temporary folder's ``<name>.sqlite3``); PostgreSQL: ``<db>_<name>_bench``.
    ``keep`` leaves it in place (its name is printed); ``reuse`` keeps an existing one as it is (``keepdb``)."""
    connection = connections["default"]
    original = connection.settings_dict["NAME"]
    test_settings = connection.settings_dict.setdefault("TEST", {})
    saved = dict(test_settings)
    folder = None if path else Path(tempfile.mkdtemp(prefix=f"fengqiao-bench-{name}-"))
    if connection.vendor == "sqlite":
        test_settings["NAME"] = str(path or folder / f"{name}.sqlite3")
    else:
        test_settings["NAME"] = f"{original}_{name}_bench"
    started = time.perf_counter()
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=reuse)
    out(f"scratch database {connection.settings_dict['NAME']} ready in {time.perf_counter() - started:.1f} s")
    try:
        yield connection
    finally:
        if keep:
            connection.close()
            connection.settings_dict["NAME"] = original
            out(f"kept {test_settings['NAME']}")
        else:
            connection.creation.destroy_test_db(original, verbosity=0)
        connection.settings_dict["TEST"] = saved
        if folder is not None and not keep:
            shutil.rmtree(folder, ignore_errors=True)
