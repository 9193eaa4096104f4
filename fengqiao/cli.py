"""The ``fengqiao`` command: Django's management commands are its subcommands.

Subcommands may be written with hyphens (``fengqiao import-divisions``) or underscores.
"""

import os
import sys


def main(argv=None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fengqiao.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")
    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    execute_from_command_line(["fengqiao", *args])


if __name__ == "__main__":
    main()
