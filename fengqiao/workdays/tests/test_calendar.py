"""The working-day calendar against the 2026 holidays of `chinese_calendar` 1.11 (State Council notice for 2026):

* Spring Festival: 2026-02-15 (Sun) .. 02-23 (Mon) off; make-up workdays Sat 02-14 and Sat 02-28.
* Mid-autumn: 2026-09-25 (Fri) .. 09-27 off. National Day: 2026-10-01 .. 10-07 off; make-up workdays Sun 09-20
  and Sat 10-10.

2027 is a year the package does not know; its override entries here are test data, not the official notice.
"""

import datetime
import math

import pytest

from fengqiao.workdays.calendar import (
    Deadline,
    Source,
    Unit,
    add_months,
    day_status,
    deadline,
    elapsed_fraction,
    extend,
    point_at_fraction,
    working_time,
)
from fengqiao.workdays.tests.builders import HOLIDAY, WORKDAY, at, day, enter_new_year_2027, make_override

pytestmark = pytest.mark.django_db

WD, DAYS, MONTHS, HOURS = Unit.WORKING_DAYS, Unit.DAYS, Unit.MONTHS, Unit.HOURS


# --- the status of a day -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "date,expected",
    [
        ("2026-10-01", (False, False, Source.PACKAGE)),  # National Day
        ("2026-10-07", (False, False, Source.PACKAGE)),
        ("2026-10-08", (True, False, Source.PACKAGE)),
        ("2026-10-10", (True, False, Source.PACKAGE)),  # Saturday, make-up workday
        ("2026-09-20", (True, False, Source.PACKAGE)),  # Sunday, make-up workday
        ("2026-10-11", (False, False, Source.PACKAGE)),  # an ordinary Sunday
        ("2026-02-14", (True, False, Source.PACKAGE)),  # Saturday before the Spring Festival, make-up workday
        ("2026-02-23", (False, False, Source.PACKAGE)),  # Monday, last day of the Spring Festival
        ("2026-02-24", (True, False, Source.PACKAGE)),
        ("2027-01-01", (True, True, Source.WEEKENDS)),  # Friday, unknown year, empty table: provisional
        ("2027-01-02", (False, True, Source.WEEKENDS)),
        ("2003-05-01", (True, True, Source.WEEKENDS)),  # before the package's first year: no crash either
    ],
)
def test_day_status_from_the_package_or_weekends_when_the_table_is_empty(date, expected):
    assert day_status(day(date)) == expected


@pytest.mark.parametrize(
    "date,expected",
    [
        ("2027-01-01", (False, False, Source.OVERRIDE)),  # entered as New Year's Day
        ("2027-01-04", (True, False, Source.CONFIGURED)),  # configured year: weekdays work, not provisional
        ("2027-01-09", (False, False, Source.CONFIGURED)),
        ("2028-01-03", (True, True, Source.WEEKENDS)),  # the next year is still unknown
    ],
)
def test_one_override_makes_an_unknown_year_configured(date, expected):
    enter_new_year_2027()
    assert day_status(day(date)) == expected


def test_overrides_come_before_the_package():
    make_override("2026-10-11", WORKDAY, "调休上班")  # a Sunday the package has off
    make_override("2026-10-12", HOLIDAY, "补休")  # a Monday the package has on
    assert day_status(day("2026-10-11")) == (True, False, Source.OVERRIDE)
    assert day_status(day("2026-10-12")) == (False, False, Source.OVERRIDE)


def test_an_aware_datetime_stands_for_its_day_in_shanghai():
    utc_evening = datetime.datetime(2026, 9, 30, 20, 0, tzinfo=datetime.UTC)  # 2026-10-01 04:00 in Shanghai
    assert day_status(utc_evening).is_working is False
    assert day_status(utc_evening.date()).is_working is True


# --- deadlines ------------------------------------------------------------------------------------------------

NATIONAL_DAY = [
    # start, amount, unit, due (Asia/Shanghai), provisional
    ("2026-09-30 10:00", 5, WD, "2026-10-14 00:00"),  # 10-08, 10-09, Sat 10-10, 10-12, 10-13
    ("2026-09-30 10:00", 1, WD, "2026-10-09 00:00"),
    ("2026-09-30 10:00", 3, WD, "2026-10-11 00:00"),  # the make-up Saturday counts
    ("2026-09-24 09:00", 5, WD, "2026-10-10 00:00"),  # 09-28, 09-29, 09-30, 10-08, 10-09: both holidays skipped
    ("2026-09-18 09:00", 2, WD, "2026-09-22 00:00"),  # Fri start: make-up Sun 09-20 and Mon 09-21
    ("2026-09-30 10:00", 0, WD, "2026-10-01 00:00"),  # same day
    ("2026-10-03 10:00", 0, WD, "2026-10-09 00:00"),  # same day, started on a holiday: the next working day
    ("2026-09-28 08:00", 7, DAYS, "2026-10-09 00:00"),  # 10-05 is a holiday: moved to the end of 10-08
    ("2026-09-30 08:00", 15, DAYS, "2026-10-16 00:00"),  # 信访 15 days: 10-15 is a working Thursday
    ("2026-09-30 22:00", 24, HOURS, "2026-10-01 22:00"),  # hours are natural, holiday or not
    ("2026-08-31 10:00", 1, MONTHS, "2026-10-01 00:00"),  # 09-30 is a working Wednesday
    ("2026-09-01 10:00", 1, MONTHS, "2026-10-09 00:00"),  # 10-01 is National Day: moved to 10-08
]

SPRING_FESTIVAL = [
    ("2026-02-12 09:00", 5, WD, "2026-02-27 00:00"),  # 02-13, Sat 02-14, 02-24, 02-25, 02-26
    ("2026-02-20 09:00", 5, WD, "2026-03-01 00:00"),  # 02-24 .. 02-27 and the make-up Saturday 02-28
    ("2026-02-10 09:00", 7, DAYS, "2026-02-25 00:00"),  # 02-17 is off: moved to the end of 02-24
    ("2026-01-15 09:00", 1, MONTHS, "2026-02-25 00:00"),  # 02-15 is off: moved to 02-24
]

MONTH_ENDS = [
    ("2026-01-31 10:00", 1, MONTHS, "2026-03-01 00:00"),  # no Feb 31: Feb 28, a make-up Saturday, so no move
    ("2026-01-30 10:00", 1, MONTHS, "2026-03-01 00:00"),
    ("2026-03-31 10:00", 1, MONTHS, "2026-05-01 00:00"),  # Apr 30
    ("2026-05-31 10:00", 1, MONTHS, "2026-07-01 00:00"),  # Jun 30
    ("2025-11-30 10:00", 3, MONTHS, "2026-03-01 00:00"),  # across a year end to Feb 28
    ("2026-12-31 10:00", 0, MONTHS, "2027-01-01 00:00"),
]


@pytest.mark.parametrize(
    "start,amount,unit,due",
    NATIONAL_DAY + SPRING_FESTIVAL + MONTH_ENDS,
    ids=[f"{s}+{a}{u.value}" for s, a, u, _d in NATIONAL_DAY + SPRING_FESTIVAL + MONTH_ENDS],
)
def test_deadlines_in_2026_follow_the_statutory_holidays(start, amount, unit, due):
    assert deadline(at(start), amount, unit) == Deadline(at(due), False)


@pytest.mark.parametrize(
    "start,amount,unit,due",
    [
        ("2026-09-28 08:00", 7, DAYS, "2026-10-06 00:00"),  # 24:00 of 10-05 although it is a holiday
        ("2026-01-15 09:00", 1, MONTHS, "2026-02-16 00:00"),
        ("2026-10-31 09:00", 1, MONTHS, "2026-12-01 00:00"),
    ],
)
def test_without_rolling_a_day_or_month_deadline_keeps_its_last_day(start, amount, unit, due):
    assert deadline(at(start), amount, unit, roll_to_working_day=False) == Deadline(at(due), False)


def test_a_deadline_is_in_shanghai_time_whatever_the_zone_of_the_start():
    start = datetime.datetime(2026, 10, 7, 17, 0, tzinfo=datetime.UTC)  # 2026-10-08 01:00 in Shanghai
    result = deadline(start, 1, "working_days")
    assert result == Deadline(at("2026-10-10 00:00"), False)  # counted from 10-08, not from the UTC day 10-07
    assert result.due.utcoffset() == datetime.timedelta(hours=8)


INTO_2027 = [
    # start, amount, unit, due with an empty table, due with New Year 2027 entered
    ("2026-12-20 09:00", 10, WD, "2027-01-02 00:00", "2027-01-05 00:00"),  # 10th working day: 01-01 vs 01-04
    ("2026-12-31 09:00", 1, WD, "2027-01-02 00:00", "2027-01-05 00:00"),
    ("2026-12-25 09:00", 7, DAYS, "2027-01-02 00:00", "2027-01-05 00:00"),  # last day 01-01
    ("2026-12-01 09:00", 1, MONTHS, "2027-01-02 00:00", "2027-01-05 00:00"),
    ("2026-10-31 09:00", 4, MONTHS, "2027-03-02 00:00", "2027-03-02 00:00"),  # Sun Feb 28 -> Mon Mar 1 either way
]


@pytest.mark.parametrize("start,amount,unit,empty_due,configured_due", INTO_2027)
def test_a_deadline_into_2027_counts_weekends_only_and_is_provisional_until_2027_is_entered(
    start, amount, unit, empty_due, configured_due
):
    assert deadline(at(start), amount, unit) == Deadline(at(empty_due), True)
    enter_new_year_2027()
    assert deadline(at(start), amount, unit) == Deadline(at(configured_due), False)


@pytest.mark.parametrize(
    "start,amount,unit,roll",
    [
        ("2026-12-20 09:00", 48, HOURS, None),  # hours never depend on the calendar
        ("2026-12-25 09:00", 7, DAYS, False),  # nor do unrolled natural days
        ("2026-11-02 09:00", 20, WD, None),  # ends 2026-11-30: 2027 is never consulted
    ],
)
def test_a_deadline_that_does_not_rely_on_2027_is_firm(start, amount, unit, roll):
    assert deadline(at(start), amount, unit, roll_to_working_day=roll).provisional is False


def test_an_override_that_makes_a_weekend_a_workday_counts_it():
    assert deadline(at("2026-09-30 10:00"), 5, WD).due == at("2026-10-14 00:00")
    make_override("2026-10-11", WORKDAY, "调休上班")  # Sunday
    assert deadline(at("2026-09-30 10:00"), 5, WD) == Deadline(at("2026-10-13 00:00"), False)
    enter_new_year_2027()
    make_override("2027-01-09", WORKDAY, "调休上班")  # a Saturday in a configured year
    assert deadline(at("2027-01-07 09:00"), 2, WD) == Deadline(at("2027-01-10 00:00"), False)  # Fri 08, Sat 09


@pytest.mark.parametrize(
    "day_,months,expected",
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2028-01-31", 1, "2028-02-29"),
        ("2026-03-31", 1, "2026-04-30"),
        ("2026-12-31", 2, "2027-02-28"),
        ("2026-01-15", 12, "2027-01-15"),
        ("2026-08-31", 0, "2026-08-31"),
    ],
)
def test_add_months_keeps_the_corresponding_day_or_takes_the_month_end(day_, months, expected):
    assert add_months(day(day_), months) == day(expected)


# --- how much time has run; the yellow warning ------------------------------------------------------------------


@pytest.mark.parametrize(
    "start,due,unit,now,fraction",
    [
        # working days: 14 h on 09-30, then 5 whole working days = 134 h; the holiday does not count
        ("2026-09-30 10:00", "2026-10-14 00:00", WD, "2026-09-30 09:00", 0.0),
        ("2026-09-30 10:00", "2026-10-14 00:00", WD, "2026-10-01 00:00", 14 / 134),
        ("2026-09-30 10:00", "2026-10-14 00:00", WD, "2026-10-07 23:00", 14 / 134),
        ("2026-09-30 10:00", "2026-10-14 00:00", WD, "2026-10-08 12:00", 26 / 134),
        ("2026-09-30 10:00", "2026-10-14 00:00", WD, "2026-10-11 12:00", 86 / 134),  # Sunday: stopped
        ("2026-09-30 10:00", "2026-10-14 00:00", WD, "2026-10-14 00:00", 1.0),
        ("2026-09-30 10:00", "2026-10-14 00:00", WD, "2026-10-14 12:00", 146 / 134),  # overdue
        # natural days: wall time, 11 days
        ("2026-09-28 00:00", "2026-10-09 00:00", DAYS, "2026-10-04 12:00", 6.5 / 11),
        ("2026-09-30 10:00", "2026-09-30 20:00", HOURS, "2026-09-30 18:00", 0.8),
    ],
)
def test_elapsed_fraction(start, due, unit, now, fraction):
    assert math.isclose(elapsed_fraction(at(start), at(due), at(now), unit), fraction)


@pytest.mark.parametrize(
    "start,due,unit,warning",
    [
        # 80% of 134 working hours = 107.2 h: 14 h on 09-30, 24 h each on 10-08, 10-09, 10-10, then 21.2 h of 10-12
        ("2026-09-30 10:00", "2026-10-14 00:00", WD, "2026-10-12 21:12"),
        # 80% of 11 natural days = 8.8 days, holiday or not
        ("2026-09-28 00:00", "2026-10-09 00:00", DAYS, "2026-10-06 19:12"),
        ("2026-09-30 10:00", "2026-09-30 20:00", HOURS, "2026-09-30 18:00"),
        # Spring Festival: 15 h on 02-13, 24 h on the make-up 02-14, 3 days 02-24..26 = 111 h; 88.8 h: 02-26 01:48
        ("2026-02-13 09:00", "2026-02-27 00:00", WD, "2026-02-26 01:48"),
    ],
)
def test_the_yellow_warning_falls_at_80_percent_of_the_clock_time(start, due, unit, warning):
    point = point_at_fraction(at(start), at(due), 0.8, unit)
    assert point == at(warning)
    assert math.isclose(elapsed_fraction(at(start), at(due), point, unit), 0.8)


def test_points_at_zero_and_one_are_the_start_and_the_due_moment():
    start, due = at("2026-09-30 10:00"), at("2026-10-14 00:00")
    assert point_at_fraction(start, due, 0, WD) == start
    assert point_at_fraction(start, due, 1, WD) == due
    assert point_at_fraction(start, start, 0.8, HOURS) == start
    assert elapsed_fraction(start, start, start, HOURS) == 1.0


def test_working_time_counts_working_days_only_for_working_day_clocks():
    start, end = at("2026-09-30 10:00"), at("2026-10-09 10:00")
    assert working_time(start, end, WD) == datetime.timedelta(hours=14 + 24 + 10)
    assert working_time(start, end, DAYS) == datetime.timedelta(days=9)
    assert working_time(end, start, WD) == datetime.timedelta(0)


# --- paused clocks ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "due,paused_from,paused_to,unit,extended",
    [
        # 8 h on 09-30 + 24 h on 10-08 + 10 h on 10-09 = 42 working hours: 10-14 whole, 18 h into 10-15, end of 10-15
        ("2026-10-14 00:00", "2026-09-30 16:00", "2026-10-09 10:00", WD, "2026-10-16 00:00"),
        # a pause that lies wholly in the holiday takes no working time
        ("2026-10-14 00:00", "2026-10-02 09:00", "2026-10-06 18:00", WD, "2026-10-14 00:00"),
        # two whole working days (10-08, 10-09): exactly two working days later, 10-14 and 10-15
        ("2026-10-14 00:00", "2026-10-08 00:00", "2026-10-10 00:00", WD, "2026-10-16 00:00"),
        # natural days: 4 days 9 h of wall time, to 10-20 09:00, then the end of that day
        ("2026-10-16 00:00", "2026-10-02 09:00", "2026-10-06 18:00", DAYS, "2026-10-21 00:00"),
        # 1.5 days push the end of Fri 10-16 to Sun 10-18 noon: moved to the end of Mon 10-19
        ("2026-10-17 00:00", "2026-10-02 00:00", "2026-10-03 12:00", DAYS, "2026-10-20 00:00"),
        ("2026-10-01 22:00", "2026-10-01 08:00", "2026-10-01 11:30", HOURS, "2026-10-02 01:30"),
        # across the Spring Festival: 02-13 from 18:00 (6 h) + 02-14 (24 h) + 02-24 until 06:00 (6 h) = 36 h
        ("2026-02-27 00:00", "2026-02-13 18:00", "2026-02-24 06:00", WD, "2026-03-01 00:00"),
    ],
)
def test_a_paused_clock_moves_the_due_moment_by_the_time_it_was_paused(due, paused_from, paused_to, unit, extended):
    assert extend(at(due), at(paused_from), at(paused_to), unit) == Deadline(at(extended), False)


def test_an_extension_into_an_unknown_year_is_provisional():
    result = extend(at("2026-12-31 00:00"), at("2026-12-28 00:00"), at("2026-12-30 00:00"), WD)
    assert result == Deadline(at("2027-01-02 00:00"), True)  # 12-31 and the unknown Friday 2027-01-01
    enter_new_year_2027()
    result = extend(at("2026-12-31 00:00"), at("2026-12-28 00:00"), at("2026-12-30 00:00"), WD)
    assert result == Deadline(at("2027-01-05 00:00"), False)


# --- bad input --------------------------------------------------------------------------------------------------

NAIVE = datetime.datetime(2026, 9, 30, 10, 0)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: deadline(at("2026-09-30"), -1, WD), "amount must not be negative"),
        (lambda: deadline(at("2026-09-30"), 1.5, DAYS), "amount must be a whole number"),
        (lambda: deadline(at("2026-09-30"), "5", DAYS), "amount must be a whole number"),
        (lambda: deadline(at("2026-09-30"), True, DAYS), "amount must be a whole number"),
        (lambda: deadline(at("2026-09-30"), 10**6, WD), "too large for working_days"),
        (lambda: deadline(NAIVE, 5, WD), "start must be timezone-aware"),
        (lambda: deadline(day("2026-09-30"), 5, WD), "start must be a datetime"),
        (lambda: deadline(at("2026-09-30"), 5, "weeks"), "unknown unit 'weeks'"),
        (lambda: deadline(at("2026-09-30"), 5, HOURS, roll_to_working_day=True), "not to hours"),
        (lambda: day_status(NAIVE), "day must be timezone-aware"),
        (lambda: day_status("2026-10-01"), "day must be a date"),
        (lambda: elapsed_fraction(at("2026-10-02"), at("2026-10-01"), at("2026-10-03"), WD), "before start"),
        (lambda: elapsed_fraction(at("2026-10-01"), at("2026-10-02"), NAIVE, WD), "now must be timezone-aware"),
        (lambda: point_at_fraction(at("2026-10-01"), at("2026-10-02"), -0.1, WD), "must not be negative"),
        (lambda: point_at_fraction(at("2026-10-01"), at("2026-10-02"), math.nan, WD), "finite number"),
        (lambda: point_at_fraction(at("2026-10-01"), at("2026-10-02"), 0.8, "fortnights"), "unknown unit"),
        (lambda: extend(at("2026-10-14"), at("2026-10-09"), at("2026-10-08"), WD), "paused_to"),
        (lambda: extend(at("2026-10-14"), NAIVE, at("2026-10-08"), WD), "paused_from must be timezone-aware"),
    ],
)
def test_bad_input_raises_a_value_error_naming_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()
