"""The whole closed loop through the engine, step by step, and the steps it refuses."""

import pytest

from fengqiao.matters.engine import IllegalTransition, InvalidPayload, NotAllowed, allowed_actions, perform
from fengqiao.matters.models import Clock, Dispatch, MatterEvent
from fengqiao.matters.tests.builders import matter_world, submit


@pytest.fixture
def w(db):
    return matter_world()


def test_full_loop_from_intake_to_rating(w):
    matter = submit(w)
    assert matter.state == "submitted"
    assert matter.grid == w["grid"]
    assert matter.handling_area == w["chain"]["town"]
    perform(matter, "accept", actor=w["centre"], payload={"category": "M-road"})
    perform(matter, "dispatch", actor=w["centre"], payload={"targets": [{"department": w["dept"].pk}]})
    assert matter.state == "dispatched" and matter.department == w["dept"]
    perform(matter, "acknowledge", actor=w["worker"])
    perform(matter, "handle", actor=w["worker"], payload={"result": "已更换灯泡"})
    assert matter.solved_level == w["chain"]["town"].level
    assert matter.handled_on_time is True
    perform(matter, "verify", actor=w["centre"])
    perform(matter, "reply", actor=w["centre"], payload={"reply": "已修复，感谢反映"})
    perform(matter, "rate", actor=w["citizen"], payload={"rating": "satisfied"})
    assert matter.state == "closed"
    actions = list(MatterEvent.objects.filter(matter=matter).values_list("action", flat=True))
    assert actions == ["submit", "accept", "dispatch", "acknowledge", "handle", "verify", "reply", "rate"]
    assert not Clock.objects.filter(matter=matter, stopped_at__isnull=True).exists()


def test_refusals_change_nothing(w):
    matter = submit(w)
    with pytest.raises(IllegalTransition):
        perform(matter, "handle", actor=w["worker"], payload={"result": "x"})
    with pytest.raises(NotAllowed):
        perform(matter, "accept", actor=w["other_centre"])
    perform(matter, "accept", actor=w["centre"])
    perform(matter, "dispatch", actor=w["centre"], payload={"targets": [{"department": w["dept"].pk}]})
    with pytest.raises(NotAllowed):
        perform(matter, "acknowledge", actor=w["town_worker"])
    with pytest.raises(InvalidPayload):
        perform(matter, "return", actor=w["worker"])
    events = MatterEvent.objects.filter(matter=matter).count()
    with pytest.raises(IllegalTransition):
        perform(matter, "rate", actor=w["citizen"], payload={"rating": "satisfied"})
    assert MatterEvent.objects.filter(matter=matter).count() == events
    assert {t.action for t in allowed_actions(matter, actor=w["worker"])} >= {"acknowledge", "return"}


def test_whistle_calls_several_departments(w):
    matter = submit(w)
    perform(matter, "accept", actor=w["centre"])
    perform(
        matter,
        "dispatch",
        actor=w["centre"],
        payload={"targets": [{"department": w["dept"].pk}, {"department": w["assist_dept"].pk, "role": "assist"}]},
    )
    assert Dispatch.objects.filter(matter=matter, state="pending").count() == 2
    assert Clock.objects.filter(matter=matter, stage="acknowledge", stopped_at__isnull=True).count() == 2
    perform(matter, "report_in", actor=w["assistant"])
    with pytest.raises(NotAllowed):
        perform(matter, "acknowledge", actor=w["assistant"])
    perform(matter, "acknowledge", actor=w["worker"])
    with pytest.raises(NotAllowed):
        perform(matter, "handle", actor=w["assistant"], payload={"result": "x"})
    assert not Clock.objects.filter(matter=matter, stage="acknowledge", stopped_at__isnull=True).exists()
