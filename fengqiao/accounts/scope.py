"""What a user may see: the area subtrees of their current assignments (ADR 0003, 0009).

`Scope.for_user(user)` costs one query (all of the user's area assignments with their area paths), and none
while the process's copy is current (`snapshot`); the API computes it once per request (`request_scope`) and
every scoped queryset goes through `Scope.filter`, which adds one ``path LIKE 'prefix%'`` condition per granted
subtree: no per-object permission queries.

Superusers and current system administrators are unrestricted. Anonymous users, and users with no current
assignment, see nothing scoped.
"""

import datetime
from functools import cached_property

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.accounts import snapshot
from fengqiao.accounts.models import AreaAssignment, GridAssignment, Role


def minimal_paths(paths) -> frozenset[str]:
    """Drop every path that lies inside another one (a county grant makes its towns' grants redundant)."""
    kept = []
    for path in sorted(set(paths), key=len):
        if not any(path.startswith(k) for k in kept):
            kept.append(path)
    return frozenset(kept)


class Scope:
    """The areas (as materialised paths) and roles a user holds today.

    * ``paths``: the granted subtrees, minimal (none inside another);
    * ``roles``: the roles of the current assignments (any area);
    * ``unrestricted``: superuser or system administrator: sees every area;
    * ``filter(queryset, path_field)``: the rows whose ``path_field`` lies in one of the subtrees;
    * ``covers(area_or_path)``: whether an area lies in one of them;
    * ``grid_ids``: the grids of the user's current grid assignments (one query, on first use).
    """

    def __init__(self, *, user_id=None, paths=(), roles=(), unrestricted=False, ended=None, starts=None, on=None):
        self.user_id = user_id
        self.paths = minimal_paths(paths)
        self.roles = frozenset(roles)
        self.unrestricted = unrestricted
        self.ended = ended  # the last day of the latest assignment that has ended, when none is current
        self.starts = starts  # the first day of the earliest assignment still to come, when none is current
        self.on = on or timezone.localdate()

    def __repr__(self):
        what = "all" if self.unrestricted else sorted(self.paths)
        return f"<Scope user={self.user_id} {what} roles={sorted(self.roles)}>"

    @classmethod
    def nothing(cls):
        return cls()

    @classmethod
    def for_user(cls, user, on: datetime.date | None = None) -> "Scope":
        on = on or timezone.localdate()
        if user is None or not user.is_authenticated or not user.is_active:
            return cls.nothing()
        rows = snapshot.get(
            "assignments",
            user,
            on,
            lambda: tuple(
                AreaAssignment.objects.filter(user=user, area__valid_to__isnull=True).values_list(
                    "role", "valid_from", "valid_to", "area__path"
                )
            ),
        )
        current = [(role, path) for role, start, end, path in rows if start <= on and (end is None or end >= on)]
        roles = {role for role, _path in current}
        ended = max((end for _r, _s, end, _p in rows if end is not None and end < on), default=None)
        starts = min((start for _r, start, _e, _p in rows if start > on), default=None)
        return cls(
            user_id=user.pk,
            paths=[path for _role, path in current],
            roles=roles,
            unrestricted=user.is_superuser or Role.SYSTEM_ADMIN in roles,
            ended=None if current else ended,
            starts=None if current else starts,
            on=on,
        )

    @property
    def is_empty(self) -> bool:
        return not self.unrestricted and not self.paths

    def has_role(self, *roles) -> bool:
        return bool(self.roles.intersection(roles))

    def q(self, path_field: str) -> Q:
        """A condition for the rows in scope (callers handle `unrestricted` and `is_empty` first)."""
        condition = Q()
        for path in sorted(self.paths):
            condition |= Q(**{f"{path_field}__startswith": path})
        return condition

    def filter(self, queryset, path_field: str):
        if self.unrestricted:
            return queryset
        if not self.paths:
            return queryset.none()
        return queryset.filter(self.q(path_field))

    def covers(self, area_or_path) -> bool:
        if self.unrestricted:
            return True
        path = area_or_path if isinstance(area_or_path, str) else area_or_path.path
        return any(path.startswith(p) for p in self.paths)

    @cached_property
    def grid_ids(self) -> frozenset[int]:
        if self.user_id is None:
            return frozenset()
        rows = GridAssignment.objects.current(self.on).filter(user_id=self.user_id).values_list("grid_id", flat=True)
        return frozenset(rows)

    def why_empty(self) -> str:
        """A sentence for a user whose scope is empty: why they may not write anything scoped."""
        if self.ended is not None:
            return _("Your area assignments ended on %(date)s; ask a security administrator to renew them.") % {
                "date": self.ended.isoformat()
            }
        if self.starts is not None:
            return _("Your area assignment starts on %(date)s.") % {"date": self.starts.isoformat()}
        return _("You hold no role over any area; ask a security administrator for an area assignment.")


def request_scope(request) -> Scope:
    """The scope of the request's user, computed once per request and kept on the request."""
    # DRF wraps the Django request; keep the scope on the underlying one so web views and the API share it.
    target = getattr(request, "_request", request)
    scope = getattr(target, "_fengqiao_scope", None)
    if scope is None or scope.user_id != getattr(request.user, "pk", None):
        scope = Scope.for_user(request.user)
        target._fengqiao_scope = scope
    return scope
