"""The ``fengqiao`` command: Django's management commands are its subcommands.

Subcommands may be written with hyphens (``fengqiao import-divisions``) or underscores.
"""

import os
import sys


def _missing_schema(exc):
    text = str(exc)
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def main(argv=None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fengqiao.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line
    from django.db import DatabaseError

    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")
    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    try:
        execute_from_command_line(["fengqiao", *args])
    except DatabaseError as exc:
        if not _missing_schema(exc):
            raise
        sys.stderr.write(
            f"fengqiao: the database is not set up or not up to date ({exc}).\n"
            "Run `fengqiao migrate` first (or `make demo` for the demo database).\n"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
