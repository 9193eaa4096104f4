"""Permissions follow the assignments current today (ADR 0009): a period that starts or ends by the calendar
alone grants or withdraws the role's permissions that day, with no job; membership of a role group grants
nothing; hand-set groups still count; the role groups stay the editable role → permission mapping."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from fengqiao.accounts.backends import RolePermissionBackend
from fengqiao.accounts.models import AreaAssignment, Role
from fengqiao.accounts.roles import ROLE_PERMISSIONS, group_name
from fengqiao.accounts.services import end_area_role, grant_area_role
from fengqiao.areas.tests.factories import make_area, make_chain
from fengqiao.core.tests.commits import as_committed
from fengqiao.departments.tests.builders import make_user

pytestmark = pytest.mark.django_db

LEADER = set(ROLE_PERMISSIONS[Role.LEADER])
ONE_DAY = datetime.timedelta(days=1)


def fresh(user):
    """The user as a new request would load it (permissions are cached on the user object)."""
    return get_user_model().objects.get(pk=user.pk)


def travel(monkeypatch, days):
    """Move `timezone.now` (and so `timezone.localdate`) by `days`."""
    moment = timezone.now() + datetime.timedelta(days=days)
    monkeypatch.setattr(timezone, "now", lambda: moment)


@pytest.fixture
def chain():
    return make_chain()


def test_the_backend_in_use_takes_permissions_from_current_roles():
    from django.contrib.auth import get_backends

    assert [type(b).__name__ for b in get_backends()] == ["LockoutModelBackend"]
    assert all(isinstance(b, RolePermissionBackend) for b in get_backends())


def test_an_assignment_that_starts_tomorrow_grants_nothing_today_and_everything_tomorrow(chain, monkeypatch):
    user = make_user("wang")
    tomorrow = timezone.localdate() + ONE_DAY
    grant_area_role(actor="test", user=user, area=chain["town"], role=Role.LEADER, valid_from=tomorrow)
    assert fresh(user).get_all_permissions() == set()
    assert not fresh(user).has_perm("people.view_person")
    travel(monkeypatch, days=1)
    assert fresh(user).get_all_permissions() == LEADER
    assert fresh(user).has_perm("people.view_person")


def test_an_assignment_that_ended_yesterday_grants_nothing(chain, monkeypatch):
    user = make_user("wang")
    start = timezone.localdate() - datetime.timedelta(days=30)
    assignment = grant_area_role(actor="test", user=user, area=chain["town"], role=Role.LEADER, valid_from=start)
    assert fresh(user).get_all_permissions() == LEADER
    end_area_role(assignment, actor="test", valid_to=timezone.localdate())
    assert fresh(user).get_all_permissions() == LEADER, "the last day is included"
    travel(monkeypatch, days=1)
    assert fresh(user).get_all_permissions() == set()
    assert not fresh(user).has_module_perms("people")


def test_only_the_current_roles_count_and_each_brings_its_own_group(chain):
    user = make_user("li")
    since = datetime.date(2025, 1, 1)
    grant_area_role(actor="test", user=user, area=chain["village"], role=Role.GRID_MEMBER, valid_from=since)
    old = AreaAssignment.objects.create(
        user=user, area=chain["town"], role=Role.CENTRE_STAFF, valid_from=since, valid_to=datetime.date(2025, 6, 30)
    )
    assert fresh(user).get_all_permissions() == set(ROLE_PERMISSIONS[Role.GRID_MEMBER])
    old.valid_to = None
    old.save()
    expected = set(ROLE_PERMISSIONS[Role.GRID_MEMBER]) | set(ROLE_PERMISSIONS[Role.CENTRE_STAFF])
    assert fresh(user).get_all_permissions() == expected


def test_an_assignment_over_a_retired_area_grants_nothing_as_in_the_scope(chain):
    user = make_user("li")
    retired = make_area("441821109000", "撤并镇", chain["county"], valid_to=datetime.date(2024, 1, 1))
    AreaAssignment.objects.create(user=user, area=retired, role=Role.LEADER, valid_from=datetime.date(2023, 1, 1))
    assert fresh(user).get_all_permissions() == set()


def test_membership_of_a_role_group_grants_nothing_and_other_groups_still_do(chain):
    user = make_user("li")
    user.groups.add(Group.objects.get(name=group_name(Role.SYSTEM_ADMIN)))  # stale, or set by hand
    assert fresh(user).get_all_permissions() == set()
    clerks = Group.objects.create(name="clerks")
    clerks.permissions.add(Permission.objects.get(codename="view_reception"))
    user.groups.add(clerks)
    assert fresh(user).get_all_permissions() == {"centres.view_reception"}


def test_granting_and_ending_leave_group_membership_alone(chain):
    user = make_user("li")
    assignment = grant_area_role(actor="test", user=user, area=chain["town"], role=Role.MEDIATOR)
    assert not user.groups.exists()
    end_area_role(assignment, actor="test", valid_to=timezone.localdate())
    assert not user.groups.exists()


def test_editing_a_role_group_changes_what_its_holders_may_do(chain):
    user = make_user("li")
    grant_area_role(actor="test", user=user, area=chain["town"], role=Role.MEDIATOR)
    assert not fresh(user).has_perm("centres.view_reception")
    Group.objects.get(name=group_name(Role.MEDIATOR)).permissions.add(Permission.objects.get(codename="view_reception"))
    assert fresh(user).has_perm("centres.view_reception")


def test_permissions_are_read_once_per_process_then_come_from_the_user_object(chain, django_assert_num_queries):
    user = make_user("li", perms=["centres.view_reception"])
    grant_area_role(actor="test", user=user, area=chain["town"], role=Role.LEADER)
    as_committed()
    user = fresh(user)
    with django_assert_num_queries(1):  # groups and current roles together
        assert user.get_group_permissions() == LEADER
    user = fresh(user)
    with django_assert_num_queries(3):  # the stamp, the user's own permissions, those of their groups and roles
        assert user.has_perm("people.view_person") and user.has_perm("centres.view_reception")
    with django_assert_num_queries(0):
        assert user.get_all_permissions() == LEADER | {"centres.view_reception"}
        assert user.has_module_perms("people")
    user = fresh(user)  # the next request: the process's copy, after one look at the stamp
    with django_assert_num_queries(1):
        assert user.has_perm("people.view_person") and user.has_perm("centres.view_reception")


def test_with_perm_finds_the_users_who_hold_the_permission_today(chain):
    since = datetime.date(2025, 1, 1)
    leader = make_user("leader")
    grant_area_role(actor="test", user=leader, area=chain["county"], role=Role.LEADER, valid_from=since)
    former = make_user("former")
    AreaAssignment.objects.create(
        user=former, area=chain["county"], role=Role.LEADER, valid_from=since, valid_to=datetime.date(2025, 6, 30)
    )
    former.groups.add(Group.objects.get(name=group_name(Role.LEADER)))
    make_user("own", perms=["people.view_person"])
    make_user("root", superuser=True)
    backend = RolePermissionBackend()
    names = {u.username for u in backend.with_perm("people.view_person", include_superusers=False)}
    assert names == {"leader", "own"}
    assert {u.username for u in backend.with_perm("people.view_person")} == {"leader", "own", "root"}
    perm = Permission.objects.get(codename="view_person")
    assert {u.username for u in backend.with_perm(perm, include_superusers=False)} == {"leader", "own"}
    with pytest.raises(ValueError):
        backend.with_perm("view_person")
    assert not backend.with_perm("people.view_person", obj=leader).exists()


def test_inactive_users_and_superusers_as_in_django(chain):
    user = make_user("li")
    grant_area_role(actor="test", user=user, area=chain["town"], role=Role.LEADER)
    user.is_active = False
    user.save()
    assert fresh(user).get_all_permissions() == set()
    root = make_user("root", superuser=True)
    assert fresh(root).has_perm("people.unmask_person")
