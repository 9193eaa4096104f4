"""The admin sign-in in two steps (ADR 0010): password, then a TOTP or recovery code when one is needed.

The session is only signed in (`django.contrib.auth.login`) after both steps. Between them it holds a pending
sign-in that lasts PENDING_SECONDS. Users who need a second factor and have none are sent to set one up.
These views take over ``admin/login/`` (fengqiao/urls.py includes them before the admin site).

Staff whose password has expired (`policy.password_change_required`) go from the sign-in straight to the password
change page, which these views also take over (``admin/password_change/``) to say why and to audit the change;
`PasswordAgeMiddleware` keeps them there until they have changed it.
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model, login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from fengqiao.audit import services as audit
from fengqiao.core.context import request_client_address
from fengqiao.security import clock, policy
from fengqiao.security.declare import public, staff_page
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


def _complete(request, user, backend, next_url, second_factor=""):
    """Sign the session in; returns where to go next: `next_url`, or the password change page if it expired."""
    request.session.pop(PENDING, None)
    login(request, user, backend=backend)
    request.session[LAST_SEEN] = clock.now().timestamp()
    lockout.record_success(user=user, address=request_client_address(request), second_factor=second_factor)
    return reverse("admin:password_change") if policy.password_change_required(user) else next_url


SIGN_IN = "the sign-in itself: anyone may try, failures count towards the lockout"


@public(SIGN_IN)
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
            return redirect(_complete(request, user, user.backend, next_url))
        request.session[PENDING] = {
            "user": user.pk,
            "backend": user.backend,
            "since": clock.now().timestamp(),
            "next": next_url,
        }
        return redirect("security:verify" if policy.has_device(user) else "security:enrol")
    return render(request, "admin/login.html", _context(request, form=form, next=next_url))


@public(SIGN_IN + " (second step, only with a pending sign-in)")
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
            return redirect(_complete(request, user, data["backend"], data["next"], second_factor=kind))
    return render(request, "security/verify.html", _context(request, form=form, title=_("Second factor")))


@public(SIGN_IN + " (second-factor set-up, only with a pending sign-in)")
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
            next_url = _complete(request, user, data["backend"], data["next"], second_factor="totp")
            context = _context(request, codes=codes, next=next_url, title=_("Recovery codes"))
            return render(request, "security/recovery_codes.html", context)
    context = _context(
        request,
        form=form,
        secret=device.secret,
        uri=otp.provisioning_uri(device),
        title=_("Set up a second factor"),
    )
    return render(request, "security/enrol.html", context)


@staff_page
@sensitive_post_parameters()
def password_change(request):
    """The admin's own password change page, which says why when the password has expired and audits the change
    (in the same transaction as the new password)."""
    expired = policy.password_change_required(request.user)
    if expired and request.method == "GET":
        messages.warning(request, policy.password_expired_message(request.user))
    with transaction.atomic():
        response = admin.site.password_change(request)
        if request.method == "POST" and response.status_code == 302:  # the form was valid: password changed
            user = get_user_model()._default_manager.get(pk=request.user.pk)
            audit.record(
                actor=user,
                action="security.password_changed",
                obj=user,
                summary=f"{user.get_username()} changed their password" + (" (expired)" if expired else ""),
                data={"user": user.pk, "expired": expired},
            )
    return response
