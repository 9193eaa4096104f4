"""Every transition of the matter workflow, driven by its table (`workflows.MATTER`): allowed from each source state
with the right actor, refused from every other state, refused for the wrong actor and for a missing payload, and
nothing written by a refusal. Then the steps with more to them: 退单, 转办, 延期, 重办, 并单, 上报, 就地解决, 核查,
waiting for the reporter and 督办."""

import datetime

import pytest
from django.db.models import Max
from django.utils import timezone, translation

from fengqiao.audit.models import AuditEvent
from fengqiao.centres.tests.builders import make_centre
from fengqiao.matters.engine import IllegalTransition, InvalidPayload, NotAllowed, allowed_actions, perform
from fengqiao.matters.models import (
    Attachment,
    Clock,
    Dispatch,
    Extension,
    Matter,
    MatterEvent,
    Supervision,
)
from fengqiao.matters.tests.builders import (
    PATHS,
    add_evidence,
    matter_in,
    run_steps,
    staff,
    submit,
    whistle_targets,
    wrong_actors,
)
from fengqiao.matters.workflows import ANY_OPEN, MATTER
from fengqiao.notifications.models import Notification

STATES = [s.code for s in MATTER.states]
TERMINAL = MATTER.terminal()


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def w(db, settings, tmp_path):
    from fengqiao.matters.tests.builders import matter_world

    settings.MEDIA_ROOT = tmp_path
    return matter_world()


# A correct call of each action: (actor key, payload). Payload values may be callables of (w, matter).
GOOD = {
    "accept": ("centre", {}),
    "decline": ("centre", {"reason": "不属于受理范围"}),
    "dispatch": ("centre", {"targets": lambda w, m: whistle_targets(w)}),
    "transfer": ("centre", {"targets": lambda w, m: [{"department": w["town_dept"].pk}], "reason": "属镇级事权"}),
    "acknowledge": ("worker", {}),
    "report_in": ("assistant", {}),
    "return": ("worker", {"reason": "不属本部门职责"}),
    "wait_for_reporter": ("worker", {"reason": "联系不上反映人"}),
    "resume": ("worker", {}),
    "supplement": ("citizen", {"reason": "就在村口第三根电线杆旁"}),
    "request_extension": ("worker", {"reason": "需协调施工队", "amount": 3}),
    "decide_extension": ("centre", {"decision": "approve", "reason": "同意延期"}),
    "handle": ("worker", {"result": "已更换灯泡"}),
    "resolve_on_spot": ("gridder", {"result": "当场修好", "evidence": lambda w, m: [add_evidence(w, m)]}),
    "verify": ("centre", {}),
    "reject_result": ("centre", {"reason": "现场未修复"}),
    "reply": ("centre", {"reply": "已修复，感谢反映"}),
    "rate": ("citizen", {"rating": "satisfied"}),
    "revisit": ("centre", {"rating": "basically"}),
    "reopen": ("citizen", {"reason": "仍未修好"}),
    "close": ("centre", {"reason": "多次联系不上反映人"}),
    "merge": ("centre", {"parent": lambda w, m: submit(w, title="同一路灯").tracking_code}),
    "escalate": ("centre", {"reason": "需县级协调"}),
    "supervise": ("leader", {"note": "请加快办理"}),
    "note": ("centre", {"reason": "已电话联系反映人"}),
    "comment": ("citizen", {"reason": "路灯今晚又不亮了"}),
}
# Steps a transition needs before it, in any of its source states.
PREPARE = {"decide_extension": [("request_extension", "worker", {"reason": "需协调施工队", "amount": 3})]}
# Users each actor rule must refuse (besides anonymous, and a user without the permission).
WRONG = {
    "centre": ["other_centre", "worker"],
    "lead_worker": ["town_worker", "assistant", "centre"],
    "assist_worker": ["town_worker", "worker"],
    "grid": ["other_gridder", "worker"],
    "reporter": ["other_citizen", "centre"],
    "reporter_or_centre": ["other_citizen", "other_centre", "worker"],
    "supervisor": ["other_leader", "centre"],
    "staff": ["other_centre", "other_citizen"],
}


def test_the_tables_cover_every_transition_and_rule():
    from fengqiao.matters.engine import ACTOR_RULES, EFFECTS

    assert set(GOOD) == set(MATTER.by_action)
    assert {t.actor for t in MATTER.transitions} <= set(WRONG) & set(ACTOR_RULES)
    assert {t.effect for t in MATTER.transitions if t.effect} <= set(EFFECTS)


def sources(transition):
    return [s for s in STATES if MATTER.allows_from(transition, s)]


def allowed_pairs():
    return [(t.action, s) for t in MATTER.transitions for s in sources(t)]


def values(w, matter, payload):
    return {k: (v(w, matter) if callable(v) else v) for k, v in payload.items()}


def snapshot(matter):
    """Everything a step could write, to prove a refusal wrote nothing."""
    return {
        "matter": Matter.objects.filter(pk=matter.pk).values().get(),
        "matters": Matter.objects.count(),
        "events": MatterEvent.objects.aggregate(n=Max("id"))["n"],
        "audit": AuditEvent.objects.aggregate(n=Max("id"))["n"],
        "clocks": list(Clock.objects.filter(matter=matter).order_by("id").values()),
        "dispatches": list(Dispatch.objects.filter(matter=matter).order_by("id").values()),
        "extensions": list(Extension.objects.filter(matter=matter).order_by("id").values()),
        "supervisions": list(Supervision.objects.order_by("id").values()),
        "attachments": list(Attachment.objects.filter(matter=matter).order_by("id").values()),
        "notifications": Notification.objects.count(),
    }


# ------------------------------------------------------------------------------------------- allowed, table-driven


@pytest.mark.parametrize(("action", "source"), allowed_pairs())
def test_allowed_from_each_source_state_with_the_right_actor(w, action, source):
    transition = MATTER.by_action[action]
    matter = matter_in(w, source)
    run_steps(w, matter, PREPARE.get(action, []))
    who, payload = GOOD[action]
    payload = values(w, matter, payload)
    assert transition in allowed_actions(matter, actor=w[who])
    now = timezone.now()
    event = perform(matter, action, actor=w[who], payload=payload, now=now)

    target = transition.target or source
    matter.refresh_from_db()
    assert matter.state == target
    assert (event.action, event.from_state, event.to_state, event.actor) == (action, source, target, w[who])
    assert event.at == now and event.public == transition.public
    audit = AuditEvent.objects.filter(action=f"matter.{action}", object_id=str(matter.pk)).get()
    assert audit.summary == f"{matter.tracking_code} {source}→{target}"

    running = Clock.objects.filter(matter=matter, stopped_at__isnull=True)
    for stage in transition.start:  # the declared clocks run, started now
        assert running.filter(stage=stage, dispatch=None, started_at=now).count() == 1, stage
    if "*" in transition.stop:  # every clock stopped, but those the step starts
        assert all(c.started_at == now for c in running), list(running.values("stage", "started_at"))
    for stage in transition.stop:
        assert all(c.started_at == now for c in running.filter(stage=stage)), stage
    if MATTER.state(target).pauses_clocks:
        assert running.exists() and not running.filter(paused_at__isnull=True).exists()
    elif target in TERMINAL:
        assert not running.exists() and matter.warning == ""
    else:
        assert not running.filter(paused_at__isnull=False).exists()


# ------------------------------------------------------------------------------------------- refused, table-driven


@pytest.mark.parametrize("state", STATES)
def test_every_transition_not_declared_from_a_state_is_refused_and_writes_nothing(w, state):
    matter = matter_in(w, state)
    refused = [t for t in MATTER.transitions if not MATTER.allows_from(t, state)]
    if state in TERMINAL:
        assert len(refused) == len(MATTER.transitions)  # nothing leaves a terminal state
    assert refused
    offered = {
        t.action
        for role in ("centre", "worker", "assistant", "gridder", "citizen", "leader")
        for t in allowed_actions(matter, actor=w[role])
    }
    assert not offered & {t.action for t in refused}
    failures = []
    for transition in refused:
        who, payload = GOOD[transition.action]
        payload = values(w, matter, payload)
        before = snapshot(matter)
        try:
            perform(matter, transition.action, actor=w[who], payload=payload)
        except IllegalTransition as exc:
            if "Cannot" not in exc.message:
                failures.append(f"{transition.action}: {exc.message}")
        except Exception as exc:  # collected and reported below
            failures.append(f"{transition.action}: {type(exc).__name__} {exc}")
        else:
            failures.append(f"{transition.action}: allowed from {state}")
        if snapshot(matter) != before:
            failures.append(f"{transition.action}: a refusal from {state} wrote something")
    assert not failures, failures


@pytest.mark.parametrize("action", list(MATTER.by_action))
def test_refused_for_a_wrong_actor_and_for_a_missing_payload(w, action):
    wrong_actors(w)
    transition = MATTER.by_action[action]
    source = sources(transition)[0]
    matter = matter_in(w, source)
    run_steps(w, matter, PREPARE.get(action, []))
    who, payload = GOOD[action]
    payload = values(w, matter, payload)
    refused = [*WRONG[transition.actor], None] + (["bare"] if transition.permission else [])
    for key in refused:
        before = snapshot(matter)
        with pytest.raises(NotAllowed):
            perform(matter, action, actor=w[key] if key else None, payload=payload)
        assert snapshot(matter) == before, key
    if transition.actor not in ("reporter", "reporter_or_centre"):  # a tracking code only rates and reopens
        before = snapshot(matter)
        with pytest.raises(NotAllowed):
            perform(matter, action, actor=None, via_tracking=True, payload=payload)
        assert snapshot(matter) == before
    for field in transition.requires:
        incomplete = {k: v for k, v in payload.items() if k != field}
        before = snapshot(matter)
        with pytest.raises(InvalidPayload) as refusal:
            perform(matter, action, actor=w[who], payload=incomplete)
        assert refusal.value.field == field
        assert field in refusal.value.message
        assert snapshot(matter) == before, field


def test_a_user_without_the_permission_is_told_so(w):
    wrong_actors(w)
    matter = submit(w)
    with pytest.raises(NotAllowed, match="permission to accept"):
        perform(matter, "accept", actor=w["bare"])


def test_an_unknown_action_is_refused(w):
    from fengqiao.matters.engine import UnknownAction

    matter = submit(w)
    with pytest.raises(UnknownAction, match="Unknown action fly"):
        perform(matter, "fly", actor=w["centre"])


def test_blank_text_is_missing_text(w):
    matter = matter_in(w, "in_progress")
    before = snapshot(matter)
    with pytest.raises(InvalidPayload) as refusal:
        perform(matter, "handle", actor=w["worker"], payload={"result": "   "})
    assert refusal.value.field == "result"
    assert snapshot(matter) == before


# ------------------------------------------------------------------------------------------- the steps in detail


def test_a_returned_matter_goes_back_to_the_centre_and_is_dispatched_again(w):
    matter = matter_in(w, "in_progress")
    perform(matter, "return", actor=w["worker"], payload={"reason": "属镇级事权"})
    assert matter.state == "accepted" and matter.department is None
    states = dict(Dispatch.objects.filter(matter=matter).values_list("department__code", "state"))
    assert states == {"zjj": "returned", "sw": "withdrawn"}
    running = Clock.objects.filter(matter=matter, stopped_at__isnull=True)
    assert list(running.values_list("stage", flat=True)) == ["dispatch"]
    assert Notification.objects.filter(recipient=w["centre"], kind="matter.returned").exists()
    with pytest.raises(IllegalTransition):  # nothing to handle before it is dispatched again
        perform(matter, "handle", actor=w["worker"], payload={"result": "x"})
    perform(matter, "dispatch", actor=w["centre"], payload={"targets": [{"department": w["town_dept"].pk}]})
    assert matter.state == "dispatched" and matter.department == w["town_dept"]
    perform(matter, "acknowledge", actor=w["town_worker"])
    perform(matter, "handle", actor=w["town_worker"], payload={"result": "已处理"})
    assert matter.state == "handled"


def test_a_transfer_withdraws_the_old_units_and_restarts_the_handling_clock(w):
    matter = matter_in(w, "in_progress")
    old_handle = Clock.objects.get(matter=matter, stage="handle", stopped_at__isnull=True)
    later = timezone.now() + datetime.timedelta(hours=1)
    perform(
        matter,
        "transfer",
        actor=w["centre"],
        payload={"targets": [{"department": w["town_dept"].pk}], "reason": "属镇级事权"},
        now=later,
    )
    assert matter.state == "dispatched"
    assert matter.department == w["town_dept"] and matter.acknowledged_at is None
    assert sorted(Dispatch.objects.filter(matter=matter).values_list("department__code", "state")) == [
        ("cgb", "pending"),
        ("sw", "withdrawn"),
        ("zjj", "withdrawn"),
    ]
    old_handle.refresh_from_db()
    assert old_handle.stopped_at == later
    running = Clock.objects.filter(matter=matter, stopped_at__isnull=True)
    assert sorted(running.values_list("stage", "started_at")) == [("acknowledge", later), ("handle", later)]
    for user in (w["worker"], w["assistant"]):
        with pytest.raises(NotAllowed):
            perform(matter, "report_in", actor=user)
    perform(matter, "acknowledge", actor=w["town_worker"])
    assert matter.state == "in_progress"


def test_an_approved_extension_moves_the_handling_deadline(w):
    matter = matter_in(w, "in_progress")
    clock = Clock.objects.get(matter=matter, stage="handle", stopped_at__isnull=True)
    perform(matter, "request_extension", actor=w["worker"], payload={"reason": "需协调施工队", "amount": 2})
    with pytest.raises(IllegalTransition, match="already pending"):
        perform(matter, "request_extension", actor=w["worker"], payload={"reason": "再延", "amount": 1})
    with pytest.raises(InvalidPayload) as refusal:
        perform(matter, "decide_extension", actor=w["centre"], payload={"decision": "maybe"})
    assert refusal.value.field == "decision"
    with pytest.raises(NotAllowed):  # the department cannot grant itself more time
        perform(matter, "decide_extension", actor=w["worker"], payload={"decision": "approve"})
    perform(matter, "decide_extension", actor=w["centre"], payload={"decision": "approve"}, reason="同意")
    extension = Extension.objects.get(matter=matter)
    assert (extension.state, extension.decided_by, extension.amount) == ("approved", w["centre"], 2)
    old_due = clock.due_at
    clock.refresh_from_db()
    assert clock.extended == 1 and clock.stopped_at is None
    from fengqiao.workdays.calendar import deadline

    # 2 more working days counted from the last day of the old limit (24:00 is stored as 00:00 of the next day).
    assert clock.due_at == deadline(old_due - datetime.timedelta(microseconds=1), 2, "working_days").due
    assert clock.due_at > old_due
    assert Notification.objects.filter(recipient=w["worker"], kind="matter.extension_decided").exists()
    with pytest.raises(IllegalTransition, match="no pending extension"):
        perform(matter, "decide_extension", actor=w["centre"], payload={"decision": "approve"})


def test_a_refused_extension_leaves_the_deadline(w):
    matter = matter_in(w, "dispatched")
    due = Clock.objects.get(matter=matter, stage="handle", stopped_at__isnull=True).due_at
    perform(matter, "request_extension", actor=w["worker"], payload={"reason": "需协调", "amount": 5})
    perform(matter, "decide_extension", actor=w["centre"], payload={"decision": "refuse"}, reason="不予延期")
    assert Extension.objects.get(matter=matter).state == "refused"
    clock = Clock.objects.get(matter=matter, stage="handle", stopped_at__isnull=True)
    assert clock.due_at == due and clock.extended == 0
    # A new request is possible once the last one is decided.
    perform(matter, "request_extension", actor=w["worker"], payload={"reason": "确需延期", "amount": 1})


@pytest.mark.parametrize("amount", [0, -1, "three", 61])
def test_an_extension_of_a_strange_length_is_refused(w, amount):
    matter = matter_in(w, "in_progress")
    before = snapshot(matter)
    with pytest.raises(InvalidPayload) as refusal:
        perform(matter, "request_extension", actor=w["worker"], payload={"reason": "x", "amount": amount})
    assert refusal.value.field == "amount"
    assert snapshot(matter) == before


def test_an_unsatisfied_reporter_reopens_the_matter_up_to_the_limit(w, settings):
    settings.FENGQIAO_MAX_REOPEN = 1
    matter = matter_in(w, "replied")
    with pytest.raises(IllegalTransition) as refusal:
        perform(matter, "rate", actor=w["citizen"], payload={"rating": "unsatisfied"})
    assert refusal.value.code == "reopen_instead"
    perform(matter, "reopen", actor=w["citizen"], payload={"reason": "仍未修好"})
    assert (matter.state, matter.reopened, matter.rating) == ("accepted", 1, "unsatisfied")
    assert matter.department is None and matter.handled_at is None and matter.solved_level is None
    assert list(Clock.objects.filter(matter=matter, stopped_at__isnull=True).values_list("stage", flat=True)) == [
        "dispatch"
    ]
    assert Notification.objects.filter(recipient=w["centre"], kind="matter.reopened").exists()
    # 重办: the whole loop once more.
    run_steps(w, matter, PATHS["replied"][1:])
    assert matter.state == "replied"
    with pytest.raises(IllegalTransition) as refusal:
        perform(matter, "reopen", actor=w["citizen"], payload={"reason": "还是不行"})
    assert refusal.value.code == "reopen_limit"
    perform(matter, "rate", actor=w["citizen"], payload={"rating": "unsatisfied", "comment": "不满意"})
    assert (matter.state, matter.rating) == ("closed", "unsatisfied")


def test_the_centre_can_reopen_and_a_stranger_cannot(w):
    wrong_actors(w)
    matter = matter_in(w, "replied")
    with pytest.raises(NotAllowed):
        perform(matter, "reopen", actor=w["other_citizen"], payload={"reason": "x"})
    perform(matter, "reopen", actor=w["centre"], payload={"reason": "回访不满意"})
    assert matter.reopened == 1


def test_the_reporter_rates_through_the_tracking_code(w):
    matter = matter_in(w, "replied")
    event = perform(matter, "rate", actor=None, via_tracking=True, payload={"rating": "basically"})
    assert event.actor_label == "reporter" and matter.state == "closed"
    assert AuditEvent.objects.filter(action="matter.rate", actor_label="reporter (tracking code)").exists()


def test_a_duplicate_is_merged_into_its_parent(w):
    parent = submit(w, title="路灯不亮（首报）")
    child = submit(w)
    perform(child, "merge", actor=w["centre"], payload={"parent": parent.tracking_code.lower()}, reason="重复")
    assert (child.state, child.parent, child.closed_at is not None) == ("merged", parent, True)
    assert not Clock.objects.filter(matter=child, stopped_at__isnull=True).exists()
    row = MatterEvent.objects.get(matter=parent, action="merged_in")
    assert row.payload == {"child": child.tracking_code} and row.from_state == row.to_state == "submitted"
    assert MatterEvent.objects.get(matter=child, action="merge").payload == {"parent": parent.tracking_code}
    # A merged matter can take no more duplicates, and a matter's own duplicates follow it into the new parent.
    third = submit(w)
    with pytest.raises(InvalidPayload) as refusal:
        perform(third, "merge", actor=w["centre"], payload={"parent": child.tracking_code})
    assert refusal.value.field == "parent"
    grand = submit(w, title="更早的首报")
    perform(parent, "merge", actor=w["centre"], payload={"parent": grand.pk})
    child.refresh_from_db()
    assert child.parent == grand


def test_a_matter_cannot_be_merged_into_itself_a_closed_one_or_one_out_of_reach(w):
    matter = submit(w)
    closed = matter_in(w, "declined")
    other = submit(w, lon=None, lat=None, area=w["other_village"])
    for parent, message in (
        (matter.tracking_code, "into itself"),
        (closed.tracking_code, "closed or merged"),
        (other.tracking_code, "No such matter"),  # another town's: outside the centre's scope
        ("FQNOTACODE", "No such matter"),
        ("", "parent is required"),
    ):
        before = snapshot(matter)
        with pytest.raises(InvalidPayload, match=message) as refusal:
            perform(matter, "merge", actor=w["centre"], payload={"parent": parent})
        assert refusal.value.field == "parent"
        assert snapshot(matter) == before


def test_escalation_climbs_village_town_county_city_and_stops_at_the_top(w):
    from fengqiao.accounts.models import Role
    from fengqiao.matters.tests.builders import CENTRE_PERMS

    chain = w["chain"]
    make_centre(chain["village"])
    make_centre(chain["city"])
    village_staff = staff("village-centre", chain["village"], Role.CENTRE_STAFF, CENTRE_PERMS)
    city_staff = staff("city-centre", chain["city"], Role.CENTRE_STAFF, CENTRE_PERMS)
    matter = submit(w)
    assert matter.handling_area == chain["village"]
    for user, above in ((village_staff, "town"), (w["centre"], "county"), (w["county_staff"], "city")):
        perform(matter, "escalate", actor=user, payload={"reason": "本级无法解决"})
        assert matter.handling_area == chain[above]
        assert Matter.objects.get(pk=matter.pk).handling_area == chain[above]
        with pytest.raises(NotAllowed):  # the level below has handed it on
            perform(matter, "accept", actor=user)
    assert matter.escalations == 3 and matter.state == "submitted"
    assert Notification.objects.filter(recipient=city_staff, kind="matter.escalated").exists()
    rows = MatterEvent.objects.filter(matter=matter, action="escalate")
    assert [r.payload["to_level"] for r in rows] == [chain[k].code for k in ("town", "county", "city")]
    before = snapshot(matter)
    with pytest.raises(IllegalTransition, match="top level"):
        perform(matter, "escalate", actor=city_staff, payload={"reason": "市级也解决不了"})
    assert snapshot(matter) == before
    perform(matter, "accept", actor=city_staff)
    perform(matter, "dispatch", actor=city_staff, payload={"targets": [{"department": w["dept"].pk}]})
    perform(matter, "acknowledge", actor=w["worker"])
    perform(matter, "handle", actor=w["worker"], payload={"result": "市级协调解决"})
    assert matter.solved_level == chain["city"].level


def test_a_grid_member_resolves_on_the_spot_with_a_photo(w):
    matter = submit(w)
    before = snapshot(matter)
    with pytest.raises(InvalidPayload, match="at least one photo") as refusal:
        perform(matter, "resolve_on_spot", actor=w["gridder"], payload={"result": "当场修好"})
    assert refusal.value.field == "evidence"
    assert snapshot(matter) == before
    stranger = add_evidence(w, submit(w, title="别的事项"))
    with pytest.raises(InvalidPayload) as refusal:
        perform(matter, "resolve_on_spot", actor=w["gridder"], payload={"result": "x", "evidence": [stranger]})
    assert refusal.value.field == "evidence"
    photo = add_evidence(w, matter)
    perform(matter, "resolve_on_spot", actor=w["gridder"], payload={"result": "当场修好", "evidence": [photo]})
    assert matter.state == "handled" and matter.solved_on_spot
    assert matter.solved_level == w["chain"]["village"].level and matter.assignee == w["gridder"]
    assert Attachment.objects.get(pk=photo).purpose == "evidence"
    dispatch = Dispatch.objects.get(matter=matter)
    assert (dispatch.assignee, dispatch.state, dispatch.role) == (w["gridder"], "done", "lead")
    assert list(Clock.objects.filter(matter=matter, stopped_at__isnull=True).values_list("stage", flat=True)) == [
        "reply"
    ]
    # 核查不通过: back to the grid member who handled it.
    perform(matter, "reject_result", actor=w["centre"], payload={"reason": "灯仍不亮"})
    assert matter.state == "in_progress" and not matter.solved_on_spot
    perform(matter, "handle", actor=w["gridder"], payload={"result": "换了整套灯具"})
    assert matter.state == "handled"


def test_a_failed_verification_sends_it_back_to_the_lead_unit(w):
    matter = matter_in(w, "handled")
    perform(matter, "reject_result", actor=w["centre"], payload={"reason": "现场未修复"})
    assert matter.state == "in_progress" and matter.handled_at is None and matter.solved_level is None
    lead = Dispatch.objects.get(matter=matter, role="lead")
    assert lead.state == "acknowledged" and lead.ended_at is None
    running = Clock.objects.filter(matter=matter, stopped_at__isnull=True)
    assert list(running.values_list("stage", flat=True)) == ["handle"]
    assert Notification.objects.filter(recipient=w["worker"], kind="matter.result_rejected").exists()
    with pytest.raises(NotAllowed):  # the assisting unit was not the one that handled it
        perform(matter, "handle", actor=w["assistant"], payload={"result": "x"})
    perform(matter, "handle", actor=w["worker"], payload={"result": "重新修复"})
    perform(matter, "verify", actor=w["centre"])
    assert matter.state == "verified"


def test_waiting_for_the_reporter_pauses_the_clocks_and_resuming_pushes_them(w):
    start = timezone.now()
    matter = matter_in(w, "in_progress", now=start)
    handle = Clock.objects.get(matter=matter, stage="handle", stopped_at__isnull=True)
    paused_at = start + datetime.timedelta(hours=1)
    perform(matter, "wait_for_reporter", actor=w["worker"], payload={"reason": "联系不上"}, now=paused_at)
    assert set(Clock.objects.filter(matter=matter, stopped_at__isnull=True).values_list("paused_at", flat=True)) == {
        paused_at
    }
    resumed = paused_at + datetime.timedelta(days=9)
    perform(matter, "resume", actor=w["worker"], now=resumed)
    from fengqiao.workdays.calendar import extend

    expected = extend(handle.due_at, paused_at, resumed, handle.unit)
    handle.refresh_from_db()
    assert handle.paused_at is None and handle.due_at == expected.due and handle.due_at > resumed
    assert matter.state == "in_progress"


def test_the_lead_unit_cannot_jam_the_matter_by_reporting_in(w):
    matter = matter_in(w, "dispatched")
    with pytest.raises(NotAllowed):
        perform(matter, "report_in", actor=w["worker"])
    perform(matter, "report_in", actor=w["assistant"])
    with pytest.raises(IllegalTransition, match="already"):
        perform(matter, "report_in", actor=w["assistant"])
    perform(matter, "acknowledge", actor=w["worker"])
    assert matter.state == "in_progress"
    assert set(Dispatch.objects.filter(matter=matter).values_list("state", flat=True)) == {"acknowledged"}


def test_a_grid_member_can_be_the_lead_unit(w):
    matter = matter_in(w, "accepted")
    perform(matter, "dispatch", actor=w["centre"], payload={"targets": [{"assignee": w["gridder"].pk}]})
    assert matter.assignee == w["gridder"] and matter.department is None
    perform(matter, "acknowledge", actor=w["gridder"])
    perform(matter, "handle", actor=w["gridder"], payload={"result": "已处理"})
    assert matter.state == "handled"


def test_a_leader_supervises_a_matter(w):
    matter = matter_in(w, "in_progress")
    due = timezone.now() + datetime.timedelta(days=2)
    perform(matter, "supervise", actor=w["leader"], payload={"note": "请三日内办结", "due": due.isoformat()})
    supervision = Supervision.objects.get(matter=matter)
    assert (supervision.area, supervision.supervisor, supervision.automatic) == (
        w["chain"]["county"],
        w["leader"],
        False,
    )
    assert supervision.due_at == due and supervision.note == "请三日内办结" and supervision.state == "open"
    assert matter.supervised and matter.state == "in_progress"
    told = set(Notification.objects.filter(kind="matter.supervised").values_list("recipient__username", flat=True))
    assert told == {"town-centre", "zjj-staff", "sw-staff"}
    with pytest.raises(InvalidPayload) as refusal:
        perform(matter, "supervise", actor=w["leader"], payload={"note": "x", "due": "2020-01-01"})
    assert refusal.value.field == "due"
    # Closing the matter ends its open supervisions.
    run_steps(w, matter, PATHS["closed"][len(PATHS["in_progress"]) :])
    supervision.refresh_from_db()
    assert supervision.state == "done" and supervision.closed_at is not None


def test_without_a_due_time_a_supervision_takes_the_policy(w):
    matter = submit(w)
    now = timezone.now()
    perform(matter, "supervise", actor=w["leader"], payload={"note": "关注"}, now=now)
    from fengqiao.workdays.calendar import deadline

    assert Supervision.objects.get(matter=matter).due_at == deadline(now, 3, "working_days").due


def test_perform_refreshes_the_callers_object_including_related_objects(w):
    matter = submit(w)
    assert matter.handling_area == w["chain"]["town"]  # cached on the instance
    perform(matter, "escalate", actor=w["centre"], payload={"reason": "需县级协调"})
    assert matter.handling_area_id == w["chain"]["county"].pk
    assert matter.handling_area == w["chain"]["county"]


def test_any_open_marks_the_notes_and_supervision():
    assert MATTER.by_action["note"].sources == (ANY_OPEN,)
    assert [s for s in STATES if MATTER.allows_from(MATTER.by_action["note"], s)] == [
        s for s in STATES if s not in TERMINAL
    ]


def test_a_pending_extension_lapses_when_the_unit_returns_the_matter(db):
    from fengqiao.matters.engine import perform
    from fengqiao.matters.models import Extension
    from fengqiao.matters.tests.builders import matter_world, submit

    w = matter_world()
    matter = submit(w)
    perform(matter, "accept", actor=w["centre"])
    perform(matter, "dispatch", actor=w["centre"], payload={"targets": [{"department": w["dept"].pk}]})
    perform(matter, "acknowledge", actor=w["worker"])
    perform(matter, "request_extension", actor=w["worker"], reason="需协调", payload={"amount": 3})
    perform(matter, "return", actor=w["worker"], reason="不属本部门职责")
    assert Extension.objects.get(matter=matter).state == Extension.State.REFUSED
