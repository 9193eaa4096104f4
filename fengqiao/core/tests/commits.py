"""A test's transaction never commits: `as_committed()` does for the stamps what a commit would."""

from django.db import connection

from fengqiao.core import stamps


def as_committed():
    """Run the stamp bumps the test's changes queued and drop them from the queue, as a commit does; afterwards
    the caches keyed by stamps (`fengqiao.accounts.snapshot`) keep what they read again."""
    queued = [entry for entry in connection.run_on_commit if entry[1] in stamps._callbacks.values()]
    connection.run_on_commit = [entry for entry in connection.run_on_commit if entry not in queued]
    for _sids, callback, _robust in queued:
        callback()
