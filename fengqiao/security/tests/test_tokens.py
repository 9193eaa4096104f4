"""API tokens: per user, shown once, stored hashed, expire, revocable; 401 with a clear message and nothing written
for expired and revoked tokens and tokens of deactivated users."""

import io

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import translation
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from fengqiao.audit.models import AuditEvent
from fengqiao.departments.tests.builders import make_user
from fengqiao.security.authentication import ExpiringTokenAuthentication
from fengqiao.security.models import ApiToken
from fengqiao.security.services import tokens

pytestmark = pytest.mark.django_db


class WhoAmI(APIView):
    authentication_classes = [ExpiringTokenAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"user": request.user.get_username()})


def call(key=None, header=None):
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=header or f"Token {key}")
    return WhoAmI.as_view()(request)


def snapshot():
    return AuditEvent.objects.count(), list(ApiToken.objects.values_list("last_used_at", "revoked_at"))


def test_our_class_comes_first_in_the_api_settings_and_drf_tokens_are_gone():
    classes = settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]
    assert classes[0] == "fengqiao.security.authentication.ExpiringTokenAuthentication"
    assert "rest_framework.authentication.TokenAuthentication" not in classes


def test_an_issued_key_authenticates_and_only_its_hash_is_stored(clock):
    user = make_user("li")
    token, key = tokens.issue(actor="test", user=user, name="sync", days=30)
    assert key.startswith("fq_" + token.prefix + "_") and key not in token.key_hash
    assert (token.expires_at - clock.now).days == 30
    response = call(key)
    assert response.status_code == 200 and response.data == {"user": "li"}
    token.refresh_from_db()
    assert token.last_used_at == clock.now
    event = AuditEvent.objects.get(action="security.token_issued")
    assert key not in str(event.data) and key not in event.summary


def test_the_default_lifetime_comes_from_the_settings(clock, settings):
    settings.API_TOKEN_DAYS = 7
    token, _key = tokens.issue(actor="test", user=make_user("li"))
    assert (token.expires_at - clock.now).days == 7


def test_last_used_is_written_at_most_once_a_minute(clock):
    token, key = tokens.issue(actor="test", user=make_user("li"))
    call(key)
    first = clock.now
    clock.advance(seconds=30)
    call(key)
    token.refresh_from_db()
    assert token.last_used_at == first
    clock.advance(seconds=31)
    call(key)
    token.refresh_from_db()
    assert token.last_used_at == clock.now


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        ("expire", "expired"),
        ("revoke", "revoked"),
        ("deactivate", "deactivated"),
        ("unknown", "Invalid token"),
    ],
)
def test_a_spoilt_token_gets_401_with_a_message_and_nothing_is_written(clock, spoil, message):
    user = make_user("li")
    token, key = tokens.issue(actor="test", user=user, days=1)
    if spoil == "expire":
        clock.advance(days=1)
    elif spoil == "revoke":
        tokens.revoke(actor="test", token=token)
    elif spoil == "deactivate":
        user.is_active = False
        user.save(update_fields=["is_active"])
    elif spoil == "unknown":
        key = key[:-4] + "AAAA"
    before = snapshot()
    response = call(key)
    assert response.status_code == 401
    assert message in str(response.data["detail"])
    assert response["WWW-Authenticate"] == "Token"
    assert snapshot() == before


def test_drf_style_keys_are_refused_and_other_schemes_left_to_the_next_class():
    response = call("0123456789abcdef0123456789abcdef01234567")
    assert response.status_code == 401 and "fq_" in str(response.data["detail"])
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION="Bearer x")
    assert ExpiringTokenAuthentication().authenticate(request) is None
    assert call(header="Token").status_code == 401
    assert call(header="Bearer x").status_code == 401


def test_no_token_is_issued_for_a_deactivated_user_and_nothing_is_written():
    user = make_user("li", is_active=False)
    with pytest.raises(ValidationError) as exc:
        tokens.issue(actor="test", user=user)
    assert "deactivated" in str(exc.value)
    assert not ApiToken.objects.exists() and not AuditEvent.objects.exists()
    with pytest.raises(CommandError, match="deactivated"):
        call_command("token", "create", "li", stdout=io.StringIO())
    assert not ApiToken.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.parametrize("days", [0, -1, 367])
def test_a_lifetime_out_of_range_is_refused(days):
    with pytest.raises(ValidationError):
        tokens.issue(actor="test", user=make_user("li"), days=days)
    assert not ApiToken.objects.exists()


def test_revoking_twice_is_refused_and_audited_once():
    token, _key = tokens.issue(actor="test", user=make_user("li"))
    tokens.revoke(actor="test", token=token)
    with pytest.raises(ValidationError):
        tokens.revoke(actor="test", token=token)
    assert AuditEvent.objects.filter(action="security.token_revoked").count() == 1


def test_the_token_command_creates_lists_and_revokes(clock):
    make_user("li")
    out = io.StringIO()
    call_command("token", "create", "li", "--days", "10", "--name", "nightly sync", stdout=out)
    key = out.getvalue().split()[-1]
    assert call(key).status_code == 200
    token = ApiToken.objects.get()
    assert token.name == "nightly sync" and (token.expires_at - clock.now).days == 10
    listing = io.StringIO()
    call_command("token", "list", stdout=listing)
    assert token.prefix in listing.getvalue() and key not in listing.getvalue()
    call_command("token", "revoke", str(token.pk), stdout=io.StringIO())
    assert call(key).status_code == 401
    empty = io.StringIO()
    call_command("token", "list", stdout=empty)
    assert empty.getvalue() == ""
    everything = io.StringIO()
    call_command("token", "list", "--all", stdout=everything)
    assert "revoked" in everything.getvalue()
    with pytest.raises(CommandError, match="already revoked"):
        call_command("token", "revoke", str(token.pk), stdout=io.StringIO())
    with pytest.raises(CommandError, match="no token"):
        call_command("token", "revoke", "999", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no user"):
        call_command("token", "create", "nobody", stdout=io.StringIO())


def test_revoke_all_revokes_only_live_tokens():
    user = make_user("li")
    first, _ = tokens.issue(actor="test", user=user)
    tokens.issue(actor="test", user=user)
    tokens.revoke(actor="test", token=first)
    assert tokens.revoke_all(actor="test", user=user) == 1


def test_the_refusal_is_in_chinese_by_default(clock):
    user = make_user("li")
    token, key = tokens.issue(actor="test", user=user)
    tokens.revoke(actor="test", token=token)
    with translation.override("zh-hans"):
        assert call(key).data["detail"] == "该令牌已被吊销。"
