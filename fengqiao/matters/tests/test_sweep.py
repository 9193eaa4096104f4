"""The deadline sweep: yellow at the warning time, red at the due time with an automatic supervision by the level
above (once per clock, however often and however many sweeps run), overdue supervisions and tasks flagged once,
and notifications that leave only when the sweep's transaction commits."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone, translation

from fengqiao.accounts.scope import Scope
from fengqiao.audit.models import AuditEvent
from fengqiao.matters import sweep
from fengqiao.matters import tasks as task_services
from fengqiao.matters.engine import perform
from fengqiao.matters.models import Clock, Matter, MatterEvent, Supervision, Task
from fengqiao.matters.tests.builders import PATHS, matter_world, run_steps, submit
from fengqiao.notifications.models import Notification
from fengqiao.workdays.calendar import deadline
from fengqiao.workdays.tests.builders import at

T0 = at("2026-09-30 10:00")  # dispatched: acknowledge by 1 Oct 10:00 (warn 05:12), handle by 24:00 13 Oct
ACK_WARN, ACK_DUE = at("2026-10-01 05:12"), at("2026-10-01 10:00")
HANDLE_WARN, HANDLE_DUE = at("2026-10-12 21:12"), at("2026-10-14 00:00")
SECOND = datetime.timedelta(seconds=1)
NOTHING = {"overdue": 0, "warned": 0, "supervisions_overdue": 0, "tasks_overdue": 0}


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def w(db):
    return matter_world()


def dispatched(w, when=T0):
    matter = submit(w)
    perform(matter, "accept", actor=w["centre"], now=when)
    perform(matter, "dispatch", actor=w["centre"], payload={"targets": [{"department": w["dept"].pk}]}, now=when)
    return matter


def told(kind):
    return set(Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True))


def rows(matter, action):
    return list(MatterEvent.objects.filter(matter=matter, action=action))


def test_a_clock_turns_yellow_at_its_warning_time(w):
    matter = dispatched(w)
    assert sweep.sweep(now=ACK_WARN - SECOND) == NOTHING
    assert sweep.sweep(now=ACK_WARN) == NOTHING | {"warned": 1}
    ack = Clock.objects.get(matter=matter, stage="acknowledge")
    assert (ack.standing, ack.warned_at) == ("yellow", ACK_WARN)
    assert Clock.objects.get(matter=matter, stage="handle").standing == ""
    matter.refresh_from_db()
    assert matter.warning == "yellow" and not matter.was_overdue
    (row,) = rows(matter, "deadline_warning")
    assert row.payload["stage"] == "acknowledge" and row.actor_label == ACTOR
    assert datetime.datetime.fromisoformat(row.payload["due_at"]) == ACK_DUE
    assert told("matter.deadline_warning") == {"zjj-staff", "town-centre"}
    assert sweep.sweep(now=ACK_WARN + SECOND) == NOTHING  # once
    assert len(rows(matter, "deadline_warning")) == 1


ACTOR = sweep.ACTOR


def test_a_clock_turns_red_at_its_due_time_and_the_level_above_supervises(w):
    matter = dispatched(w)
    perform(matter, "acknowledge", actor=w["worker"], now=T0 + datetime.timedelta(hours=1))
    assert sweep.sweep(now=HANDLE_WARN) == NOTHING | {"warned": 1}
    assert sweep.sweep(now=HANDLE_DUE - SECOND) == NOTHING
    assert sweep.sweep(now=HANDLE_DUE) == NOTHING | {"overdue": 1}
    handle = Clock.objects.get(matter=matter, stage="handle")
    assert (handle.standing, handle.overdue_at, handle.warned_at) == ("red", HANDLE_DUE, HANDLE_WARN)
    matter.refresh_from_db()
    assert (matter.warning, matter.was_overdue, matter.supervised) == ("red", True, True)
    supervision = Supervision.objects.get(matter=matter)
    # The town's centre owns the matter: the county's supervises it, 3 working days by the default policy.
    assert (supervision.area, supervision.automatic, supervision.state) == (w["chain"]["county"], True, "open")
    assert supervision.due_at == deadline(HANDLE_DUE, 3, "working_days").due
    (row,) = rows(matter, "overdue")
    assert row.payload["supervising_level"] == w["chain"]["county"].code
    assert row.payload["supervision"] == supervision.pk
    assert AuditEvent.objects.filter(action="matter.overdue", object_id=str(matter.pk), actor_label=ACTOR).count() == 1
    assert told("matter.overdue") == {"zjj-staff", "town-centre", "county-centre"}


def test_a_clock_past_both_times_goes_straight_to_red(w):
    matter = dispatched(w)
    assert sweep.sweep(now=ACK_DUE) == NOTHING | {"overdue": 1}
    assert Clock.objects.get(matter=matter, stage="acknowledge").warned_at == ACK_DUE
    assert rows(matter, "deadline_warning") == [] and len(rows(matter, "overdue")) == 1


def test_sweeping_again_changes_nothing(w):
    matters = [dispatched(w) for _ in range(3)]
    first = sweep.sweep(now=HANDLE_DUE)
    assert first == NOTHING | {"overdue": 6}  # the acknowledgement and the handling clock of each
    counts = (Supervision.objects.count(), MatterEvent.objects.count(), Notification.objects.count())
    assert sweep.sweep(now=HANDLE_DUE) == NOTHING
    assert sweep.sweep(now=HANDLE_DUE + datetime.timedelta(days=1)) == NOTHING
    assert sweep._overdue(HANDLE_DUE) == 0 and sweep._warn(HANDLE_DUE) == 0
    assert (Supervision.objects.count(), MatterEvent.objects.count(), Notification.objects.count()) == counts
    for matter in matters:
        assert Supervision.objects.filter(matter=matter, automatic=True).count() == 2  # one per clock
        assert len(rows(matter, "overdue")) == 2


def test_a_paused_clock_is_not_swept_and_a_stopped_one_neither(w):
    waiting = dispatched(w)
    perform(waiting, "acknowledge", actor=w["worker"], now=T0)
    perform(waiting, "wait_for_reporter", actor=w["worker"], payload={"reason": "联系不上"}, now=T0)
    assert sweep.sweep(now=HANDLE_DUE + datetime.timedelta(days=30)) == NOTHING
    assert not Supervision.objects.exists()


def test_a_matter_at_the_top_centre_is_supervised_at_its_own_level(w):
    matter = submit(w)
    perform(matter, "escalate", actor=w["centre"], payload={"reason": "需县级协调"}, now=T0)
    perform(matter, "accept", actor=w["county_staff"], now=T0)
    assert sweep.sweep(now=at("2026-10-09 00:00")) == NOTHING | {"overdue": 1}  # the dispatch clock
    assert Supervision.objects.get(matter=matter).area == w["chain"]["county"]  # no centre above the county here


def test_notifications_are_written_with_the_sweep_and_sent_after_it_commits(w, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    dispatched(w)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sweep.sweep(now=HANDLE_DUE)
        assert Notification.objects.filter(kind="matter.overdue").exists()
    assert callbacks and DBTaskResult.objects.count() == 0  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert DBTaskResult.objects.filter(task_path="fengqiao.notifications.tasks.deliver_notifications").exists()


def test_a_row_that_fails_is_left_for_the_next_pass_and_does_not_stop_the_others(w, monkeypatch):
    stuck, fine = dispatched(w), dispatched(w)
    notify = sweep._notify

    def broken(recipients, kind, title, body, matter):
        if matter.pk == stuck.pk:
            raise RuntimeError("inbox down")
        notify(recipients, kind, title, body, matter)

    monkeypatch.setattr(sweep, "_notify", broken)
    with pytest.raises(sweep.SweepError, match=r"1 row\(s\) failed.*RuntimeError: inbox down"):
        sweep.sweep(now=ACK_DUE)
    ack = Clock.objects.get(matter=stuck, stage="acknowledge")
    assert ack.standing == "" and not Supervision.objects.filter(matter=stuck).exists()
    assert rows(stuck, "overdue") == []  # its escalation was rolled back as a whole
    assert Clock.objects.get(matter=fine, stage="acknowledge").standing == "red"
    assert Supervision.objects.filter(matter=fine).count() == 1
    monkeypatch.undo()
    assert sweep.sweep(now=ACK_DUE) == NOTHING | {"overdue": 1}  # the next pass does it


def test_an_approved_extension_lifts_the_red_and_missing_the_new_limit_escalates_again(w):
    matter = dispatched(w)
    perform(matter, "acknowledge", actor=w["worker"], now=T0)
    sweep.sweep(now=HANDLE_DUE)
    perform(matter, "request_extension", actor=w["worker"], payload={"reason": "需协调", "amount": 2}, now=HANDLE_DUE)
    perform(matter, "decide_extension", actor=w["centre"], payload={"decision": "approve"}, now=HANDLE_DUE)
    handle = Clock.objects.get(matter=matter, stage="handle")
    # Two more working days; 80 % of the new span (14 h + 7 × 24 h) falls at 11:36 on the 14th: green again.
    assert handle.due_at == at("2026-10-16 00:00") and handle.standing == ""
    assert handle.warn_at == at("2026-10-14 11:36")
    matter.refresh_from_db()
    assert (matter.warning, matter.was_overdue) == ("", True)
    assert sweep.sweep(now=at("2026-10-14 11:36")) == NOTHING | {"warned": 1}
    assert sweep.sweep(now=at("2026-10-16 00:00")) == NOTHING | {"overdue": 1}
    assert Supervision.objects.filter(matter=matter, automatic=True).count() == 2


# ------------------------------------------------------------------------------------------- supervisions, tasks


def test_an_overdue_supervision_is_flagged_once(w):
    matter = dispatched(w)
    perform(matter, "acknowledge", actor=w["worker"], now=T0)
    perform(
        matter, "supervise", actor=w["leader"], payload={"note": "请尽快", "due": "2026-10-05T12:00:00+08:00"}, now=T0
    )
    Notification.objects.all().delete()
    assert sweep.sweep(now=at("2026-10-05 12:00")) == NOTHING | {"supervisions_overdue": 1}
    supervision = Supervision.objects.get(matter=matter)
    assert supervision.state == "overdue"
    assert len(rows(matter, "supervision_overdue")) == 1
    assert told("matter.supervision_overdue") == {"leader", "county-centre", "town-centre"}
    assert sweep.sweep(now=at("2026-10-06 12:00")) == NOTHING


def test_supervisions_of_a_closed_matter_or_a_finished_task_are_not_flagged(w):
    matter = dispatched(w)
    perform(
        matter, "supervise", actor=w["leader"], payload={"note": "关注", "due": "2026-10-05T12:00:00+08:00"}, now=T0
    )
    run_steps(w, matter, PATHS["closed"][2:])
    assert Supervision.objects.get(matter=matter).state == "done"  # the engine closed it with the matter
    declined = submit(w)
    perform(declined, "decline", actor=w["centre"], payload={"reason": "不属于受理范围"})
    Supervision.objects.create(matter=declined, area=w["chain"]["county"], note="旧数据", due_at=T0)
    task = Task.objects.create(area=w["chain"]["town"], title="已取消的任务", due_at=T0, state=Task.State.CANCELLED)
    Supervision.objects.create(task=task, area=w["chain"]["county"], note="已取消", due_at=T0)
    assert sweep.sweep(now=HANDLE_DUE + datetime.timedelta(days=60)) == NOTHING
    assert set(Supervision.objects.values_list("state", flat=True)) == {"done", "open"}


def make_task(w, due):
    return task_services.create_task(
        actor=w["leader"],
        scope=Scope.for_user(w["leader"]),
        area=w["chain"]["town"],
        title="排查辖区内路灯",
        due_at=due,
        department=w["town_dept"].pk,
    )


def test_an_overdue_task_is_flagged_once(w):
    due = timezone.now() + datetime.timedelta(days=2)
    task = make_task(w, due)
    assert sweep.sweep(now=due - SECOND) == NOTHING
    assert sweep.sweep(now=due) == NOTHING | {"tasks_overdue": 1}
    task.refresh_from_db()
    assert task.overdue and task.state == "open"
    # the unit, whoever set it, and the supervising level above the task's town (the county centre)
    assert told("task.overdue") == {"cgb-staff", "leader", "county-centre"}
    assert Supervision.objects.get(task=task, automatic=True).area == w["chain"]["county"]
    assert sweep.sweep(now=due + datetime.timedelta(days=1)) == NOTHING
    assert Notification.objects.filter(kind="task.overdue").count() == 3
    assert Supervision.objects.filter(task=task).count() == 1


def test_an_overdue_task_supervision_tells_the_supervisor_and_the_unit(w):
    due = timezone.now() + datetime.timedelta(days=5)
    task = make_task(w, due)
    supervised_until = timezone.now() + datetime.timedelta(days=1)
    task_services.supervise_task(
        task, actor=w["leader"], scope=Scope.for_user(w["leader"]), note="本周内完成", due_at=supervised_until
    )
    assert sweep.sweep(now=supervised_until) == NOTHING | {"supervisions_overdue": 1}
    assert Supervision.objects.get(task=task).state == "overdue"
    assert told("task.supervision_overdue") == {"leader", "cgb-staff"}


# ------------------------------------------------------------------------------------------- racing sweeps


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks with SKIP LOCKED need PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps the migrations' data
def test_racing_sweeps_open_one_supervision_per_clock():
    w = matter_world()
    matters = [dispatched(w) for _ in range(4)]
    barrier = threading.Barrier(4)
    results, errors = [], []

    def run(part):
        try:
            barrier.wait()
            results.append(part(HANDLE_DUE))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(part,))
        for part in (sweep.sweep, sweep.sweep, sweep._overdue, sweep._overdue)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    overdue = sum(r["overdue"] if isinstance(r, dict) else r for r in results)
    assert overdue == 8  # two clocks of each matter, each turned red by exactly one of the sweeps
    for matter in matters:
        assert Supervision.objects.filter(matter=matter).count() == 2
        assert MatterEvent.objects.filter(matter=matter, action="overdue").count() == 2
    assert Matter.objects.filter(warning="red").count() == 4
