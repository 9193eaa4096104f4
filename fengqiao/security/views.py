"""The admin sign-in in two steps (ADR 0010): password, then a TOTP or recovery code when one is needed.

The session is only signed in (`django.contrib.auth.login`) after both steps. Between them it holds a pending
sign-in that lasts PENDING_SECONDS. Users who need a second factor and have none are sent to set one up.
These views take over ``admin/login/`` (fengqiao/urls.py includes them before the admin site).
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model, login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from fengqiao.core.context import request_client_address
from fengqiao.security import clock, policy
from fengqiao.security.forms import CodeForm, SignInForm
from fengqiao.security.middleware import LAST_SEEN
from fengqiao.security.services import lockout, otp

PENDING = "security.pending"
PENDING_SECONDS = 300


def _next_url(request):
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("admin:index")


def _context(request, **extra):
    return {
        **admin.site.each_context(request),
        "title": _("Log in"),
        "subtitle": None,
        "app_path": request.get_full_path(),
        "username": request.user.get_username(),
        **extra,
    }


def _pending(request):
    """(user, pending data) of the sign-in waiting for its second step, or (None, None)."""
    data = request.session.get(PENDING)
    if not data:
        return None, None
    user = get_user_model()._default_manager.filter(pk=data["user"], is_active=True).first()
    if user is None or clock.now().timestamp() - data["since"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None, None
    return user, data


def _restart(request, message):
    request.session.pop(PENDING, None)
    messages.error(request, message)
    return redirect("security:login")


def _complete(request, user, backend, second_factor=""):
    request.session.pop(PENDING, None)
    login(request, user, backend=backend)
    request.session[LAST_SEEN] = clock.now().timestamp()
    lockout.record_success(user=user, address=request_client_address(request), second_factor=second_factor)


@sensitive_post_parameters()
@csrf_protect
@never_cache
def sign_in(request):
    next_url = _next_url(request)
    if request.method == "GET" and admin.site.has_permission(request):
        return redirect(next_url)
    form = SignInForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        if not policy.second_factor_needed(user):
            _complete(request, user, user.backend)
            return redirect(next_url)
        request.session[PENDING] = {
            "user": user.pk,
            "backend": user.backend,
            "since": clock.now().timestamp(),
            "next": next_url,
        }
        return redirect("security:verify" if policy.has_device(user) else "security:enrol")
    return render(request, "admin/login.html", _context(request, form=form, next=next_url))


@sensitive_post_parameters()
@csrf_protect
@never_cache
def verify(request):
    user, data = _pending(request)
    if user is None:
        return _restart(request, _("Sign in with your password first."))
    if not policy.has_device(user):
        return redirect("security:enrol")
    address = request_client_address(request)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if lockout.active_lockout(username=user.get_username(), address=address) is not None:
            return _restart(request, _("Too many failed sign-ins: signing in is locked for now."))
        try:
            kind = otp.verify(user=user, code=form.cleaned_data["code"], address=address)
        except ValidationError as exc:
            if lockout.active_lockout(username=user.get_username(), address=address) is not None:
                return _restart(request, _("Too many failed sign-ins: signing in is locked for now."))
            form.add_error("code", exc)
        else:
            _complete(request, user, data["backend"], second_factor=kind)
            return redirect(data["next"])
    return render(request, "security/verify.html", _context(request, form=form, title=_("Second factor")))


@sensitive_post_parameters()
@csrf_protect
@never_cache
def enrol(request):
    user, data = _pending(request)
    if user is None:
        return _restart(request, _("Sign in with your password first."))
    if policy.has_device(user):
        return redirect("security:verify")
    device = otp.start_enrolment(user=user)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = otp.confirm_enrolment(user=user, code=form.cleaned_data["code"])
        except ValidationError as exc:
            form.add_error("code", exc)
        else:
            _complete(request, user, data["backend"], second_factor="totp")
            context = _context(request, codes=codes, next=data["next"], title=_("Recovery codes"))
            return render(request, "security/recovery_codes.html", context)
    context = _context(
        request,
        form=form,
        secret=device.secret,
        uri=otp.provisioning_uri(device),
        title=_("Set up a second factor"),
    )
    return render(request, "security/enrol.html", context)
