"""Idle session timeout (等保 level 3: 登录连接超时自动退出).

A signed-in session that has seen no request for ``SESSION_IDLE_SECONDS`` is ended (logged out) at its next
request, which then continues as anonymous (the admin sends it to the sign-in page). The last-seen time is
written at most every `resolution` seconds, so an active session does not write on every request.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.utils.translation import gettext as _

from fengqiao.security import clock

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
