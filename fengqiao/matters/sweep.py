"""The deadline sweep the worker runs every minute (ADR 0013).

Yellow when a running clock passes its warning time (80 % of the time by default), red when it passes its due
time; a red clock escalates the matter to the supervising level: an automatic supervision by the centre above
the one that owns it (once per clock), with notices to the unit at work, the owning centre and the level above.
Overdue supervisions and tasks are flagged and their people told.

Safe to kill and restart and safe with several workers: every change is a conditional UPDATE
(``WHERE standing != 'red'``) whose row count says which worker won; only the winner writes the timeline row and
sends the notices. Rows are taken in small batches, each its own transaction (``SELECT … FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so workers share the work instead of queueing behind each other).
"""

import logging

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
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


def _warn(now):
    done = 0
    while True:
        with transaction.atomic():
            ids = list(
                _locked(
                    Clock.objects.filter(
                        stopped_at__isnull=True, paused_at__isnull=True, standing="", warn_at__lte=now, due_at__gt=now
                    ).order_by("warn_at")
                ).values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                return done
            for clock in Clock.objects.filter(pk__in=ids).select_related(
                "matter__handling_area", "matter__area", "dispatch"
            ):
                won = Clock.objects.filter(pk=clock.pk, standing="", stopped_at__isnull=True).update(
                    standing=Clock.Standing.YELLOW, warned_at=now
                )
                if not won:
                    continue
                done += 1
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


def _overdue(now):
    done = 0
    while True:
        with transaction.atomic():
            ids = list(
                _locked(
                    Clock.objects.filter(stopped_at__isnull=True, paused_at__isnull=True, due_at__lte=now)
                    .exclude(standing=Clock.Standing.RED)
                    .order_by("due_at")
                ).values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                return done
            for clock in Clock.objects.filter(pk__in=ids).select_related(
                "matter__handling_area", "matter__area", "dispatch"
            ):
                won = (
                    Clock.objects.filter(pk=clock.pk, stopped_at__isnull=True)
                    .exclude(standing=Clock.Standing.RED)
                    .update(standing=Clock.Standing.RED, overdue_at=now, warned_at=clock.warned_at or now)
                )
                if not won:
                    continue
                done += 1
                _escalate_overdue(clock, now)


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


def _supervisions(now):
    done = 0
    for supervision in Supervision.objects.filter(state=Supervision.State.OPEN, due_at__lte=now).select_related(
        "matter__area", "matter__handling_area", "task", "supervisor"
    )[:BATCH]:
        if not Supervision.objects.filter(pk=supervision.pk, state=Supervision.State.OPEN).update(
            state=Supervision.State.OVERDUE
        ):
            continue
        done += 1
        matter = supervision.matter
        if matter is not None and matter.state not in terminal_states():
            recipients = [supervision.supervisor, *centre_staff(supervision.area), *centre_staff(matter.handling_area)]
            new_event(matter, "supervision_overdue", actor=ACTOR, payload={"supervision": supervision.pk}, now=now)
            _notify(
                recipients,
                "matter.supervision_overdue",
                _("Supervised matter %(code)s is past the supervision deadline") % {"code": matter.tracking_code},
                "",
                matter,
            )
    return done


def _tasks(now):
    from fengqiao.notifications.services import notify

    done = 0
    for task in Task.objects.filter(state=Task.State.OPEN, overdue=False, due_at__lte=now).select_related(
        "area", "assignee", "created_by", "department"
    )[:BATCH]:
        if not Task.objects.filter(pk=task.pk, overdue=False).update(overdue=True):
            continue
        done += 1
        people = [p for p in (task.assignee, task.created_by) if p is not None]
        if task.department_id:
            from fengqiao.matters.engine import department_members

            people += department_members(task.department)
        if people:
            notify(
                list({p.pk: p for p in people}.values()),
                kind="task.overdue",
                title=_("Task overdue: %(title)s") % {"title": task.title[:60]},
                body="",
                target=task,
                area=task.area,
            )
    return done


def sweep(now=None) -> dict:
    """One pass. Returns how many clocks turned yellow and red, supervisions and tasks became overdue."""
    now = now or timezone.now()
    counts = {
        "overdue": _overdue(now),
        "warned": _warn(now),
        "supervisions_overdue": _supervisions(now),
        "tasks_overdue": _tasks(now),
    }
    if any(counts.values()):
        log.info("deadline sweep: %s", counts)
    return counts


def open_matters_q():
    return ~Q(state__in=terminal_states())
