"""`fengqiao people erase-expired [--today DATE]`: delete special care records past their retention date."""

import datetime
import getpass

from django.core.management.base import BaseCommand, CommandError

from fengqiao.people import services


def _operator():
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


class Command(BaseCommand):
    help = "Maintain the registers of people (erase expired special care records)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        erase = sub.add_parser("erase-expired", help="delete special care records whose retention date has passed")
        erase.add_argument("--today", metavar="DATE", help="the day to compare with (default: today)")

    def handle(self, *args, **options):
        today = None
        if options.get("today"):
            try:
                today = datetime.date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError(f"not a date (YYYY-MM-DD): {options['today']}") from None
        counts = services.erase_expired(actor=_operator(), today=today)
        self.stdout.write(f"erased {sum(counts.values())} expired special care records")
