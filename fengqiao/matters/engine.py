"""The workflow engine: one function, `perform`, moves any matter along its declared table (ADR 0013).

    perform(matter, "dispatch", actor=user, payload={"targets": [{"department": 12}]})

Checks, in order, all before anything is written: the action exists in the matter's workflow (else
`UnknownAction`), the matter is in a source state (`IllegalTransition`), the actor may act (`NotAllowed`:
permission and the actor rule: the centre that owns the matter, the unit it is dispatched to, the reporter…),
the payload has what the transition requires (`InvalidPayload`). Then, in one transaction with the matter's
row locked: the effect, the state, the clocks, one timeline row, one audit event and notifications (sent after
commit). Any error rolls everything back: an illegal or refused step changes nothing.
"""

import dataclasses
import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from fengqiao.accounts.models import AreaAssignment, Role, current_q
from fengqiao.accounts.scope import Scope
from fengqiao.areas.models import Area
from fengqiao.audit import services as audit
from fengqiao.audit.models import EventType
from fengqiao.departments.models import Department, Membership
from fengqiao.matters import deadlines
from fengqiao.matters.models import (
    Clock,
    Dispatch,
    Extension,
    Matter,
    MatterEvent,
    Rating,
    Stage,
    Supervision,
    TimeUnit,
)
from fengqiao.matters.workflows import Transition, Workflow, get_workflow


class TransitionError(Exception):
    """Base of the engine's refusals. `code` is stable (API clients match on it); the message is translated."""

    code = "transition_error"
    status = 400

    def __init__(self, message, *, code=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class UnknownAction(TransitionError):
    code = "unknown_action"
    status = 400


class IllegalTransition(TransitionError):
    code = "illegal_transition"
    status = 409


class NotAllowed(TransitionError):
    code = "not_allowed"
    status = 403


class InvalidPayload(TransitionError):
    code = "invalid"
    status = 400

    def __init__(self, message, *, field=None, code=None):
        super().__init__(message, code=code)
        self.field = field


def max_reopen() -> int:
    """How often an unsatisfied reporter can send a matter back (重办) before the rating is simply recorded [I]."""
    return int(getattr(settings, "FENGQIAO_MAX_REOPEN", 2))


@dataclasses.dataclass
class Step:
    """What an effect works with. Effects add to `record` (the timeline payload) and `notices`."""

    matter: Matter
    workflow: Workflow
    transition: Transition
    actor: object  # a User, or None for the reporter through a tracking code / the system
    scope: Scope
    reason: str
    payload: dict
    now: datetime.datetime
    via_tracking: bool = False
    dispatch: Dispatch | None = None  # the actor's own dispatch (worker rules)
    record: dict = dataclasses.field(default_factory=dict)
    notices: list = dataclasses.field(default_factory=list)
    matter_fields: set = dataclasses.field(default_factory=set)

    def set(self, **fields):
        for name, value in fields.items():
            setattr(self.matter, name, value)
            self.matter_fields.add(name)

    def notify(self, recipients, kind, title, body=""):
        self.notices.append((recipients, kind, title, body))


# ---------------------------------------------------------------------------------------------- who may act


def _has_perm(step, perm):
    return perm is None or (step.actor is not None and step.actor.has_perm(perm))


def active_dispatches_of(matter, user, on=None):
    """The matter's active dispatches that reach `user`: assigned to them or to a department they belong to."""
    on = on or timezone.localdate()
    departments = Membership.objects.filter(current_q(on), user=user).values("department_id")
    return list(
        matter.dispatches.filter(state__in=[Dispatch.State.PENDING, Dispatch.State.ACKNOWLEDGED]).filter(
            Q(assignee=user) | Q(department__in=departments)
        )
    )


def rule_centre(step):
    """Staff whose scope covers the level that owns the matter now (its centre's area, or above)."""
    if not step.scope.covers(step.matter.handling_area):
        raise NotAllowed(
            _("This matter is handled by %(level)s; only its centre or a level above may do this.")
            % {"level": step.matter.handling_area.name}
        )


def rule_worker(step, *, role=None):
    """A unit the matter is dispatched to (in `role` when given); `step.dispatch` becomes its dispatch, a pending
    one first (a user in two of the units reports in for the one that has not yet)."""
    on = timezone.localdate(step.now)
    dispatches = [] if step.actor is None else active_dispatches_of(step.matter, step.actor, on)
    if role is not None:
        dispatches = [d for d in dispatches if d.role == role]
    if not dispatches:
        if role == Dispatch.Role.LEAD:
            raise NotAllowed(_("This matter is not dispatched to you or your department as the lead unit."))
        if role == Dispatch.Role.ASSIST:
            raise NotAllowed(_("This matter is not dispatched to you or your department as an assisting unit."))
        raise NotAllowed(_("This matter is not dispatched to you or your department."))
    dispatches.sort(key=lambda d: d.state != Dispatch.State.PENDING)
    step.dispatch = dispatches[0]


def rule_lead_worker(step):
    rule_worker(step, role=Dispatch.Role.LEAD)


def rule_assist_worker(step):
    """An assisting unit (协办) reporting in; the lead unit acknowledges instead, which also starts the work."""
    rule_worker(step, role=Dispatch.Role.ASSIST)


def rule_grid(step):
    """A grid member in their own grid (or, for a matter outside every grid, in their area)."""
    matter = step.matter
    if matter.grid_id is not None:
        if matter.grid_id not in step.scope.grid_ids and not step.scope.unrestricted:
            raise NotAllowed(_("Only a grid member of this matter's grid may resolve it on the spot."))
    elif not step.scope.covers(matter.area):
        raise NotAllowed(_("This matter lies outside your area."))


def rule_reporter(step):
    if step.via_tracking:
        return
    if step.actor is not None and step.matter.reporter_id == step.actor.pk:
        return
    raise NotAllowed(_("Only the reporter may do this (signed in, or with the tracking code)."))


def rule_reporter_or_centre(step):
    if step.via_tracking or (step.actor is not None and step.matter.reporter_id == step.actor.pk):
        return
    if not _has_perm(step, "matters.triage_matter"):
        raise NotAllowed(_("Only the reporter or the centre may reopen a matter."))
    rule_centre(step)


def rule_supervisor(step):
    if not step.scope.covers(step.matter.area):
        raise NotAllowed(_("This matter lies outside the areas you supervise."))


def rule_staff(step):
    if not step.scope.covers(step.matter.area):
        raise NotAllowed(_("This matter lies outside your area."))


ACTOR_RULES = {
    "centre": rule_centre,
    "worker": rule_worker,
    "lead_worker": rule_lead_worker,
    "assist_worker": rule_assist_worker,
    "grid": rule_grid,
    "reporter": rule_reporter,
    "reporter_or_centre": rule_reporter_or_centre,
    "supervisor": rule_supervisor,
    "staff": rule_staff,
}


# ---------------------------------------------------------------------------------------------- helpers


def centre_staff(area):
    """Users holding a current centre-staff role exactly on `area` (the people who run its centre)."""
    from fengqiao.accounts.models import User

    return list(
        User.objects.filter(
            is_active=True,
            area_assignments__in=AreaAssignment.objects.filter(current_q(), area=area, role=Role.CENTRE_STAFF),
        ).distinct()
    )


def department_members(department):
    from fengqiao.accounts.models import User

    return list(
        User.objects.filter(
            is_active=True, department_memberships__in=Membership.objects.filter(current_q(), department=department)
        ).distinct()
    )


def dispatch_recipients(dispatch):
    if dispatch.assignee_id is not None:
        return [dispatch.assignee]
    return department_members(dispatch.department)


def handling_centre_area(area):
    """The lowest area at or above `area` that has an active governance centre (None when none has)."""
    from fengqiao.centres.models import Centre

    codes = area.ancestor_codes()
    centres = dict(Centre.objects.filter(area__code__in=codes, active=True).values_list("area__code", "area_id"))
    for code in reversed(codes):
        if code in centres:
            return Area.objects.get(pk=centres[code])
    return None


def _text(step, key, *, required=True, max_length=4000):
    value = step.payload.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidPayload(_("%(field)s is required for this step.") % {"field": key}, field=key)
        return ""
    if not isinstance(value, str):
        raise InvalidPayload(_("%(field)s must be text.") % {"field": key}, field=key)
    value = value.strip()
    if len(value) > max_length:
        raise InvalidPayload(
            _("%(field)s is too long (%(n)d characters, at most %(max)d).")
            % {"field": key, "n": len(value), "max": max_length},
            field=key,
        )
    return value


def _positive_int(step, key, *, maximum):
    value = step.payload.get(key)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidPayload(_("%(field)s must be a whole number.") % {"field": key}, field=key) from None
    if not 1 <= number <= maximum:
        raise InvalidPayload(_("%(field)s must be between 1 and %(max)d.") % {"field": key, "max": maximum}, field=key)
    return number


def _unit(step, key="unit", default=TimeUnit.WORKING_DAYS):
    value = step.payload.get(key) or default
    if value not in TimeUnit.values:
        raise InvalidPayload(
            _("Unknown time unit %(unit)s; use one of %(units)s.")
            % {"unit": value, "units": ", ".join(TimeUnit.values)},
            field=key,
        )
    return value


def _when(step, key):
    value = step.payload.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        moment = parse_datetime(str(value))
        if moment is None:
            day = parse_date(str(value))
            if day is None:
                raise InvalidPayload(
                    _("%(field)s is not a date or time: %(value)s") % {"field": key, "value": value}, field=key
                )
            moment = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment <= step.now:
        raise InvalidPayload(_("%(field)s must lie in the future.") % {"field": key}, field=key)
    return moment


# ---------------------------------------------------------------------------------------------- effects


def _targets(step):
    """Validate the dispatch targets: [{"department": id} | {"assignee": user id}, role lead|assist]."""
    from fengqiao.accounts.models import GridAssignment, User

    raw = step.payload.get("targets")
    if not isinstance(raw, list) or not raw:
        raise InvalidPayload(_("targets must be a non-empty list of departments or grid members."), field="targets")
    if len(raw) > 20:
        raise InvalidPayload(_("At most 20 units can be called onto one matter."), field="targets")
    out, seen = [], set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or (("department" in item) == ("assignee" in item)):
            raise InvalidPayload(
                _("targets[%(i)d] must name exactly one of department or assignee.") % {"i": index}, field="targets"
            )
        role = item.get("role") or (Dispatch.Role.LEAD if index == 0 else Dispatch.Role.ASSIST)
        if role not in Dispatch.Role.values:
            raise InvalidPayload(
                _("targets[%(i)d]: unknown role %(role)s.") % {"i": index, "role": role}, field="targets"
            )
        if "department" in item:
            department = Department.objects.select_related("area").filter(pk=_int_or_none(item["department"])).first()
            # Reachable: departments in the actor's areas, or of a level above the matter (a town calls county
            # departments onto it: 吹哨报到). Anything else is answered like an unknown id.
            if department is None or not (
                step.scope.covers(department.area) or step.matter.handling_area.path.startswith(department.area.path)
            ):
                raise InvalidPayload(
                    _("targets[%(i)d]: no such department: %(id)s") % {"i": index, "id": item["department"]},
                    field="targets",
                )
            if not department.active:
                raise InvalidPayload(
                    _("targets[%(i)d]: %(name)s is inactive.") % {"i": index, "name": department.name}, field="targets"
                )
            key = ("d", department.pk)
            out.append((role, department, None))
        else:
            user = User.objects.filter(pk=_int_or_none(item["assignee"]), is_active=True).first()
            grids = GridAssignment.objects.current().filter(user=user) if user else None
            if user is None or not any(step.scope.covers(g.grid.area) for g in grids.select_related("grid__area")):
                raise InvalidPayload(
                    _("targets[%(i)d]: no grid member %(id)s in your areas.") % {"i": index, "id": item["assignee"]},
                    field="targets",
                )
            key = ("u", user.pk)
            out.append((role, None, user))
        if key in seen:
            raise InvalidPayload(_("targets[%(i)d] is named twice.") % {"i": index}, field="targets")
        seen.add(key)
    leads = [t for t in out if t[0] == Dispatch.Role.LEAD]
    if len(leads) != 1:
        raise InvalidPayload(_("Exactly one target must be the lead unit."), field="targets")
    return out


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def effect_accept(step):
    changes = {}
    from fengqiao.departments.models import Category

    if step.payload.get("category"):
        category = Category.objects.filter(code=str(step.payload["category"]), active=True).first()
        if category is None:
            raise InvalidPayload(_("Unknown category: %(code)s") % {"code": step.payload["category"]}, field="category")
        changes["category"] = category
    for key, choices in (("complexity", ("simple", "complex")), ("urgency", ("normal", "urgent", "critical"))):
        if step.payload.get(key):
            if step.payload[key] not in choices:
                raise InvalidPayload(
                    _("Unknown %(field)s: %(value)s") % {"field": key, "value": step.payload[key]}, field=key
                )
            changes[key] = step.payload[key]
    step.set(accepted_at=step.now, needs_triage=False, **changes)
    if changes:
        step.record["changed"] = {k: getattr(v, "code", v) for k, v in changes.items()}


def _create_dispatches(step, targets):
    created = []
    for role, department, user in targets:
        dispatch = Dispatch.objects.create(
            matter=step.matter,
            department=department,
            assignee=user,
            role=role,
            dispatched_by=step.actor,
            dispatched_at=step.now,
            note=step.reason,
        )
        clock = deadlines.start_clock(step.matter, Stage.ACKNOWLEDGE, now=step.now, dispatch=dispatch)
        dispatch.acknowledge_due = clock.due_at
        dispatch.save(update_fields=["acknowledge_due"])
        created.append(dispatch)
        step.notify(
            dispatch_recipients(dispatch),
            "matter.dispatched",
            _("New matter %(code)s dispatched to you") % {"code": step.matter.tracking_code},
            _("Acknowledge by %(due)s.") % {"due": timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M")},
        )
        if role == Dispatch.Role.LEAD:
            step.set(department=department, assignee=user)
    step.record["targets"] = [
        {"role": d.role, "department": d.department_id, "assignee": d.assignee_id} for d in created
    ]
    return created


def effect_dispatch(step):
    targets = _targets(step)
    _create_dispatches(step, targets)
    step.set(dispatched_at=step.now)


def _end_dispatches(step, state, *, only=None):
    for dispatch in step.matter.dispatches.filter(state__in=[Dispatch.State.PENDING, Dispatch.State.ACKNOWLEDGED]):
        if only is not None and dispatch.pk != only.pk:
            continue
        dispatch.state = state
        dispatch.ended_at = step.now
        dispatch.save(update_fields=["state", "ended_at"])
        deadlines.stop_clocks(step.matter, [Stage.ACKNOWLEDGE], now=step.now, dispatch=dispatch)


def _lapse_extensions(step):
    """A pending extension request lapses when the unit that asked for it no longer handles the matter."""
    step.matter.extensions.filter(state=Extension.State.PENDING).update(
        state=Extension.State.REFUSED,
        decided_at=step.now,
        decision_note=_("Lapsed: the matter was %(action)s before a decision.") % {"action": step.transition.label},
    )


def effect_transfer(step):
    targets = _targets(step)
    _lapse_extensions(step)
    _end_dispatches(step, Dispatch.State.WITHDRAWN)
    _create_dispatches(step, targets)
    deadlines.start_clock(step.matter, Stage.HANDLE, now=step.now)
    step.set(dispatched_at=step.now, acknowledged_at=None)


def effect_acknowledge(step):
    dispatch = step.dispatch
    if dispatch.state == Dispatch.State.ACKNOWLEDGED:
        raise IllegalTransition(_("You have already acknowledged this matter."))
    dispatch.state = Dispatch.State.ACKNOWLEDGED
    dispatch.acknowledged_at = step.now
    dispatch.save(update_fields=["state", "acknowledged_at"])
    deadlines.stop_clocks(step.matter, [Stage.ACKNOWLEDGE], now=step.now, dispatch=dispatch)
    step.record["dispatch"] = dispatch.pk
    if dispatch.role == Dispatch.Role.LEAD and step.matter.acknowledged_at is None:
        step.set(acknowledged_at=step.now)


def effect_return(step):
    _lapse_extensions(step)
    _end_dispatches(step, Dispatch.State.RETURNED, only=step.dispatch)
    _end_dispatches(step, Dispatch.State.WITHDRAWN)
    step.set(department=None, assignee=None)
    step.notify(
        centre_staff(step.matter.handling_area),
        "matter.returned",
        _("Matter %(code)s was returned") % {"code": step.matter.tracking_code},
        _("It needs dispatching again."),
    )


def effect_request_extension(step):
    if step.matter.extensions.filter(state=Extension.State.PENDING).exists():
        raise IllegalTransition(_("An extension request is already pending for this matter."))
    unit = _unit(step)
    maximum = 60 if unit != TimeUnit.HOURS else 240
    extension = Extension.objects.create(
        matter=step.matter,
        requested_by=step.actor,
        requested_at=step.now,
        amount=_positive_int(step, "amount", maximum=maximum),
        unit=unit,
        reason=step.reason,
    )
    step.record.update(extension=extension.pk, amount=extension.amount, unit=extension.unit)
    step.notify(
        centre_staff(step.matter.handling_area),
        "matter.extension_requested",
        _("Extension requested for matter %(code)s") % {"code": step.matter.tracking_code},
    )


def effect_decide_extension(step):
    decision = step.payload.get("decision")
    if decision not in ("approve", "refuse"):
        raise InvalidPayload(_("decision must be approve or refuse."), field="decision")
    extension = step.matter.extensions.filter(state=Extension.State.PENDING).first()
    if extension is None:
        raise IllegalTransition(_("There is no pending extension request to decide."))
    extension.state = Extension.State.APPROVED if decision == "approve" else Extension.State.REFUSED
    extension.decided_by = step.actor
    extension.decided_at = step.now
    extension.decision_note = step.reason
    extension.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
    step.record.update(extension=extension.pk, decision=decision)
    if decision == "approve":
        clock = step.matter.clocks.filter(stage=Stage.HANDLE, stopped_at__isnull=True).first()
        if clock is None:
            raise IllegalTransition(_("The handling clock is not running; there is nothing to extend."))
        deadlines.extend_clock(clock, extension.amount, extension.unit, now=step.now)
        step.record["due_at"] = clock.due_at.isoformat()
        if clock.provisional and not step.matter.provisional_deadline:
            step.set(provisional_deadline=True)
        if step.matter.warning and clock.standing != step.matter.warning:
            step.set(warning=clock.standing)
    if extension.requested_by is not None:
        step.notify(
            [extension.requested_by],
            "matter.extension_decided",
            _("Extension for matter %(code)s: %(decision)s")
            % {"code": step.matter.tracking_code, "decision": _("approved") if decision == "approve" else _("refused")},
        )


def _solved(step, level):
    handle_clock = step.matter.clocks.filter(stage=Stage.HANDLE).order_by("-started_at", "-id").first()
    on_time = True if handle_clock is None else (handle_clock.due_at >= step.now)
    step.set(handled_at=step.now, solved_level=level, handled_on_time=on_time)


def effect_handle(step):
    step.set(result=_text(step, "result"))
    _lapse_extensions(step)
    for dispatch in step.matter.dispatches.filter(state__in=[Dispatch.State.PENDING, Dispatch.State.ACKNOWLEDGED]):
        dispatch.state = Dispatch.State.DONE
        dispatch.ended_at = step.now
        dispatch.save(update_fields=["state", "ended_at"])
    deadlines.stop_clocks(step.matter, [Stage.ACKNOWLEDGE], now=step.now)
    _solved(step, step.matter.handling_area.level)
    _link_evidence(step)


def effect_resolve_on_spot(step):
    step.set(result=_text(step, "result"))
    evidence = _link_evidence(step)
    if not evidence:
        raise InvalidPayload(_("Resolving on the spot needs evidence: at least one photo."), field="evidence")
    Dispatch.objects.create(
        matter=step.matter,
        assignee=step.actor,
        role=Dispatch.Role.LEAD,
        state=Dispatch.State.DONE,
        dispatched_by=step.actor,
        dispatched_at=step.now,
        acknowledged_at=step.now,
        ended_at=step.now,
    )
    step.set(
        assignee=step.actor,
        accepted_at=step.matter.accepted_at or step.now,
        dispatched_at=step.now,
        acknowledged_at=step.now,
        solved_on_spot=True,
    )
    _solved(step, step.matter.area.level)


def _link_evidence(step):
    """Attach already uploaded photos (ids in payload["evidence"]) of this matter as evidence."""
    from fengqiao.matters.models import Attachment

    ids = step.payload.get("evidence") or []
    if not isinstance(ids, list):
        raise InvalidPayload(_("evidence must be a list of attachment ids."), field="evidence")
    wanted = {i for i in (_int_or_none(v) for v in ids) if i is not None}
    found = list(step.matter.attachments.filter(pk__in=wanted))
    if len(found) != len(ids):
        raise InvalidPayload(_("evidence names attachments that are not photos of this matter."), field="evidence")
    Attachment.objects.filter(pk__in=wanted).update(purpose=Attachment.Purpose.EVIDENCE)
    step.record["evidence"] = sorted(wanted)
    return found


def effect_reject_result(step):
    lead = step.matter.dispatches.filter(role=Dispatch.Role.LEAD).order_by("-dispatched_at", "-id").first()
    if lead is None:
        raise IllegalTransition(_("Nobody handled this matter; there is no unit to send it back to."))
    lead.state = Dispatch.State.ACKNOWLEDGED
    lead.ended_at = None
    lead.save(update_fields=["state", "ended_at"])
    step.set(handled_at=None, solved_level=None, handled_on_time=None, solved_on_spot=False)
    step.notify(
        dispatch_recipients(lead),
        "matter.result_rejected",
        _("The result of matter %(code)s did not pass verification") % {"code": step.matter.tracking_code},
    )


def effect_reply(step):
    step.set(reply=_text(step, "reply"), replied_at=step.now)
    if step.matter.reporter_id is not None:
        step.notify(
            [step.matter.reporter],
            "matter.replied",
            _("Your matter %(code)s has a reply") % {"code": step.matter.tracking_code},
        )


def effect_rate(step):
    rating = step.payload.get("rating")
    if rating not in Rating.values:
        raise InvalidPayload(
            _("rating must be one of %(values)s.") % {"values": ", ".join(Rating.values)}, field="rating"
        )
    if rating == Rating.UNSATISFIED and step.matter.reopened < max_reopen():
        raise IllegalTransition(
            _("An unsatisfied reporter sends the matter back: use reopen (it has been reopened %(n)d times).")
            % {"n": step.matter.reopened},
            code="reopen_instead",
        )
    step.set(rating=rating, rating_comment=_text(step, "comment", required=False), closed_at=step.now)
    step.record["rating"] = rating


def effect_reopen(step):
    if step.matter.reopened >= max_reopen():
        raise IllegalTransition(
            _("This matter has been reopened %(n)d times already; record the rating instead.")
            % {"n": step.matter.reopened},
            code="reopen_limit",
        )
    step.set(
        reopened=step.matter.reopened + 1,
        rating=Rating.UNSATISFIED,
        department=None,
        assignee=None,
        handled_at=None,
        replied_at=None,
        solved_level=None,
        handled_on_time=None,
        solved_on_spot=False,
    )
    step.notify(
        centre_staff(step.matter.handling_area),
        "matter.reopened",
        _("Matter %(code)s was reopened: the reporter is not satisfied") % {"code": step.matter.tracking_code},
    )


def effect_close(step):
    step.set(closed_at=step.now)


def effect_merge(step):
    raw = step.payload.get("parent")
    parent = None
    queryset = step.scope.filter(Matter.objects.select_related("area"), "area__path")
    if isinstance(raw, str) and raw.upper().startswith("FQ"):
        parent = queryset.filter(tracking_code=raw.upper()).first()
    elif _int_or_none(raw) is not None:
        parent = queryset.filter(pk=_int_or_none(raw)).first()
    if parent is None:
        raise InvalidPayload(_("No such matter to merge into: %(ref)s") % {"ref": raw}, field="parent")
    if parent.pk == step.matter.pk:
        raise InvalidPayload(_("A matter cannot be merged into itself."), field="parent")
    # Locked, so that it cannot be merged or closed meanwhile (two matters merged into each other at once).
    parent = Matter.objects.select_for_update().get(pk=parent.pk)
    wf = get_workflow(parent.workflow)
    if parent.parent_id is not None or wf.state(parent.state).terminal:
        raise InvalidPayload(
            _("Matter %(code)s is closed or merged itself; merge into an open one.") % {"code": parent.tracking_code},
            field="parent",
        )
    step.set(parent=parent, closed_at=step.now)
    step.record["parent"] = parent.tracking_code
    # Duplicates merged into this matter earlier follow it into the new parent.
    moved = list(Matter.objects.filter(parent=step.matter).values_list("tracking_code", flat=True))
    if moved:
        Matter.objects.filter(parent=step.matter).update(parent=parent, updated_at=timezone.now())
        step.record["children"] = moved
    MatterEvent.objects.create(
        matter=parent,
        action="merged_in",
        from_state=parent.state,
        to_state=parent.state,
        actor=step.actor,
        actor_label=audit.actor_label(step.actor),
        at=step.now,
        reason=step.reason,
        payload={"child": step.matter.tracking_code},
    )


def effect_escalate(step):
    current = step.matter.handling_area
    parent = current.parent
    above = handling_centre_area(parent) if parent is not None else None
    if above is None:
        raise IllegalTransition(_("%(level)s is the top level: there is no centre above it.") % {"level": current.name})
    step.set(handling_area=above, escalations=step.matter.escalations + 1)
    step.record.update({"from_level": current.code, "to_level": above.code})
    step.notify(
        centre_staff(above),
        "matter.escalated",
        _("Matter %(code)s was escalated to your centre") % {"code": step.matter.tracking_code},
    )


def supervising_area(actor, area):
    """The actor's own level over `area`: the deepest of their currently assigned areas that covers it (None when
    none does). Supervisions of matters and of tasks are opened at this level."""
    if actor is None or isinstance(actor, str):
        return None
    rows = AreaAssignment.objects.filter(current_q(), user=actor).select_related("area")
    covering = [r.area for r in rows if area.path.startswith(r.area.path)]
    return max(covering, key=lambda a: len(a.path)) if covering else None


def effect_supervise(step):
    due = _when(step, "due")
    if due is None:
        amount, unit, _fraction = deadlines.policy_for(step.matter, Stage.SUPERVISION)
        due = deadlines.compute(step.now, amount, unit, 0.8)[0]
    supervision = Supervision.objects.create(
        matter=step.matter,
        area=supervising_area(step.actor, step.matter.area) or step.matter.handling_area,
        supervisor=step.actor,
        note=_text(step, "note"),
        due_at=due,
    )
    step.set(supervised=True)
    step.record.update(supervision=supervision.pk, due_at=due.isoformat())
    recipients = centre_staff(step.matter.handling_area)
    for dispatch in step.matter.dispatches.filter(state__in=[Dispatch.State.PENDING, Dispatch.State.ACKNOWLEDGED]):
        recipients += dispatch_recipients(dispatch)
    step.notify(
        recipients,
        "matter.supervised",
        _("Matter %(code)s is under supervision") % {"code": step.matter.tracking_code},
        _("Due %(due)s.") % {"due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M")},
    )


def effect_supplement(step):
    """The reporter answers what the unit asked for; the unit is told and the clocks run again."""
    for dispatch in step.matter.dispatches.filter(role=Dispatch.Role.LEAD, state=Dispatch.State.ACKNOWLEDGED):
        step.notify(
            dispatch_recipients(dispatch),
            "matter.supplemented",
            _("The reporter answered on matter %(code)s") % {"code": step.matter.tracking_code},
        )


def effect_comment(step):
    """The reporter adds a remark: whoever holds the matter is told (the lead unit, else the handling centre)."""
    recipients = []
    for dispatch in step.matter.dispatches.filter(
        role=Dispatch.Role.LEAD, state__in=[Dispatch.State.PENDING, Dispatch.State.ACKNOWLEDGED]
    ):
        recipients += dispatch_recipients(dispatch)
    step.notify(
        recipients or centre_staff(step.matter.handling_area),
        "matter.commented",
        _("The reporter commented on matter %(code)s") % {"code": step.matter.tracking_code},
    )


EFFECTS = {
    "accept": effect_accept,
    "dispatch": effect_dispatch,
    "transfer": effect_transfer,
    "acknowledge": effect_acknowledge,
    "return_": effect_return,
    "request_extension": effect_request_extension,
    "decide_extension": effect_decide_extension,
    "handle": effect_handle,
    "resolve_on_spot": effect_resolve_on_spot,
    "reject_result": effect_reject_result,
    "reply": effect_reply,
    "rate": effect_rate,
    "reopen": effect_reopen,
    "close": effect_close,
    "merge": effect_merge,
    "escalate": effect_escalate,
    "supervise": effect_supervise,
    "supplement": effect_supplement,
    "comment": effect_comment,
}


# ---------------------------------------------------------------------------------------------- the engine


def check(matter, action, *, actor, scope=None, via_tracking=False, now=None) -> Step:
    """Everything `perform` checks before writing; returns the prepared step (raises a TransitionError)."""
    workflow = get_workflow(matter.workflow)
    transition = workflow.by_action.get(action)
    if transition is None:
        raise UnknownAction(
            _("Unknown action %(action)s; known: %(known)s")
            % {"action": action, "known": ", ".join(t.action for t in workflow.transitions)}
        )
    if not workflow.allows_from(transition, matter.state):
        raise IllegalTransition(
            _("Cannot %(action)s a matter that is %(state)s.")
            % {"action": transition.label, "state": workflow.state(matter.state).label}
        )
    if scope is None:
        scope = Scope.for_user(actor) if actor is not None else Scope.nothing()
    step = Step(
        matter=matter,
        workflow=workflow,
        transition=transition,
        actor=actor,
        scope=scope,
        reason="",
        payload={},
        now=now or timezone.now(),
        via_tracking=via_tracking,
    )
    if actor is None and not via_tracking:
        raise NotAllowed(_("Sign in to do this."))
    if not via_tracking and not _has_perm(step, transition.permission):
        raise NotAllowed(_("You do not have the permission to %(action)s matters.") % {"action": transition.label})
    ACTOR_RULES[transition.actor](step)
    return step


def allowed_actions(matter, *, actor, scope=None) -> list[Transition]:
    """The transitions `actor` could take now (for menus and the API's actions list); payload not checked."""
    out = []
    for transition in get_workflow(matter.workflow).transitions:
        try:
            check(matter, transition.action, actor=actor, scope=scope)
        except TransitionError:
            continue
        out.append(transition)
    return out


def perform(matter, action, *, actor, reason="", payload=None, scope=None, via_tracking=False, now=None):
    """Take one step of the matter's workflow. Returns the timeline row. Raises a TransitionError (nothing
    written) when the step is unknown, illegal in the current state, not the actor's to take, or incomplete."""
    payload = dict(payload or {})
    reason = (reason or payload.pop("reason", "") or "").strip()
    with transaction.atomic():
        locked = (
            Matter.objects.select_for_update(of=("self",))
            .select_related("area", "handling_area", "category")
            .get(pk=matter.pk)
        )
        step = check(locked, action, actor=actor, scope=scope, via_tracking=via_tracking, now=now)
        step.reason = reason
        step.payload = payload
        transition = step.transition
        for key in transition.requires:
            value = reason if key == "reason" else payload.get(key)
            if value in (None, "", [], {}):
                raise InvalidPayload(
                    _("%(field)s is required to %(action)s.") % {"field": key, "action": transition.label}, field=key
                )
        if len(reason) > 4000:
            raise InvalidPayload(_("reason is too long (at most 4000 characters)."), field="reason")
        before = locked.state
        if transition.effect:
            EFFECTS[transition.effect](step)
        after = transition.target or before
        if transition.stop:
            deadlines.stop_clocks(locked, transition.stop, now=step.now)
        for stage in transition.start:
            deadlines.start_clock(locked, stage, now=step.now)
        count_responses(step)
        _apply_state(step, before, after)
        event = MatterEvent.objects.create(
            matter=locked,
            action=action,
            from_state=before,
            to_state=after,
            actor=actor,
            actor_label=_actor_label(step),
            at=step.now,
            reason=reason,
            payload=step.record,
            public=transition.public,
        )
        audit.record(
            actor=actor if actor is not None else "reporter (tracking code)",
            action=f"matter.{action}",
            obj=locked,
            area=locked.area,
            summary=f"{locked.tracking_code} {before}→{after}",
            data={"reason": reason, **step.record},
            before={"state": before},
            after={"state": after},
            event_type=EventType.UPDATE,
        )
        _send_notices(step)
    _refresh_callers_copy(matter, locked)
    return event


def _refresh_callers_copy(matter, locked):
    """Give the caller's instance the row as it is now, related objects included (a cached `handling_area` of
    the caller's must not outlive an escalation)."""
    if matter is locked:
        return
    matter.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    matter._state.fields_cache = dict(locked._state.fields_cache)
    matter.__dict__.pop("_prefetched_objects_cache", None)


def _actor_label(step):
    if step.actor is None:
        return "reporter" if step.via_tracking else "system"
    return audit.actor_label(step.actor)


def _apply_state(step, before, after):
    matter = step.matter
    workflow = step.workflow
    if after != before:
        step.set(state=after, state_changed_at=step.now)
        was_paused = workflow.state(before).pauses_clocks
        now_paused = workflow.state(after).pauses_clocks
        if now_paused and not was_paused:
            deadlines.pause_clocks(matter, now=step.now)
        elif was_paused and not now_paused:
            deadlines.resume_clocks(matter, now=step.now)
        if workflow.state(after).terminal:
            step.set(warning="")
            _end_supervisions(step)
    refresh_warning(step)
    if step.matter_fields:
        matter.save(update_fields=sorted(step.matter_fields | {"updated_at"}))


def count_responses(step):
    """Keep the matter's response-rate counters (``Matter.response_*``, read by `matters.stats`) true to its lead
    dispatches that carry an acknowledgement deadline: recounted from those rows (one index-only query) in the
    transaction of every step, so no step that adds, acknowledges, ends or reopens a dispatch, or changes the
    lead department, can leave them behind.

    ``response_due``: acknowledged (at any time) or ended unacknowledged after the deadline; ``response_in_time``:
    acknowledged at or before it; ``response_pending_due``: the deadline of the one awaiting acknowledgement
    (the statistics count it as due once it has passed; the engine keeps at most one lead dispatch active);
    ``response_elsewhere``: one of these went to another unit than the current lead department. A dispatch ended
    unacknowledged before its deadline was never late and is not counted."""
    matter = step.matter
    due = in_time = 0
    pending = None
    elsewhere = False
    rows = Dispatch.objects.filter(matter=matter, role=Dispatch.Role.LEAD, acknowledge_due__isnull=False)
    for department_id, deadline, acknowledged, ended in rows.values_list(
        "department_id", "acknowledge_due", "acknowledged_at", "ended_at"
    ):
        if acknowledged is not None:
            due += 1
            in_time += acknowledged <= deadline
        elif ended is None:
            pending = deadline if pending is None else min(pending, deadline)
        elif deadline < ended:
            due += 1
        else:
            continue  # ended unacknowledged before its deadline (returned, withdrawn): never late
        elsewhere |= department_id != matter.department_id
    counts = {
        "response_due": due,
        "response_in_time": in_time,
        "response_pending_due": pending,
        "response_elsewhere": elsewhere,
    }
    changed = {name: value for name, value in counts.items() if getattr(matter, name) != value}
    if changed:
        step.set(**changed)


def recount_responses(matters=None, *, using=None):
    """Set the response-rate counters of `matters` (a queryset; every matter by default) from their dispatches in
    one UPDATE: what `count_responses` keeps step by step, for rows written without the engine (the bench's
    generated matters). Migration 0008 filled the existing rows the same way."""
    matters = Matter.objects.using(using).all() if matters is None else matters
    leads = Dispatch.objects.using(using).filter(
        matter=OuterRef("pk"), role=Dispatch.Role.LEAD, acknowledge_due__isnull=False
    )
    acknowledged = Q(acknowledged_at__isnull=False)
    ended_late = Q(acknowledged_at__isnull=True, ended_at__isnull=False, acknowledge_due__lt=F("ended_at"))
    pending = Q(acknowledged_at__isnull=True, ended_at__isnull=True)
    other_unit = (
        Q(department__isnull=True, matter__department__isnull=False)
        | Q(department__isnull=False, matter__department__isnull=True)
        | Q(department__lt=F("matter__department"))
        | Q(department__gt=F("matter__department"))
    )

    def count(condition):
        rows = leads.filter(condition).order_by().values("matter").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(rows), 0)

    first_pending = leads.filter(pending).order_by().values("matter").annotate(due=Min("acknowledge_due"))
    # A matter without such dispatches keeps its defaults (nothing to count).
    return matters.filter(Exists(leads)).update(
        response_due=count(acknowledged | ended_late),
        response_in_time=count(Q(acknowledged_at__lte=F("acknowledge_due"))),
        response_pending_due=Subquery(first_pending.values("due")),
        response_elsewhere=Exists(leads.filter(acknowledged | ended_late | pending).filter(other_unit)),
    )


def _end_supervisions(step):
    """A matter that reaches a terminal state needs no more supervision: open ones are done, overdue ones keep
    their state (they were late) and are closed too."""
    open_ones = step.matter.supervisions.filter(closed_at__isnull=True)
    open_ones.filter(state=Supervision.State.OPEN).update(
        state=Supervision.State.DONE, closed_at=step.now, updated_at=timezone.now()
    )
    open_ones.update(closed_at=step.now, updated_at=timezone.now())


def refresh_warning(step):
    """The matter's warning is the worst standing of its running clocks."""
    matter = step.matter
    if step.workflow.state(matter.state).terminal:
        return
    standings = set(Clock.objects.filter(matter=matter, stopped_at__isnull=True).values_list("standing", flat=True))
    warning = "red" if "red" in standings else "yellow" if "yellow" in standings else ""
    if warning != matter.warning:
        step.set(warning=warning)


def _send_notices(step):
    if not step.notices:
        return
    from fengqiao.notifications.services import notify

    for recipients, kind, title, body in step.notices:
        people = [r for r in recipients if r is not None and getattr(r, "pk", None) != getattr(step.actor, "pk", None)]
        if people:
            notify(
                people, kind=kind, title=title, body=body, target=step.matter, area=step.matter.area, actor=step.actor
            )


def new_event(matter, action, *, actor, reason="", payload=None, public=False, now=None):
    """A timeline row outside a transition (intake, the sweep's warnings)."""
    return MatterEvent.objects.create(
        matter=matter,
        action=action,
        from_state=matter.state,
        to_state=matter.state,
        actor=actor if actor is not None and not isinstance(actor, str) else None,
        actor_label=audit.actor_label(actor),
        at=now or timezone.now(),
        reason=reason,
        payload=payload or {},
        public=public,
    )


__all__ = [
    "IllegalTransition",
    "InvalidPayload",
    "NotAllowed",
    "TransitionError",
    "UnknownAction",
    "ValidationError",
    "allowed_actions",
    "check",
    "perform",
]
