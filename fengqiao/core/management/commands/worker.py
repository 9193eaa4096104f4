"""`fengqiao worker`: runs the periodic jobs when due (deadline sweep, notification retries, erasure of expired
records) and the queued background tasks (django.tasks on django-tasks-db: notification deliveries).

Safe to kill and restart, and to run several at once (ADR 0013): jobs are leased, tasks are claimed by the
django-tasks-db worker, and every job is idempotent. ``--once`` runs one round and exits (cron-style).
"""

import os
import signal
import socket
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from fengqiao.core import jobs


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
            self.stderr.write(f"unknown job(s): {', '.join(unknown)}; known: {', '.join(sorted(jobs.JOBS))}")
            raise SystemExit(2)
        if job:
            from django.utils import timezone

            from fengqiao.core.models import JobRun

            JobRun.objects.filter(name__in=job).update(next_run_at=timezone.now())
        self.running = True

        def stop(signum, frame):
            self.running = False

        if not once:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"worker {worker_id}: jobs {', '.join(sorted(jobs.JOBS))}")
        while self.running:
            close_old_connections()
            for name, outcome in jobs.run_due(worker_id=worker_id, only=set(job) if job else None).items():
                self.stdout.write(f"{name}: {outcome}")
            ran = self.run_tasks(worker_id)
            if ran:
                self.stdout.write(f"tasks: {ran} run")
            if once:
                break
            time.sleep(interval)

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
