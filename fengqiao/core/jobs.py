"""Periodic jobs of `fengqiao worker` (ADR 0013): the deadline sweep, notification retries, erasure of expired
sensitive records. Apps register jobs in their `AppConfig.ready` with `register(name, every, function)`.

Each run takes a lease with a conditional UPDATE on its `JobRun` row, so with several workers each job runs in
one of them at a time; a lease outlives a killed worker only by `lease` seconds. Jobs must be idempotent.
"""

import dataclasses
import datetime
import logging
import traceback

from django.db.models import F, Q
from django.utils import timezone

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Job:
    name: str
    every: datetime.timedelta
    function: object
    lease: datetime.timedelta


JOBS: dict[str, Job] = {}


def register(name, every_seconds, function, *, lease_seconds=600):
    JOBS[name] = Job(
        name, datetime.timedelta(seconds=every_seconds), function, datetime.timedelta(seconds=lease_seconds)
    )


def force_due(names, now=None) -> None:
    """Make the jobs `names` due now (``fengqiao worker --job NAME``); a job leased elsewhere stays leased."""
    from fengqiao.core.models import JobRun

    now = now or timezone.now()
    for name in names:
        _, created = JobRun.objects.get_or_create(name=name, defaults={"next_run_at": now})
        if not created:
            JobRun.objects.filter(name=name, next_run_at__gt=now).update(next_run_at=now)


def _claim(job, worker_id, now):
    from fengqiao.core.models import JobRun

    JobRun.objects.get_or_create(name=job.name, defaults={"next_run_at": now})  # safe against a concurrent create
    return JobRun.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now), name=job.name, next_run_at__lte=now
    ).update(locked_until=now + job.lease, locked_by=worker_id[:80], last_started_at=now)


def run_due(*, worker_id="worker", now=None, only=None) -> dict:
    """Run every registered job that is due and whose lease this worker wins. Returns {name: result or error}."""
    from fengqiao.core.models import JobRun

    outcomes = {}
    for job in list(JOBS.values()):
        if only is not None and job.name not in only:
            continue
        started = now or timezone.now()
        if not _claim(job, worker_id, started):
            continue
        error, result = "", ""
        try:
            result = str(job.function())[:300]
        except Exception:  # a failing job must not stop the worker; the error is kept on its row
            error = traceback.format_exc()[-4000:]
            log.exception("periodic job %s failed", job.name)
        finished = timezone.now()
        JobRun.objects.filter(name=job.name, locked_by=worker_id[:80]).update(
            locked_until=None,
            locked_by="",
            last_finished_at=finished,
            last_result=result,
            last_error=error,
            next_run_at=started + job.every,
            runs=F("runs") + 1,
        )
        outcomes[job.name] = error.splitlines()[-1] if error else result
    return outcomes
