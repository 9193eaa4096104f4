"""`fengqiao workdays show START AMOUNT UNIT [--no-roll] | years [--until YEAR]`"""

import datetime
from importlib.metadata import PackageNotFoundError, version

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from fengqiao.workdays import cache
from fengqiao.workdays import calendar as workdays
from fengqiao.workdays.calendar import SHANGHAI, Unit


def _start(text):
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date or date-time (YYYY-MM-DD[THH:MM[+08:00]]): {text}") from None
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def _amount(text):
    try:
        return int(text)
    except ValueError:
        raise CommandError(f"not a whole number: {text}") from None


def _package_version():
    try:
        return version("chinesecalendar")
    except PackageNotFoundError:
        return "?"


def _when(moment):
    return f"{moment:%Y-%m-%d %H:%M %z} ({moment:%a})"


class Command(BaseCommand):
    help = "Compute a deadline on the working-day calendar, or list which years have holiday data."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        show = sub.add_parser("show", help="print when a period falls due and whether that is provisional")
        show.add_argument(
            "start", help="start, YYYY-MM-DD or YYYY-MM-DDTHH:MM (Asia/Shanghai unless an offset is given)"
        )
        show.add_argument("amount", help="a whole number")
        show.add_argument("unit", type=str.lower, choices=[u.value for u in Unit])
        show.add_argument(
            "--no-roll",
            dest="roll",
            action="store_false",
            default=None,
            help="days/months: keep a last day that is not a working day (default: move to the next working day)",
        )
        years = sub.add_parser("years", help="which years the package knows, overrides configure, or are provisional")
        years.add_argument("--until", type=int, metavar="YEAR", help="last year to list (default: next year)")

    def handle(self, *args, **options):
        return getattr(self, f"handle_{options['subcommand']}")(**options)

    def handle_show(self, **options):
        start, amount, unit = _start(options["start"]), _amount(options["amount"]), Unit(options["unit"])
        try:
            result = workdays.deadline(start, amount, unit, roll_to_working_day=options["roll"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        due = result.due
        self.stdout.write(f"start:       {_when(start.astimezone(SHANGHAI))}")
        self.stdout.write(f"period:      {amount} {unit.value}")
        last = (due - datetime.timedelta(microseconds=1)).date()
        ending = f" = end of {last:%Y-%m-%d (%a)}" if due.time() == datetime.time.min else ""
        self.stdout.write(f"due:         {_when(due)}{ending}")
        if result.provisional:
            missing = ", ".join(str(y) for y in workdays.unknown_years(start, due))
            self.stdout.write(
                f"provisional: yes: no holiday data for {missing}; weekends only "
                "(enter that year's holidays and make-up workdays as calendar overrides)"
            )
        else:
            self.stdout.write("provisional: no")

    def handle_years(self, **options):
        per_year = cache.current().per_year
        this_year = timezone.localdate().year
        until = options["until"] or max([this_year + 1, *per_year])
        package = [y for y in range(1990, until + 1) if workdays.package_knows(y)]
        if package:
            self.stdout.write(f"{package[0]}-{package[-1]}  known by chinesecalendar {_package_version()}")
        listed = sorted({*per_year, *range((package[-1] + 1) if package else this_year, until + 1)})
        for year in listed:
            status = workdays.year_status(year)
            if status.known_by_package:
                self.stdout.write(f"{year}       known by the package; {status.overrides} overrides take precedence")
            elif status.overrides:
                self.stdout.write(f"{year}       configured by {status.overrides} overrides (weekends otherwise)")
            else:
                self.stdout.write(f"{year}       provisional: weekends only, no holiday data")
        self.stdout.write("any other year: provisional unless listed above")
