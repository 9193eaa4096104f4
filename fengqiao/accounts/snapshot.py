"""Per-process copies of what each user may do and where (ADR 0016).

Every API request needs the user's permissions (their own, their hand-set groups', their current roles') and
their current area assignments (the `Scope`): three queries and about a millisecond of ORM work. They are kept
per process, keyed by the user, the day and the ``authz`` stamp (`fengqiao.core.stamps`), so a request reads
one stamp instead. Every change that can alter them bumps the stamp after it commits (the signals connected by
`connect`): assignments, areas (retired or moved), groups and their permissions, users' own permissions and
groups. The user row itself (active, superuser) is read fresh on every request and is part of the key. A bulk
``update()`` sends no signal: code that retires or moves areas in bulk bumps the stamp itself, and entries
expire after `TTL` seconds whatever happens.
"""

import threading

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save

from fengqiao.core import cache, stamps

STAMP = stamps.AUTHZ
PREFIX = "authz"
TTL = 300

_lock = threading.Lock()
_seen = {"version": None}


def get(kind: str, user, on, build):
    """The cached `build()` for (`kind`, `user`, day `on`); values must be treated as read-only. Costs one stamp
    lookup (callers keep the result for the request: `Scope` on the request, permissions on the user object).
    Inside a transaction that changed them (bump pending), the rows are read but not cached: they may roll back."""
    if stamps.pending(STAMP):
        return build()
    version = (stamps.read(STAMP), on)
    with _lock:
        if _seen["version"] != version:  # a bump or a new day: the process's other entries are stale too
            _seen["version"] = version
            cache.clear(PREFIX)
    return cache.get((PREFIX, kind, user.pk, user.is_superuser, *version), TTL, build)


def changed(**_kwargs):
    """Something users' permissions or scopes depend on changed: drop this process's copies now and bump the
    stamp when the transaction commits, for the other processes."""
    cache.clear(PREFIX)
    stamps.bump(STAMP)


def connect():
    from fengqiao.accounts.models import AreaAssignment
    from fengqiao.areas.models import Area

    user_model = get_user_model()
    for model in (AreaAssignment, Area, Group, Permission):
        post_save.connect(changed, sender=model, dispatch_uid=f"authz-{model._meta.label}-save")
        post_delete.connect(changed, sender=model, dispatch_uid=f"authz-{model._meta.label}-delete")
    for through in (Group.permissions.through, user_model.user_permissions.through, user_model.groups.through):
        m2m_changed.connect(changed, sender=through, dispatch_uid=f"authz-{through._meta.label}-m2m")
