"""`fengqiao worker`: the periodic jobs run where a worker wins their lease (one at a time, taken over when a worker
dies), a failing job records its error without stopping the others, and one round (`--once`) runs the due jobs
and then the queued tasks, so a deadline that passed ends as a delivered notification."""

import datetime
import io
import signal

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.utils import timezone

from fengqiao.core import jobs
from fengqiao.core.models import JobRun

MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def registry(monkeypatch):
    """A registry with only the jobs a test registers (the app's jobs are put back afterwards)."""
    monkeypatch.setattr(jobs, "JOBS", {})
    return jobs.JOBS


@pytest.fixture
def restore_signals():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_the_deadline_sweep_is_registered():
    assert jobs.JOBS["deadline-sweep"].every == datetime.timedelta(seconds=60)


def test_a_due_job_runs_once_and_is_scheduled_again(db, registry):
    calls = []
    jobs.register("probe", 300, lambda: calls.append(1) or "probed")
    now = timezone.now()
    assert jobs.run_due(worker_id="A", now=now) == {"probe": "probed"}
    row = JobRun.objects.get(name="probe")
    assert (row.runs, row.last_result, row.last_error, row.locked_by, row.locked_until) == (1, "probed", "", "", None)
    assert row.last_started_at == now and row.next_run_at == now + datetime.timedelta(seconds=300)
    assert jobs.run_due(worker_id="A", now=now + MINUTE) == {}  # not due yet
    assert jobs.run_due(worker_id="B", now=now + 5 * MINUTE) == {"probe": "probed"}
    assert calls == [1, 1] and JobRun.objects.get(name="probe").runs == 2


def test_a_leased_job_is_not_run_by_a_second_worker(db, registry):
    seen = {}

    def probe():
        # While worker A runs the job it holds the lease: worker B, asking now, must not run it too.
        seen["B"] = jobs.run_due(worker_id="B", only={"probe"})
        seen["row"] = JobRun.objects.values("locked_by", "locked_until").get(name="probe")
        return "done"

    jobs.register("probe", 60, probe, lease_seconds=600)
    now = timezone.now()
    assert jobs.run_due(worker_id="A", now=now) == {"probe": "done"}
    assert seen["B"] == {}
    assert seen["row"] == {"locked_by": "A", "locked_until": now + datetime.timedelta(seconds=600)}
    assert JobRun.objects.get(name="probe").runs == 1


def test_an_expired_lease_of_a_killed_worker_lets_another_worker_run_it(db, registry):
    jobs.register("probe", 60, lambda: "ran", lease_seconds=600)
    now = timezone.now()
    # Worker A took the lease and was killed: the row still names it.
    JobRun.objects.create(name="probe", next_run_at=now - MINUTE, locked_by="A", locked_until=now + MINUTE)
    assert jobs.run_due(worker_id="B", now=now) == {}  # still leased
    assert jobs.run_due(worker_id="B", now=now + 2 * MINUTE) == {"probe": "ran"}  # the lease ran out
    row = JobRun.objects.get(name="probe")
    assert (row.runs, row.locked_by, row.locked_until, row.last_result) == (1, "", None, "ran")


def test_a_failing_job_records_its_error_and_the_others_still_run(db, registry):
    def boom():
        raise ValueError("bad data in row 7")

    jobs.register("boom", 60, boom)
    jobs.register("fine", 60, lambda: "ok")
    now = timezone.now()
    assert jobs.run_due(worker_id="A", now=now) == {"boom": "ValueError: bad data in row 7", "fine": "ok"}
    row = JobRun.objects.get(name="boom")
    assert "Traceback" in row.last_error and "bad data in row 7" in row.last_error
    assert (row.runs, row.locked_until, row.next_run_at) == (1, None, now + MINUTE)  # released, tried again later
    assert JobRun.objects.get(name="fine").last_error == ""
    registry["boom"] = jobs.Job("boom", MINUTE, lambda: "fixed", MINUTE)
    assert jobs.run_due(worker_id="A", now=now + MINUTE)["boom"] == "fixed"
    assert JobRun.objects.get(name="boom").last_error == ""


def test_an_unknown_job_is_refused_with_exit_status_2(capsys, restore_signals):
    with pytest.raises(CommandError, match=r"unknown job\(s\): nope; known: deadline-sweep") as refusal:
        call_command("worker", "--once", "--job", "nope")
    assert refusal.value.returncode == 2
    with pytest.raises(SystemExit) as exit_:
        ManagementUtility(["fengqiao", "worker", "--once", "--job", "nope"]).execute()
    assert exit_.value.code == 2
    assert "unknown job(s): nope; known: deadline-sweep" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps the migrations' data
def test_one_round_runs_the_due_jobs_then_the_queued_tasks(restore_signals):
    """A deadline passed: the sweep (a job) escalates and writes notifications, whose delivery (a task enqueued
    when the sweep committed) runs in the same round."""
    from django_tasks_db.models import DBTaskResult

    from fengqiao.matters.engine import perform
    from fengqiao.matters.tests.builders import matter_world, submit
    from fengqiao.notifications.models import Delivery, DeliveryStatus, Notification
    from fengqiao.workdays.tests.builders import at

    w = matter_world()
    matter = submit(w)
    perform(matter, "accept", actor=w["centre"], now=at("2026-09-30 10:00"))  # to be dispatched by 8 October
    DBTaskResult.objects.all().delete()
    out = io.StringIO()
    call_command("worker", "--once", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("worker ") and "deadline-sweep" in lines[0].split(": jobs ")[1].split(", ")
    assert any(line.startswith("deadline-sweep: {'overdue': 1,") for line in lines), lines
    assert any(line.startswith("tasks: ") for line in lines), lines
    assert JobRun.objects.get(name="deadline-sweep").runs == 1
    notices = Notification.objects.filter(kind="matter.overdue")
    assert notices.count() == 2  # the town's centre (owner) and the county's (supervising)
    assert set(Delivery.objects.filter(notification__in=notices).values_list("status", flat=True)) == {
        DeliveryStatus.SENT
    }
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}

    # Not due again for a minute: a second round runs nothing, unless the job is named.
    out = io.StringIO()
    call_command("worker", "--once", stdout=out)
    assert "deadline-sweep" not in out.getvalue().split("\n", 1)[1]
    call_command("worker", "--once", "--job", "deadline-sweep", stdout=out)
    assert JobRun.objects.get(name="deadline-sweep").runs == 2
