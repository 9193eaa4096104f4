"""`fengqiao open311-key`, the keys' audit trail, the attribute definitions and the admin."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from fengqiao.audit.models import AuditEvent
from fengqiao.departments.tests.builders import make_user
from fengqiao.open311 import services
from fengqiao.open311.models import ApiKey, ServiceAttribute
from fengqiao.open311.tests.builders import post_request


def run(*args):
    from io import StringIO

    out = StringIO()
    with translation.override("en"):
        call_command("open311_key", *args, stdout=out)
    return out.getvalue()


def test_create_prints_the_key_last_and_stores_only_its_hash(db):
    output = run("create", "fixmystreet")
    key = output.split()[-1]
    api_key = services.authenticate(key)
    assert api_key.name == "fixmystreet" and key not in api_key.key_hash
    assert key.startswith("o311_") and api_key.prefix in key
    event = AuditEvent.objects.get(action="open311.key_created")
    assert key not in str(event.data) and event.actor_label == "fengqiao open311-key"
    assert "fixmystreet" in run("list")


def test_revoke_by_prefix_or_id_then_the_key_is_refused(db):
    key = run("create", "fixmystreet").split()[-1]
    api_key = ApiKey.objects.get()
    run("revoke", api_key.prefix)
    with pytest.raises(services.Refused) as refused:
        services.authenticate(key)
    assert refused.value.status == 403
    assert AuditEvent.objects.filter(action="open311.key_revoked").count() == 1
    with pytest.raises(CommandError, match="already revoked"):
        run("revoke", str(api_key.pk))
    with pytest.raises(CommandError, match="no Open311 key"):
        run("revoke", "nothing")
    assert "fixmystreet" not in run("list") and "revoked" in run("list", "--all")
    assert run("create", "fixmystreet").split()[-1] != key  # the name is free again


def test_a_second_live_key_with_the_same_name_is_refused(db):
    run("create", "fixmystreet")
    before = AuditEvent.objects.count()
    with pytest.raises(CommandError, match="exists already"):
        run("create", "fixmystreet")
    with pytest.raises(CommandError):
        run("create", " ")
    assert ApiKey.objects.count() == 1 and AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"code": "title"}, "code"),
        ({"code": "a b"}, "code"),
        ({"datatype": "singlevaluelist", "options": ""}, "options"),
        ({"datatype": "multivaluelist", "options": "a=1\na=2"}, "options"),
        ({"datatype": "string", "options": "a=1"}, "options"),
    ],
)
def test_an_attribute_definition_is_checked(w, fields, field):
    attribute = ServiceAttribute(category=w["lamp"], **({"code": "x", "description": "?"} | fields))
    with pytest.raises(ValidationError) as problem:
        attribute.full_clean()
    assert field in problem.value.message_dict


def test_the_admin_lists_keys_without_the_hash_and_revokes_through_the_service(client, w):
    root = make_user("root", superuser=True)
    client.force_login(root)
    post_request(w)
    page = client.get(reverse("admin:open311_apikey_change", args=[w["api_key"].pk])).content.decode()
    assert w["api_key"].key_hash not in page and w["key"] not in page
    request_page = client.get(reverse("admin:open311_servicerequest_changelist")).content.decode()
    assert "nana@example.org" not in request_page
    changelist = reverse("admin:open311_apikey_changelist")
    response = client.post(changelist, {"action": "revoke", "_selected_action": [w["api_key"].pk]})
    assert response.status_code == 302
    w["api_key"].refresh_from_db()
    assert w["api_key"].revoked_at is not None
    assert AuditEvent.objects.get(action="open311.key_revoked").actor == root
