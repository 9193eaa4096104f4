"""`fengqiao people erase-expired [--today DATE]`: delete special care records past their retention date.
`fengqiao people import FILE.xlsx --kind persons|households|places`: import rows from a workbook (all or nothing;
see fengqiao.people.importers)."""

import datetime
import getpass

from django.core.management.base import BaseCommand, CommandError

from fengqiao.people import importers, services


def _operator():
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


class Command(BaseCommand):
    help = "Maintain the registers of people (import from xlsx, erase expired special care records)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        erase = sub.add_parser("erase-expired", help="delete special care records whose retention date has passed")
        erase.add_argument("--today", metavar="DATE", help="the day to compare with (default: today)")
        load = sub.add_parser("import", help="import persons, households or places from an .xlsx workbook")
        load.add_argument("file", metavar="FILE.xlsx")
        load.add_argument("--kind", required=True, choices=importers.KINDS, help="what the rows are")

    def handle(self, *args, **options):
        if options["subcommand"] == "import":
            try:
                report = importers.import_xlsx(options["file"], kind=options["kind"], actor=_operator())
            except importers.PeopleImportError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(report.summary())
            return
        today = None
        if options.get("today"):
            try:
                today = datetime.date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError(f"not a date (YYYY-MM-DD): {options['today']}") from None
        counts = services.erase_expired(actor=_operator(), today=today)
        self.stdout.write(f"erased {sum(counts.values())} expired special care records")
