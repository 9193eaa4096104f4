"""Idle session timeout (等保 level 3: 登录连接超时自动退出) and the stop for expired staff passwords.

A signed-in session that has seen no request for ``SESSION_IDLE_SECONDS`` is ended (logged out) at its next
request, which then continues as anonymous (the admin sends it to the sign-in page). The last-seen time is
written at most every `resolution` seconds, so an active session does not write on every request.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from fengqiao.security import clock, policy

LAST_SEEN = "security.last_seen"


def resolution(idle):
    return min(60, max(1, idle // 10))


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            idle = settings.SESSION_IDLE_SECONDS
            now = clock.now().timestamp()
            last = session.get(LAST_SEEN)
            if idle > 0 and last is not None and now - last > idle:
                logout(request)
                messages.warning(
                    request,
                    _("You were signed out after %(minutes)d minutes without activity.") % {"minutes": idle // 60},
                )
            elif last is None or now - last >= resolution(idle):
                session[LAST_SEEN] = now
        return self.get_response(request)


class PasswordAgeMiddleware:
    """Staff whose password has expired (`policy.password_change_required`) can do nothing but change it
    (等保 level 3): an admin page sends them to the password change page, an API call through the session gets 403
    saying why. Signing in and out, the password change itself and the language switch stay open.

    Only session users are seen here; API tokens are refused by `ExpiringTokenAuthentication`, and the token
    endpoint issues none (`tokens.issue_for_sign_in`)."""

    OPEN = frozenset(
        {
            "security:password_change",
            "admin:password_change",
            "admin:password_change_done",
            "admin:logout",
            "admin:jsi18n",
            "security:login",
            "security:verify",
            "security:enrol",
            "set_language",
        }
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = getattr(request, "resolver_match", None)
        if match is None or match.view_name in self.OPEN:
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not policy.password_change_required(user):
            return None
        if getattr(view_func, "cls", None) is not None:  # a DRF view: answer as the API does
            return JsonResponse({"detail": policy.password_expired_message(user)}, status=403)
        return redirect("admin:password_change")
