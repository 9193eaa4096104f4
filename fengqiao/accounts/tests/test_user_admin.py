"""The user admin: role groups are not offered as groups (roles come from assignments), the password age is shown,
and setting another user's password is audited."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from fengqiao.accounts.roles import group_name
from fengqiao.audit.models import AuditEvent
from fengqiao.departments.tests.builders import make_user

pytestmark = pytest.mark.django_db

NEW = "Fengqiao-Reset-2027"


@pytest.fixture
def root(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = make_user("root", superuser=True)
    client.force_login(user)
    return user


def test_the_groups_field_offers_hand_set_groups_only_and_the_password_age_shows(client, root):
    clerks = Group.objects.create(name="clerks")
    page = client.get(reverse("admin:accounts_user_change", args=[make_user("li").pk]))
    choices = list(page.context["adminform"].form.fields["groups"].queryset)
    assert choices == [clerks]
    assert group_name("leader") not in page.content.decode()
    assert "field-password_changed_at" in page.content.decode()


def test_setting_a_password_in_the_admin_is_audited(client, root):
    user = make_user("li")
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    refused = client.post(url, {"password1": NEW, "password2": "other", "usable_password": "true"})
    assert refused.status_code == 200 and not AuditEvent.objects.filter(action="accounts.user.password_set").exists()
    done = client.post(url, {"password1": NEW, "password2": NEW, "usable_password": "true"})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)
    event = AuditEvent.objects.get(action="accounts.user.password_set")
    assert event.actor == root and event.event_type == "security" and event.object_id == str(user.pk)
