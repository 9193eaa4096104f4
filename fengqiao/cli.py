"""The ``fengqiao`` command: Django's management commands are its subcommands."""

import os
import sys


def main(argv=None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fengqiao.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    execute_from_command_line(["fengqiao", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
