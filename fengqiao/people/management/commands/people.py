"""`fengqiao people erase-expired [--today DATE]`: delete special care records past their retention date (the same
function, `people.services.erase_expired`, runs from a daily background job).
`fengqiao people import FILE.xlsx --kind persons|households|places`: import rows from a workbook (all or nothing;
see fengqiao.people.importers).
`fengqiao people export --user USERNAME --area CODE --out FILE.xlsx|.csv [--include-special-care]
[--unmasked --reason TEXT]`: export the persons of an area in the user's scope, masked unless unmasked with
permission and a reason (see fengqiao.people.exports); audited as the user."""

import datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from fengqiao.areas.models import Area
from fengqiao.core.context import cli_actor
from fengqiao.people import exports, importers, services


def _message(exc):
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        return "; ".join(f"--{key}: {msg}" for key, msgs in exc.message_dict.items() for msg in msgs)
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


class Command(BaseCommand):
    help = "Maintain the registers of people (import from xlsx, export, erase expired special care records)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        erase = sub.add_parser("erase-expired", help="delete special care records whose retention date has passed")
        erase.add_argument("--today", metavar="DATE", help="the day to compare with (default: today)")
        load = sub.add_parser("import", help="import persons, households or places from an .xlsx workbook")
        load.add_argument("file", metavar="FILE.xlsx")
        load.add_argument("--kind", required=True, choices=importers.KINDS, help="what the rows are")
        out = sub.add_parser("export", help="export the persons of an area (masked by default) to .xlsx or .csv")
        out.add_argument("--user", required=True, metavar="USERNAME", help="who exports: their scope and rights")
        out.add_argument("--area", required=True, metavar="CODE", help="division code of the area to export")
        out.add_argument("--out", required=True, metavar="FILE", help="FILE.xlsx or FILE.csv")
        out.add_argument(
            "--include-special-care",
            action="store_true",
            help="add special care columns (needs people.view_specialcare and people.export_specialcare)",
        )
        out.add_argument("--unmasked", action="store_true", help="plaintext (needs people.unmask_person)")
        out.add_argument("--reason", default="", help="why the data is needed (required with --unmasked; audited)")

    def handle(self, *args, **options):
        if options["subcommand"] == "import":
            try:
                report = importers.import_xlsx(options["file"], kind=options["kind"], actor=cli_actor())
            except importers.PeopleImportError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(report.summary())
            return
        if options["subcommand"] == "export":
            self.export(options)
            return
        today = None
        if options.get("today"):
            try:
                today = datetime.date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError(f"not a date (YYYY-MM-DD): {options['today']}") from None
        deleted = services.erase_expired(today, actor=cli_actor())
        self.stdout.write(f"erased {deleted} expired special care records")

    def export(self, options):
        path = Path(options["out"])
        try:
            fmt = exports.export_format(path)
        except ValidationError as exc:
            raise CommandError(_message(exc)) from None
        if not path.parent.is_dir():
            raise CommandError(f"--out: folder {path.parent} does not exist")
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"--user: no user named {options['user']!r}")
        area = Area.objects.filter(code=options["area"].strip()).first()
        if area is None:
            raise CommandError(f"--area: no area with division code {options['area']!r}")
        try:
            with transaction.atomic():  # a failed write takes the audit event back with it
                export = exports.export_people(
                    actor=user,
                    area=area,
                    include_special_care=options["include_special_care"],
                    unmasked=options["unmasked"],
                    reason=options["reason"],
                    fmt=fmt,
                )
                exports.write_export(export, path)
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError(_message(exc)) from None
        what = "masked" if export.masked else "UNMASKED"
        care = f", {export.special_care_records} special care records" if export.include_special_care else ""
        self.stdout.write(f"wrote {export.persons} persons ({what}{care}) of {area.name} ({area.code}) to {path}")
