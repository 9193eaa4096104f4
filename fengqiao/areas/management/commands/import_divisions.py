import datetime
import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from fengqiao.areas.divisions import DivisionImportError, import_division_files


class Command(BaseCommand):
    help = (
        "Import an edition of the statistical division codes (CSV, UTF-8 or GBK) into the area tree: "
        "idempotent, one transaction, vanished codes retired."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path, help="CSV files of one edition")
        parser.add_argument("--edition", help="edition label, e.g. 2022 (default: a year in the file name)")
        parser.add_argument("--valid-from", type=datetime.date.fromisoformat, help="YYYY-MM-DD (default 30 June)")
        parser.add_argument("--no-retire", action="store_true", help="do not retire codes missing from the files")
        parser.add_argument(
            "--retire-within",
            action="append",
            default=[],
            metavar="CODE",
            help="also retire missing codes anywhere under this area (e.g. 440000000000 for a complete provincial "
            "edition); by default only under the county-level units the files list",
        )
        parser.add_argument("--force", action="store_true", help="apply an edition older than one already applied")

    def handle(self, *args, files, edition, valid_from, no_retire, retire_within, force, **options):
        if not edition:
            years = {m for f in files for m in re.findall(r"(?<!\d)(19\d\d|20\d\d)(?!\d)", f.name)}
            if len(years) != 1:
                raise CommandError("cannot tell the edition from the file names; give --edition YEAR")
            edition = years.pop()
        try:
            report = import_division_files(
                files,
                actor="import-divisions",
                edition=edition,
                valid_from=valid_from,
                retire_missing=not no_retire,
                retire_within=retire_within,
                force=force,
            )
        except DivisionImportError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(report.summary())
