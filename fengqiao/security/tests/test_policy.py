"""Who needs a second factor: superusers always, staff and configured roles by default, nobody in demo mode."""

import datetime

import pytest
from django.core import checks
from django.test import override_settings
from django.utils import timezone

from fengqiao.departments.tests.builders import make_user
from fengqiao.security import policy
from fengqiao.security.tests.builders import enrolled

pytestmark = pytest.mark.django_db


def test_superusers_and_staff_need_a_second_factor_by_default_and_plain_users_do_not():
    assert policy.second_factor_required(make_user("root", superuser=True))
    assert policy.second_factor_required(make_user("clerk", is_staff=True))
    assert not policy.second_factor_required(make_user("citizen"))


@override_settings(TOTP_ROLES=["grid_member"])
def test_staff_can_be_left_out_but_superusers_cannot():
    assert not policy.second_factor_required(make_user("clerk", is_staff=True))
    assert policy.second_factor_required(make_user("root", superuser=True))


@override_settings(DEMO_NO_2FA=True)
def test_demo_mode_switches_the_requirement_off():
    assert not policy.second_factor_required(make_user("root", superuser=True))


def test_a_configured_role_held_today_requires_it(monkeypatch):
    user = make_user("mediator")
    monkeypatch.setattr(policy, "current_roles", lambda u: {"mediator"})
    with override_settings(TOTP_ROLES=["mediator"]):
        assert policy.second_factor_required(user)
    with override_settings(TOTP_ROLES=["leader"]):
        assert not policy.second_factor_required(user)


def test_current_roles_read_area_assignments_in_their_period(clock):
    model = policy.assignment_model()
    if model is None:
        pytest.skip("fengqiao.accounts has no AreaAssignment with a role yet")
    from fengqiao.areas.tests.factories import make_chain

    user = make_user("leader")
    town = make_chain()["town"]
    today = timezone.localdate(clock.now)
    model.objects.create(user=user, area=town, role="leader", valid_from=today - datetime.timedelta(days=10))
    model.objects.create(
        user=user,
        area=town,
        role="mediator",
        valid_from=today - datetime.timedelta(days=10),
        valid_to=today - datetime.timedelta(days=1),
    )
    assert policy.current_roles(user) == {"leader"}
    with override_settings(TOTP_ROLES=["leader"]):
        assert policy.second_factor_required(user)
    with override_settings(TOTP_ROLES=["mediator"]):
        assert not policy.second_factor_required(user)


def test_someone_who_enrolled_voluntarily_is_asked_for_the_code(clock):
    user = make_user("citizen")
    assert not policy.second_factor_needed(user)
    enrolled(user)
    assert policy.second_factor_needed(user)


def test_a_misspelt_role_is_reported_by_the_system_check():
    if policy.assignment_model() is None:
        pytest.skip("fengqiao.accounts has no roles yet")
    with override_settings(TOTP_ROLES=["staff", "leadr"]):
        found = [m for m in checks.run_checks(tags=[checks.Tags.security]) if m.id == "security.W001"]
    assert found and "leadr" in found[0].msg
