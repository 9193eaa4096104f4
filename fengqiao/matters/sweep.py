"""The deadline sweep the worker runs every minute (ADR 0013).

Yellow when a running clock passes its warning time (80 % of the time by default), red when it passes its due
time; a red clock escalates the matter to the supervising level: an automatic supervision by the centre above
the one that owns it (once per clock), with notices to the unit at work, the owning centre and the level above.
Overdue supervisions and tasks are flagged and their people told.

Safe to kill and restart and safe with several workers: every change is a conditional UPDATE
(``WHERE standing != 'red'``) whose row count says which worker won; only the winner writes the timeline row and
sends the notices. Rows are taken in small batches, each its own transaction (``SELECT … FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so workers share the work instead of queueing behind each other), and each row in a
savepoint: a row that fails is logged, left as it was for the next pass and skipped for the rest of this one, so
it cannot hold up the others; `sweep` then raises `SweepError` so the job records the failure.
"""

import logging

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
from fengqiao.audit.redact import redact_text
from fengqiao.matters import deadlines
from fengqiao.matters.engine import centre_staff, dispatch_recipients, handling_centre_area, new_event
from fengqiao.matters.models import Clock, Dispatch, Matter, Stage, Supervision, Task
from fengqiao.matters.workflows import terminal_states

log = logging.getLogger(__name__)
BATCH = 200
ACTOR = "deadline-sweep"


def _locked(queryset):
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset


def _notify(recipients, kind, title, body, matter):
    from fengqiao.notifications.services import notify

    people = {r.pk: r for r in recipients if r is not None}
    if people:
        notify(list(people.values()), kind=kind, title=title, body=body, target=matter, area=matter.area)


def _responsible(matter, clock):
    """Who must act on a clock: the dispatched unit(s) for acknowledge/handle, else the owning centre."""
    people = []
    if clock.dispatch_id is not None:
        people += dispatch_recipients(clock.dispatch)
    elif clock.stage == Stage.HANDLE:
        for dispatch in matter.dispatches.filter(state__in=[Dispatch.State.PENDING, Dispatch.State.ACKNOWLEDGED]):
            people += dispatch_recipients(dispatch)
    people += centre_staff(matter.handling_area)
    return people


def _set_matter_warning(matter_id, standing):
    """Raise the matter's warning to `standing` (never lower it here; transitions recompute it)."""
    if standing == Clock.Standing.RED:
        Matter.objects.filter(pk=matter_id).exclude(state__in=terminal_states()).update(warning="red", was_overdue=True)
    else:
        Matter.objects.filter(pk=matter_id, warning="").exclude(state__in=terminal_states()).update(warning="yellow")


def _clock_batches(queryset, handle, now, failed):
    """Run `handle(clock, now)` on the clocks of `queryset`, a batch per transaction (rows locked, skip locked)
    and a savepoint per clock: a clock that fails is logged, left as it was and skipped for the rest of this run,
    so one bad row cannot stop the others. Returns how many clocks `handle` changed."""
    done = 0
    while True:
        with transaction.atomic():
            skip = [pk for kind, pk in failed if kind == "clock"]
            ids = list(_locked(queryset.exclude(pk__in=skip)).values_list("pk", flat=True)[:BATCH])
            if not ids:
                return done
            for clock in Clock.objects.filter(pk__in=ids).select_related(
                "matter__handling_area", "matter__area", "dispatch"
            ):
                try:
                    with transaction.atomic():
                        done += handle(clock, now)
                except Exception as exc:
                    log.exception("deadline sweep: clock %s of matter %s failed", clock.pk, clock.matter_id)
                    failed[("clock", clock.pk)] = f"{type(exc).__name__}: {exc}"


def _warn(now, failed=None):
    queryset = Clock.objects.filter(
        stopped_at__isnull=True, paused_at__isnull=True, standing="", warn_at__lte=now, due_at__gt=now
    ).order_by("warn_at", "pk")
    return _clock_batches(queryset, _warn_one, now, {} if failed is None else failed)


def _warn_one(clock, now):
    won = Clock.objects.filter(pk=clock.pk, standing="", stopped_at__isnull=True, paused_at__isnull=True).update(
        standing=Clock.Standing.YELLOW, warned_at=now
    )
    if not won:
        return 0  # another worker, or a step of the matter, got there first
    matter = clock.matter
    _set_matter_warning(matter.pk, Clock.Standing.YELLOW)
    new_event(
        matter,
        "deadline_warning",
        actor=ACTOR,
        payload={"stage": clock.stage, "due_at": clock.due_at.isoformat()},
        now=now,
    )
    _notify(
        _responsible(matter, clock),
        "matter.deadline_warning",
        _("Matter %(code)s: the %(stage)s deadline is near")
        % {"code": matter.tracking_code, "stage": clock.get_stage_display()},
        _("Due %(due)s.") % {"due": timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M")},
        matter,
    )
    return 1


def _overdue(now, failed=None):
    queryset = (
        Clock.objects.filter(stopped_at__isnull=True, paused_at__isnull=True, due_at__lte=now)
        .exclude(standing=Clock.Standing.RED)
        .order_by("due_at", "pk")
    )
    return _clock_batches(queryset, _overdue_one, now, {} if failed is None else failed)


def _overdue_one(clock, now):
    won = (
        Clock.objects.filter(pk=clock.pk, stopped_at__isnull=True, paused_at__isnull=True)
        .exclude(standing=Clock.Standing.RED)
        .update(standing=Clock.Standing.RED, overdue_at=now, warned_at=clock.warned_at or now)
    )
    if not won:
        return 0
    _escalate_overdue(clock, now)
    return 1


def _escalate_overdue(clock, now):
    matter = clock.matter
    _set_matter_warning(matter.pk, Clock.Standing.RED)
    payload = {"stage": clock.stage, "due_at": clock.due_at.isoformat()}
    above = handling_centre_area(matter.handling_area.parent) if matter.handling_area.parent_id else None
    supervising = above or matter.handling_area
    supervision = Supervision.objects.create(
        matter=matter,
        area=supervising,
        automatic=True,
        note=_("Automatic supervision: the %(stage)s deadline of %(due)s has passed.")
        % {"stage": clock.get_stage_display(), "due": timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M")},
        due_at=deadlines.compute(now, *deadlines.policy_for(matter, Stage.SUPERVISION))[0],
    )
    Matter.objects.filter(pk=matter.pk).update(supervised=True)
    payload["supervision"] = supervision.pk
    payload["supervising_level"] = supervising.code
    new_event(matter, "overdue", actor=ACTOR, payload=payload, now=now)
    audit.record(
        actor=ACTOR,
        action="matter.overdue",
        obj=matter,
        area=matter.area,
        summary=f"{matter.tracking_code} {clock.stage} overdue; supervised by {supervising.code}",
        data=payload,
        event_type=EventType.UPDATE,
    )
    recipients = _responsible(matter, clock) + centre_staff(supervising)
    recipients += [
        s.supervisor for s in matter.supervisions.filter(state=Supervision.State.OPEN, supervisor__isnull=False)
    ]
    _notify(
        recipients,
        "matter.overdue",
        _("Matter %(code)s is overdue (%(stage)s)")
        % {"code": matter.tracking_code, "stage": clock.get_stage_display()},
        _("Escalated to %(level)s for supervision.") % {"level": supervising.name},
        matter,
    )


def _open_targets_q():
    """Supervisions whose matter or task is still open: one of a closed matter or a finished task is not late."""
    return (Q(matter__isnull=True) | ~Q(matter__state__in=terminal_states())) & (
        Q(task__isnull=True) | Q(task__state=Task.State.OPEN)
    )


def _each(kind, rows, handle, failed):
    """`handle(row)` for each row in its own transaction (state, timeline row and notices commit together or not
    at all); a row that fails is logged and skipped for the rest of the run. Returns how many `handle` changed."""
    done = 0
    for row in rows:
        try:
            with transaction.atomic():
                done += handle(row)
        except Exception as exc:
            log.exception("deadline sweep: %s %s failed", kind, row.pk)
            failed[(kind, row.pk)] = f"{type(exc).__name__}: {exc}"
    return done


def _supervisions(now, failed=None):
    failed = {} if failed is None else failed
    done = 0
    while True:
        skip = [pk for kind, pk in failed if kind == "supervision"]
        batch = list(
            Supervision.objects.filter(_open_targets_q(), state=Supervision.State.OPEN, due_at__lte=now)
            .exclude(pk__in=skip)
            .select_related("matter__area", "matter__handling_area", "task__area", "task__department", "supervisor")
            .order_by("due_at", "pk")[:BATCH]
        )
        if not batch:
            return done
        done += _each("supervision", batch, lambda supervision: _supervision_one(supervision, now), failed)


def _supervision_one(supervision, now):
    if not Supervision.objects.filter(pk=supervision.pk, state=Supervision.State.OPEN).update(
        state=Supervision.State.OVERDUE, updated_at=timezone.now()
    ):
        return 0  # another worker flagged it first
    _supervision_overdue(supervision, now)
    return 1


def _supervision_overdue(supervision, now):
    matter, task = supervision.matter, supervision.task
    if matter is not None:
        recipients = [supervision.supervisor, *centre_staff(supervision.area), *centre_staff(matter.handling_area)]
        new_event(matter, "supervision_overdue", actor=ACTOR, payload={"supervision": supervision.pk}, now=now)
        _notify(
            recipients,
            "matter.supervision_overdue",
            _("Supervised matter %(code)s is past the supervision deadline") % {"code": matter.tracking_code},
            "",
            matter,
        )
    elif task is not None:
        from fengqiao.notifications.services import notify

        people = {p.pk: p for p in [supervision.supervisor, *_task_people(task)] if p is not None}
        if people:
            notify(
                list(people.values()),
                kind="task.supervision_overdue",
                title=_("Supervised task is past the supervision deadline: %(title)s")
                % {"title": redact_text(task.title[:60])},
                body="",
                target=task,
                area=task.area,
            )


def _task_people(task):
    from fengqiao.matters.engine import department_members

    people = [p for p in (task.assignee, task.created_by) if p is not None]
    if task.department_id:
        people += department_members(task.department)
    return people


def _tasks(now, failed=None):
    failed = {} if failed is None else failed
    done = 0
    while True:
        skip = [pk for kind, pk in failed if kind == "task"]
        batch = list(
            Task.objects.filter(state=Task.State.OPEN, overdue=False, due_at__lte=now)
            .exclude(pk__in=skip)
            .select_related("area", "assignee", "created_by", "department")
            .order_by("due_at", "pk")[:BATCH]
        )
        if not batch:
            return done
        done += _each("task", batch, _task_one, failed)


def _task_one(task):
    from fengqiao.notifications.services import notify

    if not Task.objects.filter(pk=task.pk, state=Task.State.OPEN, overdue=False).update(
        overdue=True, updated_at=timezone.now()
    ):
        return 0
    # Overdue work goes to the supervising level: an automatic supervision by the centre above the task's area.
    above = handling_centre_area(task.area.parent) if task.area.parent_id else None
    supervising = above or task.area
    if not Supervision.objects.filter(task=task, automatic=True).exists():
        Supervision.objects.create(
            task=task,
            area=supervising,
            automatic=True,
            note=_("Automatic supervision: the task's deadline has passed."),
            due_at=deadlines.compute(timezone.now(), *deadlines.policy_for_stage_default(Stage.SUPERVISION))[0],
        )
    people = {p.pk: p for p in [*_task_people(task), *centre_staff(supervising)]}
    if people:
        notify(
            list(people.values()),
            kind="task.overdue",
            title=_("Task overdue: %(title)s") % {"title": redact_text(task.title[:60])},
            body="",
            target=task,
            area=task.area,
        )
    return 1


class SweepError(Exception):
    """Some rows failed (each logged); the others were done. Raised at the end so the job records the error."""


def sweep(now=None) -> dict:
    """One pass. Returns how many clocks turned yellow and red, supervisions and tasks became overdue. Rows that
    fail are logged and left for the next pass; when there were any, `SweepError` is raised after the pass."""
    now = now or timezone.now()
    failed = {}
    counts = {
        "overdue": _overdue(now, failed),
        "warned": _warn(now, failed),
        "supervisions_overdue": _supervisions(now, failed),
        "tasks_overdue": _tasks(now, failed),
    }
    if any(counts.values()):
        log.info("deadline sweep: %s", counts)
    if failed:
        sample = "; ".join(f"{kind} {pk}: {error}" for (kind, pk), error in list(failed.items())[:5])
        raise SweepError(f"{len(failed)} row(s) failed, the rest done ({counts}): {sample}")
    return counts
