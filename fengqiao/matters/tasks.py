"""Tasks (JM3), supervision of tasks, and deadline-policy edits: the writes of the loop that are not transitions.

(Not to be confused with background tasks: those are `django.tasks`, run by `fengqiao worker`.)
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from fengqiao.accounts.models import User
from fengqiao.areas.models import Area
from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
from fengqiao.audit.redact import redact_text
from fengqiao.departments.models import Department
from fengqiao.matters import deadlines
from fengqiao.matters.models import DeadlinePolicy, Matter, Stage, Supervision, Task


def _aware(value, field):
    if value in (None, ""):
        return None
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValidationError({field: _("Not a date and time: %(value)s") % {"value": value}})
        value = parsed
    if not isinstance(value, datetime.datetime):
        raise ValidationError({field: _("Not a date and time: %(value)s") % {"value": value}})
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def _refresh_parent_progress(task):
    """A parent's progress is the mean of its subtasks' (cancelled ones left out)."""
    parent = task.parent
    if parent is None:
        return
    rows = list(parent.subtasks.exclude(state=Task.State.CANCELLED).values_list("progress", flat=True))
    if rows:
        Task.objects.filter(pk=parent.pk).update(progress=round(sum(rows) / len(rows)))


@transaction.atomic
def create_task(
    *, actor, scope, area, title, due_at, parent=None, matter="", description="", department=None, assignee=None
):
    area_obj = Area.objects.filter(code=area).first() if isinstance(area, str) else area
    if area_obj is None:
        raise ValidationError({"area": _("No area with code %(code)s.") % {"code": area}})
    if not scope.covers(area_obj):
        raise ValidationError(
            {"area": _("Area %(code)s is outside the areas you hold a role over.") % {"code": area_obj.code}}
        )
    due_at = _aware(due_at, "due_at")
    if due_at <= timezone.now():
        raise ValidationError({"due_at": _("The deadline must lie in the future.")})
    parent_obj = None
    if parent:
        parent_obj = scope.filter(Task.objects.all(), "area__path").filter(pk=parent).first()
        if parent_obj is None:
            raise ValidationError({"parent": _("No such task: %(id)s") % {"id": parent}})
        if parent_obj.parent_id is not None:
            raise ValidationError({"parent": _("Subtasks cannot have subtasks of their own.")})
        if not area_obj.path.startswith(parent_obj.area.path):
            raise ValidationError({"area": _("A subtask lies in its parent task's area.")})
        if due_at > parent_obj.due_at:
            raise ValidationError({"due_at": _("A subtask is due no later than its parent task.")})
    matter_obj = None
    if matter:
        matter_obj = scope.filter(Matter.objects.all(), "area__path").filter(tracking_code=str(matter).upper()).first()
        if matter_obj is None:
            raise ValidationError({"matter": _("No such matter: %(code)s") % {"code": matter}})
    department_obj = None
    if department:
        department_obj = Department.objects.select_related("area").filter(pk=department, active=True).first()
        if department_obj is None or not (
            scope.covers(department_obj.area) or area_obj.path.startswith(department_obj.area.path)
        ):
            raise ValidationError({"department": _("No such department: %(id)s") % {"id": department}})
    assignee_obj = None
    if assignee:
        assignee_obj = User.objects.filter(pk=assignee, is_active=True).first()
        if assignee_obj is None:
            raise ValidationError({"assignee": _("No such user: %(id)s") % {"id": assignee}})
    if department_obj is None and assignee_obj is None:
        raise ValidationError({"department": _("A task needs a responsible unit or a responsible person.")})
    task = Task.objects.create(
        area=area_obj,
        parent=parent_obj,
        matter=matter_obj,
        title=title.strip(),
        description=description,
        department=department_obj,
        assignee=assignee_obj,
        created_by=actor,
        due_at=due_at,
    )
    audit.record(actor=actor, action="task.create", obj=task, area=area_obj, summary=task.title[:100])
    if assignee_obj is not None or department_obj is not None:
        from fengqiao.matters.engine import department_members
        from fengqiao.notifications.services import notify

        people = [assignee_obj] if assignee_obj else department_members(department_obj)
        people = [p for p in people if p.pk != getattr(actor, "pk", None)]
        if people:
            notify(
                people,
                kind="task.assigned",
                title=_("New task: %(title)s") % {"title": redact_text(task.title[:60])},
                body="",
                target=task,
                area=area_obj,
            )
    return task


@transaction.atomic
def _task_roles(task, actor):
    """(responsible, manager): the unit or person the task is given to; who set it or supervises it."""
    from fengqiao.accounts.models import current_q
    from fengqiao.departments.models import Membership

    if actor is None or isinstance(actor, str) or actor.is_superuser:
        return True, True
    responsible = task.assignee_id == actor.pk or (
        task.department_id is not None
        and Membership.objects.filter(current_q(), user=actor, department_id=task.department_id).exists()
    )
    manager = task.created_by_id == actor.pk or actor.has_perm("matters.supervise_matter")
    return responsible, manager


def update_task(task, *, actor, progress=None, progress_note=None, state=None, due_at=None):
    """Progress and completion: the responsible unit or person, or the task's manager (who set it, or a
    supervisor). The deadline and cancelling: the manager only — a unit cannot push back its own deadline."""
    from django.core.exceptions import PermissionDenied

    task = Task.objects.select_for_update(of=("self",)).get(pk=task.pk)
    responsible, manager = _task_roles(task, actor)
    if not (responsible or manager):
        raise PermissionDenied(_("Only the responsible unit, whoever set the task or a supervisor may change it."))
    if (due_at is not None or state == Task.State.CANCELLED) and not manager:
        raise PermissionDenied(_("Only whoever set the task or a supervisor may change its deadline or cancel it."))
    before = {"progress": task.progress, "state": task.state, "due_at": task.due_at.isoformat()}
    if task.state != Task.State.OPEN and state in (None, task.state):
        raise ValidationError(
            {"state": _("The task is %(state)s; reopen it first.") % {"state": task.get_state_display()}}
        )
    if progress is not None:
        task.progress = progress
    if progress_note is not None:
        task.progress_note = progress_note
    if due_at is not None:
        task.due_at = _aware(due_at, "due_at")
        task.overdue = task.due_at <= timezone.now() and task.state == Task.State.OPEN
    if state is not None and state != task.state:
        task.state = state
        task.done_at = timezone.now() if state == Task.State.DONE else None
        if state == Task.State.DONE:
            task.progress = 100
            open_subtasks = task.subtasks.filter(state=Task.State.OPEN).count()
            if open_subtasks:
                raise ValidationError({"state": _("%(n)d subtasks are still open.") % {"n": open_subtasks}})
    task.save()
    _refresh_parent_progress(task)
    audit.record(
        actor=actor,
        action="task.update",
        obj=task,
        area=task.area,
        before=before,
        after={"progress": task.progress, "state": task.state, "due_at": task.due_at.isoformat()},
        event_type=EventType.UPDATE,
    )
    if task.state == Task.State.DONE:
        Supervision.objects.filter(task=task, state__in=[Supervision.State.OPEN, Supervision.State.OVERDUE]).update(
            state=Supervision.State.DONE, closed_at=timezone.now()
        )
    return task


def _supervising_area(actor, scope, target_area):
    from fengqiao.matters.engine import supervising_area

    found = supervising_area(actor, target_area)
    if found is not None:
        return found
    if scope.unrestricted:
        return target_area
    raise ValidationError({"area": _("This lies outside the areas you supervise.")})


@transaction.atomic
def supervise_task(task, *, actor, scope, note, due_at=None):
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("A supervision needs a note.")})
    due = _aware(due_at, "due_at")
    if due is None:
        due = min(task.due_at, deadlines.compute(timezone.now(), 3, "working_days", 0.8)[0])
    supervision = Supervision.objects.create(
        task=task, area=_supervising_area(actor, scope, task.area), supervisor=actor, note=note, due_at=due
    )
    audit.record(actor=actor, action="task.supervise", obj=task, area=task.area, data={"supervision": supervision.pk})
    return supervision


@transaction.atomic
def close_supervision(supervision, *, actor, note=""):
    supervision.state = Supervision.State.DONE
    supervision.closed_at = timezone.now()
    if note:
        supervision.note = f"{supervision.note}\n{note}".strip()
    supervision.save(update_fields=["state", "closed_at", "note", "updated_at"])
    if (
        supervision.matter_id
        and not supervision.matter.supervisions.filter(
            state__in=[Supervision.State.OPEN, Supervision.State.OVERDUE]
        ).exists()
    ):
        Matter.objects.filter(pk=supervision.matter_id).update(supervised=False)
    audit.record(
        actor=actor,
        action="supervision.close",
        obj=supervision,
        area=supervision.area,
        data={"matter": supervision.matter_id, "task": supervision.task_id},
    )
    return supervision


@transaction.atomic
def save_policy(policy, *, actor, **data):
    """Create or change a deadline policy (system administrators)."""
    from fengqiao.matters.workflows import WORKFLOWS

    creating = policy is None
    policy = policy or DeadlinePolicy()
    before = None if creating else {"amount": policy.amount, "unit": policy.unit, "warn_fraction": policy.warn_fraction}
    for key, value in data.items():
        setattr(policy, key, value)
    if policy.workflow not in WORKFLOWS:
        raise ValidationError({"workflow": _("Unknown workflow: %(name)s") % {"name": policy.workflow}})
    if policy.stage not in Stage.values:
        raise ValidationError({"stage": _("Unknown stage: %(name)s") % {"name": policy.stage}})
    if not 0 < (policy.warn_fraction or 0) < 1:
        raise ValidationError({"warn_fraction": _("The warning share lies strictly between 0 and 1.")})
    clash = DeadlinePolicy.objects.filter(
        workflow=policy.workflow,
        stage=policy.stage,
        category=policy.category,
        complexity=policy.complexity,
        channel=policy.channel,
    ).exclude(pk=policy.pk)
    if clash.exists():
        raise ValidationError({"stage": _("A policy for this stage, category, complexity and channel exists already.")})
    policy.full_clean()
    policy.save()
    from fengqiao.core import cache

    transaction.on_commit(lambda: cache.clear("deadline-policies"))
    audit.record(
        actor=actor,
        action="deadline_policy.create" if creating else "deadline_policy.update",
        obj=policy,
        before=before,
        after={"amount": policy.amount, "unit": policy.unit, "warn_fraction": policy.warn_fraction},
    )
    return policy
