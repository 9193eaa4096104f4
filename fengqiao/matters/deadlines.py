"""Deadline policies and clocks (ADR 0013).

`policy_for(matter, stage)` picks the most specific `DeadlinePolicy`; `start_clock` turns it into a `Clock` with
a due time and a warning time from the working-day calendar (`fengqiao.workdays.calendar`). Clocks pause while
the matter waits for the reporter and resume with the paused time added back; the worker's `sweep` marks them
yellow at the warning time and red when overdue.
"""

import datetime

from django.utils import timezone

from fengqiao.core import cache
from fengqiao.matters.models import Clock, DeadlinePolicy, Matter, Stage, TimeUnit
from fengqiao.workdays import calendar

# The defaults of domain.md §3 (12345 norms, visit findings) and inferred values [I] for the other stages.
# (stage, complexity, channel, amount, unit, note); admins edit the table, `seed_policies` only adds missing rows.
DEFAULT_POLICIES = [
    (Stage.ACCEPT, "", "", 1, TimeUnit.WORKING_DAYS, "[I] accept within a working day"),
    (Stage.DISPATCH, "", "", 1, TimeUnit.WORKING_DAYS, "[I] dispatch within a working day of acceptance"),
    (Stage.ACKNOWLEDGE, "", "", 24, TimeUnit.HOURS, "[I] a dispatched unit reports in within 24 hours"),
    (Stage.HANDLE, "simple", "", 5, TimeUnit.WORKING_DAYS, "12345: finish within 5 working days (潍坊, 济南)"),
    (Stage.HANDLE, "complex", "", 15, TimeUnit.WORKING_DAYS, "[I] complex matters: 15 working days"),
    (Stage.HANDLE, "simple", "visit", 7, TimeUnit.DAYS, "visit findings: 7 days when simple (brief, [I] values)"),
    (Stage.HANDLE, "complex", "visit", 1, TimeUnit.MONTHS, "visit findings: 1 month when complex (brief, [I])"),
    (Stage.REPLY, "", "", 2, TimeUnit.WORKING_DAYS, "[I] reply within 2 working days of handling"),
    (Stage.REVISIT, "", "", 3, TimeUnit.WORKING_DAYS, "[I] revisit within 3 working days of the reply"),
    (Stage.SUPERVISION, "", "", 3, TimeUnit.WORKING_DAYS, "[I] automatic supervision: 3 working days"),
]

# Used when no policy row matches at all (an admin deleted the defaults): never leave a stage without a limit.
FALLBACK = (5, TimeUnit.WORKING_DAYS, 0.8)


def seed_policies(workflow="matter") -> int:
    """Add the default policies that are missing (idempotent; never overwrites an admin's edit)."""
    created = 0
    for stage, complexity, channel, amount, unit, note in DEFAULT_POLICIES:
        _, made = DeadlinePolicy.objects.get_or_create(
            workflow=workflow,
            stage=stage,
            category=None,
            complexity=complexity,
            channel=channel,
            defaults={"amount": amount, "unit": unit, "note": note},
        )
        created += made
    return created


def _specificity(policy, category_rank):
    return (
        category_rank.get(policy.category_id, -1),
        1 if policy.complexity else 0,
        1 if policy.channel else 0,
    )


REFERENCE_TTL = 60  # seconds: how soon another process sees an edited policy (the editing process: at once)


def _policies(workflow, stage):
    return cache.get(
        ("deadline-policies", workflow, stage),
        REFERENCE_TTL,
        lambda: list(DeadlinePolicy.objects.filter(workflow=workflow, stage=stage)),
    )


def _category_ids():
    from fengqiao.departments.models import Category

    return cache.get(("categories",), REFERENCE_TTL, lambda: dict(Category.objects.values_list("code", "id")))


def policy_for(matter, stage):
    """(amount, unit, warn_fraction) of the most specific policy for this matter's stage (no query when cached)."""
    category_ids = []
    category = matter.category
    if category is not None:
        by_code = _category_ids()
        if category.code not in by_code:
            cache.clear("categories")
            by_code = _category_ids()
        category_ids = [by_code[c] for c in reversed(category.ancestor_codes()) if c in by_code]
    category_rank = {cid: len(category_ids) - i for i, cid in enumerate(category_ids)}
    candidates = [
        p
        for p in _policies(matter.workflow, stage)
        if (p.category_id is None or p.category_id in category_rank)
        and p.complexity in ("", matter.complexity)
        and p.channel in ("", matter.channel)
    ]
    if not candidates:
        return FALLBACK
    best = max(candidates, key=lambda p: _specificity(p, category_rank))
    return best.amount, best.unit, best.warn_fraction


def policy_for_stage_default(stage, workflow="matter"):
    """(amount, unit, warn_fraction) of the general policy of a stage (no category, complexity or channel)."""
    rows = [p for p in _policies(workflow, stage) if p.category_id is None and not p.complexity and not p.channel]
    if not rows:
        return FALLBACK
    return rows[0].amount, rows[0].unit, rows[0].warn_fraction


def refresh_provisional(now=None) -> int:
    """Recompute running clocks whose deadline was provisional (a year without holiday data), now that the
    calendar may know that year (the package updated, or an administrator entered the override table). A clock
    that was never paused nor extended is recomputed from its start; others keep their due time and flag (their
    history cannot be replayed exactly) until they stop. Returns how many clocks became firm. Idempotent."""
    from fengqiao.matters.models import Matter

    firm = 0
    for clock in Clock.objects.filter(provisional=True, stopped_at__isnull=True, paused_at__isnull=True, extended=0):
        result = calendar.deadline(clock.started_at, clock.amount, clock.unit)
        if result.provisional:
            continue
        clock.due_at = result.due
        clock.warn_at = calendar.point_at_fraction(clock.started_at, result.due, clock.warn_fraction, clock.unit)
        clock.provisional = False
        clock.save(update_fields=["due_at", "warn_at", "provisional"])
        firm += 1
        if not Clock.objects.filter(matter_id=clock.matter_id, provisional=True, stopped_at__isnull=True).exists():
            Matter.objects.filter(pk=clock.matter_id).update(provisional_deadline=False)
    return firm


def compute(start, amount, unit, warn_fraction):
    """(due, warn_at, provisional) for a clock started at `start`."""
    result = calendar.deadline(start, amount, unit)
    warn_at = calendar.point_at_fraction(start, result.due, warn_fraction, unit)
    return result.due, warn_at, result.provisional


def start_clock(matter, stage, *, now=None, dispatch=None, amount=None, unit=None, fresh=False):
    """Start (or restart) the clock of `stage`; returns it. Any running clock of the same stage stops first
    (``fresh``: the matter was just created and has no clocks)."""
    now = now or timezone.now()
    if not fresh:
        stop_clocks(matter, [stage], now=now, dispatch=dispatch)
    if amount is None:
        amount, unit, warn_fraction = policy_for(matter, stage)
    else:
        warn_fraction = 0.8
    due, warn_at, provisional = compute(now, amount, unit, warn_fraction)
    clock = Clock.objects.create(
        matter=matter,
        stage=stage,
        dispatch=dispatch,
        started_at=now,
        amount=amount,
        unit=unit,
        warn_fraction=warn_fraction,
        due_at=due,
        warn_at=warn_at,
        provisional=provisional,
    )
    if provisional:
        mark_provisional(matter)
    return clock


def mark_provisional(matter):
    """Flag the matter: one of its deadlines relies on a year without holiday data (written at once, so that the
    flag does not depend on the caller saving the matter)."""
    if isinstance(matter, Matter):
        matter.provisional_deadline = True
        matter_id = matter.pk
    else:
        matter_id = matter
    Matter.objects.filter(pk=matter_id, provisional_deadline=False).update(provisional_deadline=True)


def stop_clocks(matter, stages, *, now=None, dispatch=None) -> list[Clock]:
    """Stop the running clocks of `stages` ("*": all). Returns the stopped clocks."""
    now = now or timezone.now()
    qs = Clock.objects.filter(matter=matter, stopped_at__isnull=True)
    if "*" not in stages:
        qs = qs.filter(stage__in=list(stages))
    if dispatch is not None:
        qs = qs.filter(dispatch=dispatch)
    clocks = list(qs)
    for clock in clocks:
        if clock.paused_at is not None:  # a paused clock stops where it paused: waiting time is not counted
            clock.stopped_at = clock.paused_at
        else:
            clock.stopped_at = now
    if clocks:
        Clock.objects.bulk_update(clocks, ["stopped_at"])
    return clocks


def pause_clocks(matter, *, now=None) -> int:
    now = now or timezone.now()
    return Clock.objects.filter(matter=matter, stopped_at__isnull=True, paused_at__isnull=True).update(paused_at=now)


def resume_clocks(matter, *, now=None) -> int:
    """Resume paused clocks, pushing their due and warning times by the time spent paused."""
    now = now or timezone.now()
    clocks = list(Clock.objects.filter(matter=matter, stopped_at__isnull=True, paused_at__isnull=False))
    for clock in clocks:
        extended = calendar.extend(clock.due_at, clock.paused_at, now, clock.unit)
        clock.due_at = extended.due
        clock.warn_at = calendar.point_at_fraction(clock.started_at, clock.due_at, clock.warn_fraction, clock.unit)
        clock.provisional = clock.provisional or extended.provisional
        clock.paused_at = None
        if clock.standing == Clock.Standing.RED and clock.due_at > now:
            clock.standing = Clock.Standing.YELLOW if clock.warn_at <= now else Clock.Standing.GREEN
    if clocks:
        Clock.objects.bulk_update(clocks, ["due_at", "warn_at", "provisional", "paused_at", "standing"])
        if any(clock.provisional for clock in clocks):
            mark_provisional(matter)
    return len(clocks)


def _last_moment(due):
    """The moment a day or month period should be counted on from: a due time of 24:00 is stored as 00:00 of the
    next day, and counting from there would skip a day (the start day does not count)."""
    local = timezone.localtime(due, calendar.SHANGHAI)
    if local.time() == datetime.time.min:
        return local - datetime.timedelta(microseconds=1)
    return local


def extend_clock(clock, amount, unit, *, now=None):
    """Push a clock's due time by an approved extension, counted on from its current due time: N more working
    days end N working days after the last day of the old limit."""
    start = clock.due_at if unit == TimeUnit.HOURS else _last_moment(clock.due_at)
    result = calendar.deadline(start, amount, unit)
    clock.due_at = result.due
    clock.warn_at = calendar.point_at_fraction(clock.started_at, clock.due_at, clock.warn_fraction, clock.unit)
    clock.provisional = clock.provisional or result.provisional
    clock.extended += 1
    now = now or timezone.now()
    if clock.due_at > now:
        clock.standing = Clock.Standing.YELLOW if clock.warn_at <= now else Clock.Standing.GREEN
    clock.save(update_fields=["due_at", "warn_at", "provisional", "extended", "standing"])
    if clock.provisional:
        mark_provisional(clock.matter_id)
    return clock


def remaining(clock, now=None) -> datetime.timedelta:
    now = now or timezone.now()
    return clock.due_at - (clock.paused_at or now)
