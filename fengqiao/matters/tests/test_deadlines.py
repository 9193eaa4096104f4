"""Deadline policies and clocks: which policy applies, and the due and warning times the engine's steps give across
the 2026 National Day holiday (chinese_calendar 1.11: 1–7 October off, Saturday 10 October a make-up workday) and
across New Year 2027 (a year the package does not know). Times are passed to the engine explicitly (`now=`)."""

import datetime

import pytest
from django.utils import translation

from fengqiao.matters import deadlines
from fengqiao.matters.engine import perform
from fengqiao.matters.models import Clock, DeadlinePolicy, Matter
from fengqiao.matters.tests.builders import matter_world, submit
from fengqiao.workdays import cache
from fengqiao.workdays.tests.builders import at, enter_new_year_2027


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def fresh_calendar_cache():
    cache.invalidate()
    yield
    cache.invalidate()


@pytest.fixture
def w(db):
    return matter_world()


def clock(matter, stage, **extra):
    return Clock.objects.get(matter=matter, stage=stage, stopped_at__isnull=True, **extra)


def accept_and_dispatch(w, matter, when, *, targets=None):
    perform(matter, "accept", actor=w["centre"], now=when)
    targets = targets or [{"department": w["dept"].pk}]
    perform(matter, "dispatch", actor=w["centre"], payload={"targets": targets}, now=when)
    return matter


def wait(w, matter, when, reason):
    perform(matter, "wait_for_reporter", actor=w["worker"], payload={"reason": reason}, now=at(when))


# ------------------------------------------------------------------------------------------------- policies


def test_the_default_policies_are_seeded_by_the_migration(db):
    rows = {
        (p.stage, p.complexity, p.channel): (p.amount, p.unit)
        for p in DeadlinePolicy.objects.filter(workflow="matter", category=None)
    }
    assert rows == {(s, c, ch): (a, u) for s, c, ch, a, u, _note in deadlines.DEFAULT_POLICIES}
    assert rows[("handle", "simple", "")] == (5, "working_days")  # 12345: 5 working days
    assert rows[("handle", "simple", "visit")] == (7, "days")
    assert rows[("handle", "complex", "visit")] == (1, "months")
    assert deadlines.seed_policies() == 0  # idempotent: nothing missing


def test_the_nearest_category_beats_any_category_then_complexity_then_channel(w):
    from fengqiao.departments.tests.builders import make_category_chain

    root, child, leaf = make_category_chain("P1", "P1.1", "P1.1.1")
    sibling = make_category_chain("P2")[0]
    matter = submit(w, category=leaf.code, complexity="complex", channel="visit")

    def add(amount, **key):
        return DeadlinePolicy.objects.create(workflow="matter", stage="handle", amount=amount, unit="days", **key)

    assert deadlines.policy_for(matter, "handle") == (1, "months", 0.8)  # the default for complex visit findings
    add(2, category=sibling)
    add(3, channel="12345")
    add(4, complexity="simple", channel="12345")
    assert deadlines.policy_for(matter, "handle")[0] == 1  # none of those applies to this matter
    add(10, category=root)
    assert deadlines.policy_for(matter, "handle")[0] == 10  # any category of the chain beats "any category"
    add(11, category=child)
    assert deadlines.policy_for(matter, "handle")[0] == 11  # the nearer ancestor wins
    add(12, category=child, channel="visit")
    assert deadlines.policy_for(matter, "handle")[0] == 12  # a channel beats "any channel"
    add(13, category=child, complexity="complex")
    assert deadlines.policy_for(matter, "handle")[0] == 13  # a complexity beats a channel
    add(14, category=leaf, complexity="simple")
    assert deadlines.policy_for(matter, "handle")[0] == 13  # the leaf's row is for simple matters
    DeadlinePolicy.objects.create(workflow="mediation", stage="handle", category=leaf, amount=15, unit="days")
    assert deadlines.policy_for(matter, "handle")[0] == 13  # another workflow's row
    add(16, category=leaf)
    assert deadlines.policy_for(matter, "handle")[0] == 16


def test_without_any_policy_a_stage_still_has_a_limit(w):
    matter = submit(w)
    DeadlinePolicy.objects.filter(stage="handle").delete()
    assert deadlines.policy_for(matter, "handle") == deadlines.FALLBACK


# ------------------------------------------------------------------------------------------------- 2026 National Day


def test_five_working_days_from_30_september_2026_end_on_13_october(w):
    matter = submit(w)
    accept_and_dispatch(w, matter, at("2026-09-30 10:00"))
    dispatch = Clock.objects.get(matter=matter, stage="dispatch")
    # 1 working day to dispatch: 1–7 October are off, so 8 October (ending 24:00 = 00:00 of the 9th).
    assert dispatch.due_at == at("2026-10-09 00:00") and dispatch.stopped_at == at("2026-09-30 10:00")
    handle = clock(matter, "handle")
    # 8, 9, 10 (make-up Saturday), 12, 13 October: due at the end of the 13th.
    assert (handle.amount, handle.unit) == (5, "working_days")
    assert handle.due_at == at("2026-10-14 00:00") and not handle.provisional
    # 80 %: working time runs only on working days, 14 h on the 30th + 5 × 24 h = 134 h; 80 % = 107.2 h.
    assert handle.warn_at == at("2026-10-12 21:12")
    acknowledge = clock(matter, "acknowledge")  # 24 natural hours, holiday or not
    assert acknowledge.due_at == at("2026-10-01 10:00") and acknowledge.warn_at == at("2026-10-01 05:12")
    matter.refresh_from_db()
    assert matter.provisional_deadline is False


def test_a_complex_matter_gets_fifteen_working_days(w):
    matter = submit(w, complexity="complex")
    accept_and_dispatch(w, matter, at("2026-09-30 10:00"))
    # 8, 9, 10, 12–16, 19–23, 26, 27 October.
    assert clock(matter, "handle").due_at == at("2026-10-28 00:00")


@pytest.mark.parametrize(
    ("complexity", "dispatched", "due"),
    [
        ("simple", "2026-09-21 10:00", "2026-09-29 00:00"),  # 7 days: 28 September, a working day
        ("simple", "2026-09-24 10:00", "2026-10-09 00:00"),  # 1 October is a holiday: rolls to 8 October
        ("complex", "2026-08-31 10:00", "2026-10-01 00:00"),  # a month from 31 August: 30 September
        ("complex", "2026-09-05 10:00", "2026-10-09 00:00"),  # 5 October is a holiday: rolls to 8 October
    ],
)
def test_visit_findings_have_7_days_when_simple_and_a_month_when_complex(w, complexity, dispatched, due):
    matter = submit(w, channel="visit", complexity=complexity)
    accept_and_dispatch(w, matter, at(dispatched))
    handle = clock(matter, "handle")
    assert handle.unit == ("days" if complexity == "simple" else "months")
    assert handle.due_at == at(due) and not handle.provisional


# ------------------------------------------------------------------------------------------------- New Year 2027


def test_a_deadline_into_2027_without_overrides_counts_weekends_only_and_is_provisional(w):
    matter = submit(w)
    accept_and_dispatch(w, matter, at("2026-12-28 10:00"))
    handle = clock(matter, "handle")
    # 29, 30, 31 December, then 1 January 2027 (a Friday, counted: nobody entered the holiday) and 4 January.
    assert handle.due_at == at("2027-01-05 00:00")
    assert handle.provisional is True
    assert Matter.objects.get(pk=matter.pk).provisional_deadline is True
    assert matter.provisional_deadline is True


def test_a_provisional_deadline_becomes_firm_once_the_new_year_is_entered(w):
    from fengqiao.matters.deadlines import refresh_provisional

    matter = submit(w)
    accept_and_dispatch(w, matter, at("2026-12-28 10:00"))
    assert refresh_provisional() == 0  # nothing known yet: stays provisional
    enter_new_year_2027()
    assert refresh_provisional() >= 1
    handle = clock(matter, "handle")
    assert handle.due_at == at("2027-01-06 00:00") and handle.provisional is False
    still = Clock.objects.filter(matter=matter, provisional=True, stopped_at__isnull=True).exists()
    assert Matter.objects.get(pk=matter.pk).provisional_deadline is still
    assert refresh_provisional() == 0  # idempotent


def test_a_deadline_into_2027_with_the_new_notice_entered_is_firm(w):
    enter_new_year_2027()  # 1 January 2027 off: the year counts as configured
    matter = submit(w)
    flagged = Matter.objects.get(pk=matter.pk).provisional_deadline
    accept_and_dispatch(w, matter, at("2026-12-28 10:00"))
    handle = clock(matter, "handle")
    # 29, 30, 31 December, 4 and 5 January.
    assert handle.due_at == at("2027-01-06 00:00")
    assert handle.provisional is False
    assert Matter.objects.get(pk=matter.pk).provisional_deadline is flagged  # the dispatch did not flag it


def test_a_provisional_extension_flags_the_matter(w):
    matter = submit(w)
    accept_and_dispatch(w, matter, at("2026-12-21 10:00"))
    handle = clock(matter, "handle")
    assert handle.due_at == at("2026-12-29 00:00") and not handle.provisional
    perform(matter, "request_extension", actor=w["worker"], payload={"reason": "年底停工", "amount": 5})
    perform(matter, "decide_extension", actor=w["centre"], payload={"decision": "approve"}, now=at("2026-12-24 09:00"))
    handle.refresh_from_db()
    # From the end of 28 December: 29, 30, 31 December, 1 January (provisional), 4 January.
    assert handle.due_at == at("2027-01-05 00:00") and handle.provisional and handle.extended == 1
    assert Matter.objects.get(pk=matter.pk).provisional_deadline is True


# ------------------------------------------------------------------------------------------------- extensions, pauses


def test_an_extension_counts_on_from_the_last_day_of_the_old_limit(w):
    matter = submit(w)
    accept_and_dispatch(w, matter, at("2026-09-30 10:00"))
    perform(matter, "request_extension", actor=w["worker"], payload={"reason": "需协调", "amount": 2})
    perform(matter, "decide_extension", actor=w["centre"], payload={"decision": "approve"}, now=at("2026-10-12 09:00"))
    handle = clock(matter, "handle")
    # The limit ended at 24:00 on 13 October; two more working days: 14 and 15 October.
    assert handle.due_at == at("2026-10-16 00:00")
    assert handle.warn_at == deadlines.calendar.point_at_fraction(handle.started_at, handle.due_at, 0.8, handle.unit)


def test_an_extension_in_hours_is_plain_wall_time(w):
    matter = submit(w)
    accept_and_dispatch(w, matter, at("2026-09-30 10:00"))
    perform(matter, "request_extension", actor=w["worker"], payload={"reason": "等材料", "amount": 10, "unit": "hours"})
    perform(matter, "decide_extension", actor=w["centre"], payload={"decision": "approve"}, now=at("2026-10-12 09:00"))
    assert clock(matter, "handle").due_at == at("2026-10-14 10:00")


def test_waiting_for_the_reporter_pauses_and_resuming_pushes_by_the_working_time_lost(w):
    matter = submit(w)
    targets = [{"department": w["dept"].pk}, {"department": w["assist_dept"].pk, "role": "assist"}]
    accept_and_dispatch(w, matter, at("2026-09-30 10:00"), targets=targets)
    perform(matter, "acknowledge", actor=w["worker"], now=at("2026-09-30 11:00"))
    wait(w, matter, "2026-09-30 12:00", "补充材料")
    assert clock(matter, "handle").paused_at == at("2026-09-30 12:00")
    assert clock(matter, "acknowledge").paused_at == at("2026-09-30 12:00")  # the assisting unit's, still open
    perform(matter, "resume", actor=w["worker"], now=at("2026-09-30 15:00"))
    # Three working hours lost on the 30th: the handling limit moves into the next working day after it.
    handle = clock(matter, "handle")
    assert handle.paused_at is None and handle.due_at == at("2026-10-15 00:00")
    assert clock(matter, "acknowledge").due_at == at("2026-10-01 13:00")  # natural hours: 3 h later

    wait(w, matter, "2026-10-02 10:00", "节后再联系")
    perform(matter, "resume", actor=w["worker"], now=at("2026-10-06 10:00"))
    assert clock(matter, "handle").due_at == at("2026-10-15 00:00")  # a pause within the holiday costs nothing

    wait(w, matter, "2026-10-09 10:00", "周末联系不上")
    perform(matter, "resume", actor=w["worker"], now=at("2026-10-12 10:00"))
    # 14 h on the 9th + 24 h on the make-up Saturday + 10 h on the 12th = 48 working hours = two working days.
    handle = clock(matter, "handle")
    assert handle.due_at == at("2026-10-17 00:00")
    # 80 % of the new span, in working time: 14 h + 8 × 24 h (8, 9, 10, 12–16 Oct) = 206 h → 164.8 h.
    assert handle.warn_at == at("2026-10-15 06:48")


def test_a_clock_stopped_while_paused_does_not_count_the_wait(w):
    matter = submit(w)
    accept_and_dispatch(w, matter, at("2026-09-30 10:00"))
    perform(matter, "acknowledge", actor=w["worker"], now=at("2026-09-30 11:00"))
    wait(w, matter, "2026-09-30 12:00", "补充材料")
    perform(
        matter,
        "transfer",
        actor=w["centre"],
        payload={"targets": [{"department": w["town_dept"].pk}], "reason": "转镇办理"},
        now=at("2026-10-08 09:00"),
    )
    old = Clock.objects.get(matter=matter, stage="handle", started_at=at("2026-09-30 10:00"))
    assert old.stopped_at == at("2026-09-30 12:00")
    new = clock(matter, "handle")
    assert new.started_at == at("2026-10-08 09:00") and new.paused_at is None


def test_compute_rejects_a_naive_start(db):
    with pytest.raises(ValueError, match="timezone-aware"):
        deadlines.compute(datetime.datetime(2026, 9, 30, 10), 5, "working_days", 0.8)
