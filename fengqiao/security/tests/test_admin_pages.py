"""Every security admin page renders read-only; its actions go through the services (and are audited)."""

import pytest
from django.contrib import admin
from django.urls import reverse

from fengqiao.audit.models import AuditEvent
from fengqiao.departments.tests.builders import make_user
from fengqiao.security.models import ApiToken, Lockout, LoginFailure, PasswordHistory, RecoveryCode, TotpDevice
from fengqiao.security.tests.builders import one_of_each

pytestmark = pytest.mark.django_db
MODELS = [ApiToken, Lockout, LoginFailure, PasswordHistory, RecoveryCode, TotpDevice]


@pytest.fixture
def root(client, clock):
    user = make_user("root", superuser=True)
    one_of_each(user)
    client.force_login(user)
    return user


def url(model, view, *args):
    return reverse(f"admin:security_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_page_renders_and_shows_no_secret(client, root, model):
    assert model in admin.site._registry
    assert client.get(url(model, "changelist")).status_code == 200
    assert client.get(url(model, "changelist"), {"q": "1"}).status_code == 200
    obj = model.objects.first()
    page = client.get(url(model, "change", obj.pk))
    assert page.status_code == 200
    for secret in ("key_hash", "code_hash", "secret", "password_hash"):
        assert f'name="{secret}"' not in page.content.decode()
    assert client.get(url(model, "add")).status_code == 403


def test_actions_revoke_unlock_and_reset(client, root):
    token, lock = ApiToken.objects.get(), Lockout.objects.get()
    post = {"action": "revoke", "_selected_action": [token.pk]}
    assert client.post(url(ApiToken, "changelist"), post).status_code == 302
    post = {"action": "unlock", "_selected_action": [lock.pk]}
    assert client.post(url(Lockout, "changelist"), post).status_code == 302
    post = {"action": "reset", "_selected_action": [TotpDevice.objects.get().pk]}
    assert client.post(url(TotpDevice, "changelist"), post).status_code == 302
    token.refresh_from_db()
    lock.refresh_from_db()
    assert token.revoked_at is not None and lock.unlocked_by == root and not TotpDevice.objects.exists()
    done = set(AuditEvent.objects.filter(actor=root).values_list("action", flat=True))
    assert {"security.token_revoked", "security.login_unlocked", "security.totp_reset"} <= done


def test_actions_need_the_change_permission(client, clock):
    viewer = make_user("viewer", is_staff=True, perms=["security.view_apitoken"])
    one_of_each(make_user("li"))
    client.force_login(viewer)
    token = ApiToken.objects.get()
    client.post(url(ApiToken, "changelist"), {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is None
