"""Explicit builders for working-day calendar tests (and for other apps' test worlds that need an override)."""

import datetime

from fengqiao.workdays import services
from fengqiao.workdays.calendar import SHANGHAI
from fengqiao.workdays.models import CalendarOverride

ACTOR = "test"
HOLIDAY, WORKDAY = CalendarOverride.Kind.HOLIDAY, CalendarOverride.Kind.WORKDAY


def at(text: str) -> datetime.datetime:
    """An aware Asia/Shanghai datetime from "YYYY-MM-DD" or "YYYY-MM-DD HH:MM"."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def make_override(date: str, kind=HOLIDAY, name="元旦", note="") -> CalendarOverride:
    return services.create_override(actor=ACTOR, date=day(date), kind=kind, name=name, note=note)


def enter_new_year_2027() -> CalendarOverride:
    """Test data, not the official 2027 notice: New Year's Day 2027 (a Friday) as a holiday. One entry is enough
    to make 2027 a configured year."""
    return make_override("2027-01-01", HOLIDAY, "元旦")


def one_of_each():
    """A row of every workdays model (for the admin's test world)."""
    return enter_new_year_2027()
