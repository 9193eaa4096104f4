"""Granting and ending roles over areas and grid assignments (ADR 0009).

Every function takes a keyword-only ``actor`` (a User, or a process name), runs in one transaction, records one
audit event and raises ``django.core.exceptions.ValidationError`` keyed by the field that is wrong; nothing is
written when it raises. A User actor needs the model permission and a scope that covers the area; a process
name (commands, migrations, tests) is trusted.

Nothing here touches group membership: a user's permissions are those of the role groups of their assignments
current on the day of the request (`accounts.backends`), so periods that start or end by the calendar alone
need no job.
"""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.accounts.models import SEPARATED_ROLES, AreaAssignment, GridAssignment, MemberKind, Role, User
from fengqiao.accounts.scope import Scope
from fengqiao.areas.models import Area, Grid
from fengqiao.audit import services as audit

GRID_ROLES = (Role.GRID_MEMBER, Role.INFORMANT)


def _overlaps(a_from, a_to, b_from, b_to) -> bool:
    return (b_to is None or a_from <= b_to) and (a_to is None or b_from <= a_to)


def _check_actor(actor, perm: str, area: Area) -> None:
    if actor is None or isinstance(actor, str) or actor.is_superuser:
        return
    if not actor.has_perm(perm) or not Scope.for_user(actor).covers(area):
        raise PermissionDenied(_("You may not manage assignments in %(area)s.") % {"area": area})


def check_period(valid_from, valid_to, *, today: datetime.date | None = None) -> None:
    today = today or timezone.localdate()
    if valid_from is None:
        raise ValidationError({"valid_from": [_("An assignment needs a first day.")]})
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError({"valid_to": [_("The last day comes before the first day.")]})
    if valid_to is not None and valid_to < today:
        raise ValidationError({"valid_to": [_("This period has already ended; there is nothing to grant.")]})


def check_area_assignment(user: User, area: Area | None, role: str, valid_from, valid_to) -> None:
    """The rules, without writing: a known role over a current area for a period that has not ended, for an
    active user, and no two of the separated administrator roles at once (三权分立)."""
    if area is None:
        raise ValidationError({"area": [_("A role is always granted over an area.")]})
    if role not in Role.values:
        raise ValidationError({"role": [_("Unknown role %(role)s.") % {"role": role}]})
    if not user.is_active:
        raise ValidationError({"user": [_("User %(user)s is inactive.") % {"user": user}]})
    if not area.is_current:
        raise ValidationError({"area": [_("Area %(code)s is retired.") % {"code": area.code}]})
    check_period(valid_from, valid_to)
    if role in SEPARATED_ROLES:
        others = AreaAssignment.objects.filter(user=user, role__in=SEPARATED_ROLES - {role})
        if any(_overlaps(valid_from, valid_to, a.valid_from, a.valid_to) for a in others):
            raise ValidationError(
                {
                    "role": [
                        _(
                            "System, security and audit administration are separate duties (三权分立); "
                            "%(user)s already holds another of them in this period."
                        )
                        % {"user": user}
                    ]
                }
            )
    same = AreaAssignment.objects.filter(user=user, area=area, role=role)
    if any(_overlaps(valid_from, valid_to, a.valid_from, a.valid_to) for a in same):
        raise ValidationError(
            {"role": [_("%(user)s already holds this role over this area in this period.") % {"user": user}]}
        )


@transaction.atomic
def grant_area_role(
    *,
    actor,
    user: User,
    area: Area,
    role: str,
    valid_from: datetime.date | None = None,
    valid_to: datetime.date | None = None,
    note: str = "",
) -> AreaAssignment:
    """Grant `role` over `area` and its subtree from `valid_from` (default today) to `valid_to` (open)."""
    valid_from = valid_from or timezone.localdate()
    if area is not None:
        _check_actor(actor, "accounts.add_areaassignment", area)
    User.objects.select_for_update().get(pk=user.pk)  # one grant per user at a time (三权分立 check)
    check_area_assignment(user, area, role, valid_from, valid_to)
    assignment = AreaAssignment.objects.create(
        user=user, area=area, role=role, valid_from=valid_from, valid_to=valid_to, note=(note or "").strip()
    )
    audit.record(
        actor=actor,
        action="accounts.role.grant",
        obj=assignment,
        summary=f"{user.get_username()} {role} {area.code}",
        data={
            "user": user.get_username(),
            "role": role,
            "area": area.code,
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat() if valid_to else None,
        },
    )
    return assignment


def check_end(assignment, valid_to: datetime.date) -> None:
    """An assignment (area or grid) can be ended earlier than it ends now, but not before its first day."""
    if assignment.valid_to is not None and assignment.valid_to <= valid_to:
        raise ValidationError(
            {"valid_to": [_("This assignment already ends on %(date)s.") % {"date": assignment.valid_to.isoformat()}]}
        )
    if valid_to < assignment.valid_from:
        raise ValidationError({"valid_to": [_("The last day comes before the first day.")]})


@transaction.atomic
def end_area_role(assignment: AreaAssignment, *, actor, valid_to: datetime.date | None = None) -> AreaAssignment:
    """End an assignment: `valid_to` is its last day (default today; yesterday revokes it at once)."""
    assignment = AreaAssignment.objects.select_for_update().select_related("area", "user").get(pk=assignment.pk)
    _check_actor(actor, "accounts.change_areaassignment", assignment.area)
    valid_to = valid_to or timezone.localdate()
    check_end(assignment, valid_to)
    before = assignment.valid_to
    assignment.valid_to = valid_to
    assignment.save(update_fields=["valid_to"])
    audit.record(
        actor=actor,
        action="accounts.role.end",
        obj=assignment,
        summary=f"{assignment.user.get_username()} {assignment.role} {assignment.area.code}",
        data={"before": before.isoformat() if before else None, "valid_to": valid_to.isoformat()},
    )
    return assignment


def check_grid_assignment(user: User, grid: Grid, member_kind: str, valid_from, valid_to) -> None:
    if member_kind not in MemberKind.values:
        raise ValidationError({"member_kind": [_("Unknown kind of grid member %(kind)s.") % {"kind": member_kind}]})
    if grid.valid_to is not None:
        raise ValidationError({"grid": [_("Grid %(code)s is retired.") % {"code": grid.code}]})
    check_period(valid_from, valid_to)
    roles = AreaAssignment.objects.filter(user=user, role__in=GRID_ROLES).select_related("area")
    if not any(
        grid.area.path.startswith(a.area.path) and _overlaps(valid_from, valid_to, a.valid_from, a.valid_to)
        for a in roles
    ):
        raise ValidationError(
            {
                "grid": [
                    _("%(user)s holds no grid member or informant role over the area of grid %(code)s.")
                    % {"user": user, "code": grid.code}
                ]
            }
        )
    clash = GridAssignment.objects.filter(user=user, grid=grid)
    if any(_overlaps(valid_from, valid_to, a.valid_from, a.valid_to) for a in clash):
        raise ValidationError(
            {"grid": [_("%(user)s is already assigned to this grid in this period.") % {"user": user}]}
        )


@transaction.atomic
def assign_grid(
    *,
    actor,
    user: User,
    grid: Grid,
    member_kind: str,
    valid_from: datetime.date | None = None,
    valid_to: datetime.date | None = None,
) -> GridAssignment:
    """Assign a grid member or informant (who holds that role over the grid's area) to `grid`."""
    valid_from = valid_from or timezone.localdate()
    _check_actor(actor, "accounts.add_gridassignment", grid.area)
    check_grid_assignment(user, grid, member_kind, valid_from, valid_to)
    assignment = GridAssignment.objects.create(
        user=user, grid=grid, member_kind=member_kind, valid_from=valid_from, valid_to=valid_to
    )
    audit.record(
        actor=actor,
        action="accounts.grid.assign",
        obj=assignment,
        summary=f"{user.get_username()} {grid.code}",
        data={"user": user.get_username(), "grid": grid.pk, "member_kind": member_kind},
    )
    return assignment


@transaction.atomic
def end_grid_assignment(assignment: GridAssignment, *, actor, valid_to: datetime.date | None = None) -> GridAssignment:
    assignment = GridAssignment.objects.select_for_update().select_related("grid__area", "user").get(pk=assignment.pk)
    _check_actor(actor, "accounts.change_gridassignment", assignment.grid.area)
    valid_to = valid_to or timezone.localdate()
    check_end(assignment, valid_to)
    before = assignment.valid_to
    assignment.valid_to = valid_to
    assignment.save(update_fields=["valid_to"])
    audit.record(
        actor=actor,
        action="accounts.grid.end",
        obj=assignment,
        summary=f"{assignment.user.get_username()} {assignment.grid.code}",
        data={"before": before.isoformat() if before else None, "valid_to": valid_to.isoformat()},
    )
    return assignment
