"""The per-process copies of users' permissions and scopes (ADR 0016): rebuilt after any change, in this process
at once and in the others at their next request (the stamp), never served across a day boundary."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from fengqiao.accounts import snapshot
from fengqiao.accounts.models import AreaAssignment, Role
from fengqiao.accounts.roles import group_name
from fengqiao.accounts.scope import Scope
from fengqiao.accounts.services import end_area_role, grant_area_role
from fengqiao.areas.tests.factories import make_chain
from fengqiao.core import cache, stamps
from fengqiao.core.models import Stamp
from fengqiao.core.tests.commits import as_committed
from fengqiao.departments.tests.builders import make_user

pytestmark = pytest.mark.django_db


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def chain():
    return make_chain()


def other_process_changes_assignments(user, role):
    """What another process does: change the rows with no signal here, then bump the stamp (its commit)."""
    AreaAssignment.objects.filter(user=user).update(role=role)
    Stamp.objects.filter(name=stamps.AUTHZ).update(value=F("value") + 1)


def test_a_change_in_another_process_is_seen_at_the_next_request_here(chain):
    Stamp.objects.create(name=stamps.AUTHZ, value=1)
    user = make_user("li")
    grant_area_role(actor="test", user=user, area=chain["town"], role=Role.LEADER)
    as_committed()
    Stamp.objects.filter(name=stamps.AUTHZ).update(value=1)
    assert fresh(user).has_perm("people.view_person")
    assert Scope.for_user(fresh(user)).roles == {Role.LEADER}
    AreaAssignment.objects.filter(user=user).update(role=Role.VOLUNTEER)  # no signal, no bump: the copy stands
    assert fresh(user).has_perm("people.view_person")
    assert Scope.for_user(fresh(user)).roles == {Role.LEADER}
    other_process_changes_assignments(user, Role.VOLUNTEER)
    assert not fresh(user).has_perm("people.view_person")
    assert Scope.for_user(fresh(user)).roles == {Role.VOLUNTEER}


def test_changes_made_in_this_process_take_effect_at_once(chain):
    user = make_user("li")
    assert not fresh(user).has_perm("people.view_person") and Scope.for_user(fresh(user)).is_empty
    since = timezone.localdate() - datetime.timedelta(days=30)
    assignment = grant_area_role(actor="test", user=user, area=chain["town"], role=Role.LEADER, valid_from=since)
    assert fresh(user).has_perm("people.view_person")
    assert Scope.for_user(fresh(user)).covers(chain["village"])
    end_area_role(assignment, actor="test", valid_to=timezone.localdate() - datetime.timedelta(days=1))
    assert not fresh(user).has_perm("people.view_person") and Scope.for_user(fresh(user)).is_empty
    # the role's permission set edited in the admin
    group = Group.objects.get(name=group_name(Role.LEADER))
    grant_area_role(actor="test", user=user, area=chain["county"], role=Role.LEADER)
    assert fresh(user).has_perm("people.view_person")
    group.permissions.remove(Permission.objects.get(codename="view_person"))
    assert not fresh(user).has_perm("people.view_person")
    # a permission given to the user directly
    user.user_permissions.add(Permission.objects.get(codename="view_person"))
    assert fresh(user).has_perm("people.view_person")
    # the area retired: out of the scope
    chain["county"].valid_to = timezone.localdate()
    chain["county"].save()
    assert Scope.for_user(fresh(user)).is_empty


def test_a_new_day_is_a_new_copy(chain, monkeypatch):
    user = make_user("li")
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    grant_area_role(actor="test", user=user, area=chain["town"], role=Role.LEADER, valid_to=timezone.localdate())
    assert fresh(user).has_perm("people.view_person")
    moment = timezone.now() + datetime.timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    assert timezone.localdate() == tomorrow
    assert not fresh(user).has_perm("people.view_person")
    assert Scope.for_user(fresh(user)).ended is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_stamp_is_bumped_once_per_transaction_after_commit():
    chain = make_chain()
    user = make_user("li")
    before = stamps.read(stamps.AUTHZ)
    with transaction.atomic():
        grant_area_role(actor="test", user=user, area=chain["town"], role=Role.LEADER)
        grant_area_role(actor="test", user=user, area=chain["village"], role=Role.GRID_MEMBER)
        user.user_permissions.add(Permission.objects.get(codename="view_person"))
        assert stamps.read(stamps.AUTHZ) == before  # not before the commit
    assert stamps.read(stamps.AUTHZ) == before + 1
    with transaction.atomic():
        AreaAssignment.objects.filter(user=user).delete()
        transaction.set_rollback(True)
    assert stamps.read(stamps.AUTHZ) == before + 1  # rolled back: nothing changed, no bump
    end_area_role(AreaAssignment.objects.get(user=user, role=Role.LEADER), actor="test")
    assert stamps.read(stamps.AUTHZ) == before + 2


def test_the_process_keeps_one_generation_of_copies(chain):
    users = [make_user(f"u{i}") for i in range(3)]
    for user in users:
        grant_area_role(actor="test", user=user, area=chain["town"], role=Role.LEADER)
    as_committed()
    for user in users:
        fresh(user).has_perm("people.view_person")
    assert len(cache._entries[snapshot.PREFIX]) == 3
    Stamp.objects.update_or_create(name=stamps.AUTHZ, defaults={"value": 99})
    fresh(users[0]).has_perm("people.view_person")
    assert len(cache._entries[snapshot.PREFIX]) == 1


def test_what_the_changing_transaction_reads_is_not_kept(chain):
    """Rows read in the transaction that changed them may roll back: they are used, not cached."""
    user = make_user("li")
    as_committed()
    with transaction.atomic():
        grant_area_role(actor="test", user=user, area=chain["town"], role=Role.LEADER)
        assert Scope.for_user(fresh(user)).roles == {Role.LEADER}
        assert fresh(user).has_perm("people.view_person")
        transaction.set_rollback(True)
    assert snapshot.PREFIX not in cache._entries or not cache._entries[snapshot.PREFIX]
    assert Scope.for_user(fresh(user)).is_empty
    assert not fresh(user).has_perm("people.view_person")
