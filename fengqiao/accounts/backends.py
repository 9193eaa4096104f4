"""Permissions follow the roles a user holds today (ADR 0009).

*What* a role may do is the permission set of its group ``role:<role>`` (seeded from `roles.ROLE_PERMISSIONS`,
editable in the admin). *Whether* the user holds the role is decided by the periods of their `AreaAssignment`s
on the day of the request, never by group membership: an assignment that starts or ends by the calendar alone
grants or withdraws its permissions on that very day, without a job. Membership of a ``role:*`` group is
ignored; other groups (set by hand in the admin) count as in Django.

A user's permissions are kept per process until something they depend on changes (`snapshot`, ADR 0016): a
request costs one stamp lookup, not the two permission queries of `ModelBackend`.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db.models import CharField, Exists, OuterRef, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from fengqiao.accounts import snapshot
from fengqiao.accounts.models import AreaAssignment, current_q
from fengqiao.accounts.roles import GROUP_PREFIX


def current_role_groups(user_ref, on=None):
    """A subquery of the group names (``role:<role>``) of `user_ref`'s assignments current on `on` (today),
    over areas that are not retired (as `Scope.for_user`). `user_ref` is a user id or an OuterRef."""
    return (
        AreaAssignment.objects.filter(current_q(on or timezone.localdate()), user=user_ref, area__valid_to__isnull=True)
        .annotate(group_name=Concat(Value(GROUP_PREFIX), "role", output_field=CharField()))
        .values("group_name")
    )


def hand_set_groups(user_ref):
    """The groups `user_ref` was put in by hand: every group but the role groups."""
    return Group.objects.filter(user=user_ref).exclude(name__startswith=GROUP_PREFIX)


def group_permissions_q(user_ref, on=None) -> Q:
    """Permissions (rows of `Permission`) the user has through groups: current roles and hand-set groups."""
    return Q(group__in=hand_set_groups(user_ref)) | Q(group__name__in=current_role_groups(user_ref, on))


class RolePermissionBackend(ModelBackend):
    """`ModelBackend` whose group permissions come from the user's current roles (see the module)."""

    def _get_group_permissions(self, user_obj):
        return Permission.objects.filter(group_permissions_q(user_obj.pk))

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = snapshot.get(
                "permissions",
                user_obj,
                timezone.localdate(),
                lambda: frozenset(super(RolePermissionBackend, self).get_all_permissions(user_obj)),
            )
        return user_obj._perm_cache

    def with_perm(self, perm, is_active=True, include_superusers=True, obj=None):
        """The users who have `perm` today: through their own permissions, hand-set groups or current roles."""
        if obj is not None:
            return get_user_model()._default_manager.none()
        if isinstance(perm, Permission):
            this = Q(pk=perm.pk)
        elif isinstance(perm, str) and perm.count(".") == 1:
            app_label, codename = perm.split(".")
            this = Q(codename=codename, content_type__app_label=app_label)
        else:
            raise ValueError("Give a Permission or a string 'app_label.codename'.")
        has = Permission.objects.filter(this).filter(
            Q(user=OuterRef("pk")) | group_permissions_q(OuterRef(OuterRef("pk")))
        )
        user_q = Exists(has)
        if include_superusers:
            user_q |= Q(is_superuser=True)
        if is_active is not None:
            user_q &= Q(is_active=is_active)
        return get_user_model()._default_manager.filter(user_q)
