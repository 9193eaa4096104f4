"""`fengqiao worker`: runs the periodic jobs when due (deadline sweep, notification retries, erasure of expired
records) and the queued background tasks (django.tasks on django-tasks-db: notification deliveries).

Safe to kill and restart, and to run several at once (ADR 0013): jobs are leased, tasks are claimed by the
django-tasks-db worker, and every job is idempotent. ``--once`` runs one round and exits (cron-style).
"""

import logging
import os
import signal
import socket
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from fengqiao.core import jobs

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run periodic jobs (deadline sweep, notification retries, erasure) and queued background tasks."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one round: due jobs, then queued tasks; then exit")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds to sleep between rounds (default 5)")
        parser.add_argument("--job", action="append", help="run only this job (repeatable); forces it due")

    def handle(self, *args, once=False, interval=5.0, job=None, **options):
        worker_id = f"{socket.gethostname()}:{os.getpid()}"
        unknown = sorted(set(job or ()) - set(jobs.JOBS))
        if unknown:
            raise CommandError(
                f"unknown job(s): {', '.join(unknown)}; known: {', '.join(sorted(jobs.JOBS)) or 'none'}", returncode=2
            )
        if interval < 0:
            raise CommandError(f"--interval must not be negative, got {interval}", returncode=2)
        if job:
            jobs.force_due(job)
        self.running = True

        def stop(signum, frame):
            self.running = False

        if not once:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"worker {worker_id}: jobs {', '.join(sorted(jobs.JOBS))}")
        while self.running:
            try:
                self.round(worker_id, only=set(job) if job else None)
            except Exception as exc:
                # A lost database connection or the like: a daemon logs it and tries again next round (leases
                # it held expire); a one-off round reports the failure in its exit status.
                if once:
                    raise
                log.exception("worker round failed")
                self.stderr.write(f"round failed: {type(exc).__name__}: {exc}")
            if once:
                break
            time.sleep(interval)

    def round(self, worker_id, *, only=None):
        close_old_connections()
        for name, outcome in jobs.run_due(worker_id=worker_id, only=only).items():
            self.stdout.write(f"{name}: {outcome}")
        ran = self.run_tasks(worker_id)
        if ran:
            self.stdout.write(f"tasks: {ran} run")

    def run_tasks(self, worker_id) -> int:
        """Run the queued tasks that are ready, then return (django-tasks-db's worker in batch mode)."""
        from django_tasks_db.management.commands.db_worker import Worker
        from django_tasks_db.models import DBTaskResult

        before = DBTaskResult.objects.filter(finished_at__isnull=False).count()
        worker = Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=500,
            worker_id=worker_id[:64],
            excluded_queue_names=[],
        )
        worker.run()
        return DBTaskResult.objects.filter(finished_at__isnull=False).count() - before
