"""DRF authentication with the expiring, revocable per-user API tokens of `fengqiao.security` (ADR 0010).

``Authorization: Token fq_…``. Expired and revoked tokens, tokens of deactivated users and of staff whose
password has expired get 401 with a message that says which; nothing is written for them. Keys without the
``fq_`` prefix (DRF's permanent tokens, no longer accepted) get 401 saying where a new key comes from.
"""

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from fengqiao.security.services import tokens


class ExpiringTokenAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header: give the key after the word Token."))
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token header: the key has invalid characters.")) from None
        if not key.startswith(tokens.KEY_PREFIX):
            raise exceptions.AuthenticationFailed(
                _("Invalid token: API keys start with fq_. Ask for a new one at /api/v1/auth/token/.")
            )
        try:
            token = tokens.authenticate_key(key)
        except tokens.TokenRejected as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
