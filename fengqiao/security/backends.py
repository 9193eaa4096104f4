"""The one authentication backend: Django's ModelBackend with lockouts (refuses locked user names and addresses,
counts failures) and with the permissions of the roles the user holds today (`accounts.backends`, ADR 0009).

Used by every password check that goes through `django.contrib.auth.authenticate` — the admin sign-in and the
API's token endpoint alike. A refusal because of a lockout is not counted again.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from fengqiao.accounts.backends import RolePermissionBackend
from fengqiao.core.context import request_client_address
from fengqiao.security.services import lockout


class LockoutModelBackend(RolePermissionBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        address = request_client_address(request)
        if lockout.active_lockout(username=username, address=address) is not None:
            raise PermissionDenied  # stops authenticate(); the caller sees a failed sign-in
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            known = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
            lockout.record_failure(username=username, address=address, user=known)
        return user
