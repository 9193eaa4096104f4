"""The working-day calendar for deadlines (ADR 0011): which days are working days, when a deadline falls due, how
much of its time has run, and how far a paused clock moves it. Pure: reads the override table (cached, see
`cache`), writes nothing. Local time is Asia/Shanghai; every datetime given must be timezone-aware and every
datetime returned is aware, in Asia/Shanghai.

A day's status comes from, in order:

1. the override table (`CalendarOverride`, edited by admins from the State Council's yearly notice);
2. the `chinese_calendar` package, for the years it knows;
3. weekends only. For a year with at least one override the year counts as configured and the result is firm;
   for a year without any the result is **provisional**: a holiday may be missing.

Periods (民法典 Arts 201–203, 民事诉讼法 Art 85, 信访工作条例): the day of the start does not count, a day or month
deadline ends at 24:00 of its last day, and a natural-day or month deadline whose last day is not a working day
moves to the end of the next working day (`roll_to_working_day`, on by default for DAYS and MONTHS).
"""

import datetime
import enum
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import chinese_calendar

from fengqiao.workdays import cache

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = datetime.timedelta(days=1)


class Unit(enum.StrEnum):
    HOURS = "hours"  # natural hours: start + N hours
    DAYS = "days"  # natural days
    WORKING_DAYS = "working_days"
    MONTHS = "months"  # calendar months


NATURAL_UNITS = frozenset({Unit.HOURS, Unit.DAYS, Unit.MONTHS})  # clocks that run on wall time
ROLL_BY_DEFAULT = frozenset({Unit.DAYS, Unit.MONTHS})
# The largest amount accepted per unit (about ten years): a larger one is a data error, not a deadline.
MAX_AMOUNT = {Unit.HOURS: 24 * 3660, Unit.DAYS: 3660, Unit.WORKING_DAYS: 2500, Unit.MONTHS: 120}


class Source(enum.StrEnum):
    OVERRIDE = "override"  # an entry of the override table
    PACKAGE = "chinese_calendar"  # the package's data for a year it knows
    CONFIGURED = "weekends:configured"  # weekends, in a year the override table configures
    WEEKENDS = "weekends:provisional"  # weekends only: nobody has entered this year's holidays


class DayStatus(NamedTuple):
    is_working: bool
    provisional: bool
    source: Source


@dataclass(frozen=True)
class Deadline:
    due: datetime.datetime
    provisional: bool  # some day the computation relied on lies in a year without holiday data


@dataclass(frozen=True)
class YearStatus:
    year: int
    known_by_package: bool
    overrides: int

    @property
    def provisional(self) -> bool:
        return not self.known_by_package and not self.overrides


# --- the package ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def package_knows(year: int) -> bool:
    """Whether `chinese_calendar` has the holidays of `year` (it raises NotImplementedError for other years)."""
    try:
        chinese_calendar.is_workday(datetime.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=16384)
def _package_is_working(day: datetime.date) -> bool:
    return chinese_calendar.is_workday(day)


# --- input checks -----------------------------------------------------------------------------------------------


def _unit(unit) -> Unit:
    try:
        return Unit(unit)
    except ValueError:
        expected = ", ".join(u.value for u in Unit)
        raise ValueError(f"unknown unit {unit!r}: expected one of {expected}") from None


def _aware(name: str, value) -> datetime.datetime:
    if not isinstance(value, datetime.datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got the naive datetime {value.isoformat()}")
    return value.astimezone(SHANGHAI)


def _amount(amount, unit: Unit) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"amount must be a whole number, got {amount!r}")
    if amount < 0:
        raise ValueError(f"amount must not be negative, got {amount}")
    if amount > MAX_AMOUNT[unit]:
        raise ValueError(f"amount {amount} is too large for {unit.value} (at most {MAX_AMOUNT[unit]})")
    return amount


def _roll(unit: Unit, roll_to_working_day) -> bool:
    if roll_to_working_day is None:
        return unit in ROLL_BY_DEFAULT
    if unit is Unit.HOURS and roll_to_working_day:
        raise ValueError("roll_to_working_day applies to days and months, not to hours")
    return bool(roll_to_working_day)


def _local_day(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return _aware("day", value).date()
    if not isinstance(value, datetime.date):
        raise ValueError(f"day must be a date, got {type(value).__name__} {value!r}")
    return value


# --- days -------------------------------------------------------------------------------------------------------


def _start_of(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=SHANGHAI)


def _end_of(day: datetime.date) -> datetime.datetime:
    """24:00 of `day`, that is 00:00 of the next day."""
    return _start_of(day + DAY)


def _last_day(due: datetime.datetime) -> datetime.date:
    """The local day a due moment belongs to (00:00 belongs to the day before: it is that day's 24:00)."""
    return (due - datetime.timedelta(microseconds=1)).date()


def _round_up_to_end_of_day(moment: datetime.datetime) -> datetime.datetime:
    moment = moment.astimezone(SHANGHAI)
    return moment if moment.time() == datetime.time.min else _end_of(moment.date())


class _Calendar:
    """One computation's view: the override snapshot, and whether a provisional day was consulted."""

    def __init__(self, snapshot: cache.Snapshot | None = None):
        self.snapshot = cache.current() if snapshot is None else snapshot
        self.provisional = False

    def status(self, day: datetime.date) -> DayStatus:
        override = self.snapshot.days.get(day)
        if override is not None:
            return DayStatus(override, False, Source.OVERRIDE)
        if package_knows(day.year):
            return DayStatus(_package_is_working(day), False, Source.PACKAGE)
        weekday = day.weekday() < 5
        if self.snapshot.per_year.get(day.year):
            return DayStatus(weekday, False, Source.CONFIGURED)
        return DayStatus(weekday, True, Source.WEEKENDS)

    def working(self, day: datetime.date) -> bool:
        status = self.status(day)
        self.provisional |= status.provisional
        return status.is_working

    def next_working(self, day: datetime.date) -> datetime.date:
        """`day` if it is a working day, else the first working day after it."""
        while not self.working(day):
            day += DAY
        return day

    def working_time(self, start: datetime.datetime, end: datetime.datetime) -> datetime.timedelta:
        """The time between `start` and `end` that lies on working days."""
        total = datetime.timedelta(0)
        day = start.date()
        while _start_of(day) < end:
            if self.working(day):
                total += min(end, _end_of(day)) - max(start, _start_of(day))
            day += DAY
        return max(total, datetime.timedelta(0))

    def advance(self, moment: datetime.datetime, amount: datetime.timedelta) -> datetime.datetime:
        """The earliest moment after which `amount` of working time has passed since `moment`."""
        cursor, day = moment, moment.date()
        while amount > datetime.timedelta(0):
            end = _end_of(day)
            if self.working(day):
                available = end - cursor
                if amount <= available:
                    return cursor + amount
                amount -= available
            cursor, day = end, day + DAY
        return cursor


# --- the public functions ---------------------------------------------------------------------------------------


def day_status(day: datetime.date) -> DayStatus:
    """(is_working, provisional, source) of a local calendar day (an aware datetime stands for its local day)."""
    return _Calendar().status(_local_day(day))


def is_working_day(day: datetime.date) -> bool:
    return day_status(day).is_working


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The corresponding day `months` later; the month's last day when it has none (Jan 31 + 1 → Feb 28/29)."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    next_month = datetime.date(year + 1, 1, 1) if month == 12 else datetime.date(year, month + 1, 1)
    return min(datetime.date(year, month, 1) + (day.day - 1) * DAY, next_month - DAY)


def deadline(
    start: datetime.datetime, amount: int, unit: Unit | str, *, roll_to_working_day: bool | None = None
) -> Deadline:
    """When a period of `amount` `unit` that starts at `start` falls due.

    HOURS: start + N hours. DAYS / MONTHS: the start day does not count; due at 24:00 of the Nth day (of the
    corresponding day N months on), moved to 24:00 of the next working day when that day is not a working day and
    `roll_to_working_day` (default on). WORKING_DAYS: 24:00 of the Nth working day after the start day (0: the start
    day, or the next working day). Returns a `Deadline`; `provisional` when a day it relied on has no holiday data.
    Raises ValueError for a naive or non-datetime start, an unknown unit, a negative or non-integer amount."""
    unit = _unit(unit)
    start = _aware("start", start)
    amount = _amount(amount, unit)
    roll = _roll(unit, roll_to_working_day)
    if unit is Unit.HOURS:
        return Deadline(start + datetime.timedelta(hours=amount), False)
    calendar = _Calendar()
    first = start.date()
    if unit is Unit.WORKING_DAYS:
        last, counted = first, 0
        if amount == 0:
            last = calendar.next_working(first)
        while counted < amount:
            last += DAY
            counted += calendar.working(last)
    else:
        last = first + amount * DAY if unit is Unit.DAYS else add_months(first, amount)
        if roll:
            last = calendar.next_working(last)
    return Deadline(_end_of(last), calendar.provisional)


def working_time(start: datetime.datetime, end: datetime.datetime, unit: Unit | str) -> datetime.timedelta:
    """The time a clock in `unit` runs between `start` and `end`: wall time for natural units, the time on working
    days for WORKING_DAYS. Zero when `end` is not after `start`."""
    unit = _unit(unit)
    start, end = _aware("start", start), _aware("end", end)
    if end <= start:
        return datetime.timedelta(0)
    if unit in NATURAL_UNITS:
        return end - start
    return _Calendar().working_time(start, end)


def _span(start, due, unit):
    unit = _unit(unit)
    start, due = _aware("start", start), _aware("due", due)
    if due < start:
        raise ValueError(f"due ({due.isoformat()}) is before start ({start.isoformat()})")
    return start, due, unit


def elapsed_fraction(
    start: datetime.datetime, due: datetime.datetime, now: datetime.datetime, unit: Unit | str
) -> float:
    """How much of the time from `start` to `due` has run at `now`: 0 before the start, 1 at the due moment, more
    than 1 when overdue. Working-day clocks count only time on working days; natural ones count wall time."""
    start, due, unit = _span(start, due, unit)
    now = _aware("now", now)
    if due == start:
        return 1.0 if now >= due else 0.0
    if now <= start:
        return 0.0
    calendar = None if unit in NATURAL_UNITS else _Calendar()
    measure = (lambda a, b: b - a) if calendar is None else calendar.working_time
    total = measure(start, due)
    if total <= datetime.timedelta(0):
        return 1.0 if now >= due else 0.0
    return measure(start, now) / total


def point_at_fraction(
    start: datetime.datetime, due: datetime.datetime, fraction: float, unit: Unit | str
) -> datetime.datetime:
    """The moment at which `fraction` of the time from `start` to `due` has run (0.8: the yellow warning), in the
    same time as `elapsed_fraction` counts. A fraction above 1 lies after the due moment."""
    start, due, unit = _span(start, due, unit)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not math.isfinite(fraction):
        raise ValueError(f"fraction must be a finite number, got {fraction!r}")
    if fraction < 0:
        raise ValueError(f"fraction must not be negative, got {fraction}")
    if unit in NATURAL_UNITS:
        return start + (due - start) * fraction
    calendar = _Calendar()
    return calendar.advance(start, calendar.working_time(start, due) * fraction)


def extend(
    due: datetime.datetime,
    paused_from: datetime.datetime,
    paused_to: datetime.datetime,
    unit: Unit | str,
    *,
    roll_to_working_day: bool | None = None,
) -> Deadline:
    """The due moment of a clock that was paused from `paused_from` to `paused_to`: `due` pushed by the time the
    pause took from the clock (working time for WORKING_DAYS, wall time otherwise), then, for day and month units,
    rounded up to 24:00 of that day and (DAYS / MONTHS, `roll_to_working_day`) moved to the end of the next working
    day. `provisional` covers the days this computation consulted; combine it with the original deadline's."""
    unit = _unit(unit)
    due = _aware("due", due)
    paused_from, paused_to = _aware("paused_from", paused_from), _aware("paused_to", paused_to)
    if paused_to < paused_from:
        raise ValueError(f"paused_to ({paused_to.isoformat()}) is before paused_from ({paused_from.isoformat()})")
    roll = _roll(unit, roll_to_working_day)
    if unit is Unit.HOURS:
        return Deadline(due + (paused_to - paused_from), False)
    calendar = _Calendar()
    if unit is Unit.WORKING_DAYS:
        moved = calendar.advance(due, calendar.working_time(paused_from, paused_to))
    else:
        moved = due + (paused_to - paused_from)
    if moved == due:
        return Deadline(due, calendar.provisional)
    moved = _round_up_to_end_of_day(moved)
    if roll:
        moved = _end_of(calendar.next_working(_last_day(moved)))
    return Deadline(moved, calendar.provisional)


def year_status(year: int) -> YearStatus:
    """Whether the package knows `year` and how many overrides configure it."""
    return YearStatus(year, package_knows(year), cache.current().per_year.get(year, 0))


def unknown_years(start: datetime.datetime, due: datetime.datetime) -> list[int]:
    """The years from `start` to `due` without holiday data (what makes a deadline provisional)."""
    start, due = _aware("start", start), _aware("due", due)
    return [year for year in range(start.year, _last_day(due).year + 1) if year_status(year).provisional]
