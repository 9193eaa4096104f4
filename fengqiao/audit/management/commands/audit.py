"""`fengqiao audit verify | export --from DATE --to DATE [--format csv|jsonl] [-o FILE] | prune --before DATE`"""

import csv
import datetime
import json
import sys

from django.core.management.base import BaseCommand, CommandError

from fengqiao.audit import chain
from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
from fengqiao.core.context import cli_actor

JSON_COLUMNS = ("data", "before", "after")


def _day(text):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {text}") from None


class Command(BaseCommand):
    help = "Check, export and prune the audit trail."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        sub.add_parser("verify", help="check the hash chain; exit 1 naming the first bad row")
        export = sub.add_parser("export", help="write events of a date range for auditors (CSV or JSON Lines)")
        export.add_argument("--from", dest="start", required=True, metavar="DATE", help="first day (YYYY-MM-DD)")
        export.add_argument("--to", dest="end", required=True, metavar="DATE", help="last day, inclusive")
        export.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file name, else jsonl")
        export.add_argument("-o", "--output", metavar="FILE", help="output file (default: standard output)")
        prune = sub.add_parser("prune", help=f"delete events older than {audit.RETENTION_DAYS} days or more")
        prune.add_argument("--before", required=True, metavar="DATE", help="delete events before this day")

    def handle(self, *args, **options):
        return getattr(self, f"handle_{options['subcommand']}")(**options)

    def handle_verify(self, **options):
        result = chain.verify()
        self.stdout.write(f"checked {result.checked} rows in {result.seconds:.2f} s")
        if not result.ok:
            self.stderr.write(f"audit chain broken at row {result.bad_id}: {result.problem} — {result.detail}")
            sys.exit(1)
        self.stdout.write("audit chain intact")

    def handle_export(self, **options):
        start, end = _day(options["start"]), _day(options["end"])
        if end < start:
            raise CommandError("--to is before --from")
        fmt = options["format"] or ("csv" if (options["output"] or "").endswith(".csv") else "jsonl")
        path = options["output"]
        rows = audit.export_rows(start=start, end=end)
        if path:
            try:
                with open(path, "w", encoding="utf-8", newline="") as fp:
                    count = self._write(fp, fmt, rows)
            except OSError as exc:
                raise CommandError(f"{path}: cannot write ({exc.strerror or exc})") from None
        else:
            count = self._write(self.stdout, fmt, rows)
        audit.record(
            actor=cli_actor(),
            action="audit.export",
            event_type=EventType.EXPORT,
            summary=f"{count} events {start.isoformat()}..{end.isoformat()}",
            data={"from": start.isoformat(), "to": end.isoformat(), "format": fmt, "rows": count},
        )
        if path:
            self.stderr.write(f"{count} events written to {path}")

    @staticmethod
    def _write(fp, fmt, rows):
        count = 0
        if fmt == "csv":
            writer = csv.DictWriter(fp, fieldnames=audit.EXPORT_FIELDS)
            writer.writeheader()
        for row in rows:
            if fmt == "csv":
                for column in JSON_COLUMNS:
                    value = row[column]
                    row[column] = "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
                writer.writerow(row)
            else:
                fp.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
        return count

    def handle_prune(self, **options):
        try:
            deleted, verification = audit.prune(actor=cli_actor(), before=_day(options["before"]))
        except audit.AuditError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"checked {verification.checked} rows; deleted {deleted} events before {options['before']}")
