"""`fengqiao import-matters FILE --source 12345|110 [--mapping MAPPING.json] [--dry-run] [--report PATH]`

Imports a 12345 or 110 export (xlsx, or CSV in UTF-8 or GBK/GB18030) as matters; see fengqiao.matters.importer.
A progress line (rows/s, ETA) goes to stderr: redrawn in place on a terminal, else (a log) a line every 10 s and
one at the end. The last line of the output reads ``imported N, duplicates D, rejected E (report: PATH)``.
"""

from django.core.management.base import BaseCommand, CommandError

from fengqiao.core.context import cli_actor
from fengqiao.matters import importer


class Command(BaseCommand):
    help = (
        "Import hotline (12345) or police (110) records from an xlsx or CSV export. Idempotent on the record id; "
        "rows that cannot be matters go to the report file, everything else is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="the export: .xlsx, or .csv in UTF-8 or GBK/GB18030")
        parser.add_argument("--source", required=True, choices=sorted(importer.SOURCES), help="where it comes from")
        parser.add_argument(
            "--mapping",
            metavar="MAPPING.json",
            help="JSON object {field: column header} over the default 12345 layout; fields: "
            + ", ".join(importer.FIELDS),
        )
        parser.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
        parser.add_argument("--report", metavar="PATH", help="the report file (default: DATA_DIR/imports/…)")
        parser.add_argument("--actor", default=None, help="name recorded in the audit log (default cli:USER)")

    def handle(self, *args, **options):
        try:
            result = importer.import_matters(
                options["file"],
                source=options["source"],
                actor=options["actor"] or cli_actor(),
                mapping=options["mapping"],
                dry_run=options["dry_run"],
                report_path=options["report"],
                progress=self.stderr,
            )
        except (importer.FileFormatError, importer.MatterImportError) as exc:
            raise CommandError(f"{exc} (nothing imported)") from None
        for line in result.lines():
            self.stdout.write(line)
