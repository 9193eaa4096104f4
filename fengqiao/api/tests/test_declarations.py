"""Every URL of fengqiao/urls.py says who may use it (ADR 0009; cisagov's every-URL test), walked recursively through
every include, so a view added anywhere fails here until it declares its permission:

* a DRF view sets ``permission_classes`` on its own class (not inherited from DRF's defaults);
* an admin page is guarded by the admin site (active staff, then the model permissions), and its ModelAdmin
  either scopes its rows (`ScopedAdminMixin` with an ``admin_scope_path`` that reaches an area's path) or is
  declared unscoped in `UNSCOPED_ADMINS` with the reason;
* a plain Django view carries a declaration (`fengqiao.security.declare`: ``@public(reason)``, ``@staff_page``,
  ``@requires(perm)``), or is listed in `PUBLIC` with the reason it needs none.
"""

import types

import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite, ModelAdmin
from django.core.exceptions import FieldDoesNotExist
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.urls.resolvers import LocalePrefixPattern
from rest_framework.views import APIView

from fengqiao import urls as project_urls
from fengqiao.accounts.admin_scope import ScopedAdminMixin
from fengqiao.areas.models import Area
from fengqiao.people.models import Person
from fengqiao.security.declare import declared, public

# (route, view) → why the view needs no declaration of its own.
PUBLIC = {
    ("", "django.views.generic.base.RedirectView"): "sends / to the admin site, which asks for a sign-in",
    ("i18n/setlang/", "django.views.i18n.set_language"): "switches the interface language (a cookie): no data",
    ("api/schema/", "drf_spectacular.views.SpectacularAPIView"): "the OpenAPI description: documentation, no data",
    ("api/docs/", "drf_spectacular.views.SpectacularSwaggerView"): "the API documentation page: no data",
    ("api/redoc/", "drf_spectacular.views.SpectacularRedocView"): "the API documentation page: no data",
    ("api/v1/", "rest_framework.routers.APIRootView"): "DRF's index of endpoint URLs (signed-in users: the default)",
    ("api/v1/<drf_format_suffix:format>", "rest_framework.routers.APIRootView"): "the same index, with a format",
    ("admin/login/", "django.contrib.admin.sites.AdminSite.login"): (
        "the admin's own sign-in, never reached: the two-step sign-in (security.urls) answers the same URL first"
    ),
}

# Admins whose rows have no area, or are read whole by the administrators who manage them. Each says why.
REFERENCE = "reference data: the same for every area, readable by every signed-in user in the API too"
SECURITY = "login security records, handled by the security administrator (三权分立), not by area"
UNSCOPED_ADMINS = {
    "accounts.User": "accounts have no area of their own (a user's areas are their assignments); "
    "managed by the security administrator",
    "areas.Area": "the division tree: " + REFERENCE,
    "areas.AreaChange": "changes of the division tree: " + REFERENCE,
    "areas.Boundary": "boundaries of the division tree: " + REFERENCE,
    "areas.DivisionEdition": "editions of the division codes: " + REFERENCE,
    "areas.GridLayer": "kinds of grid: " + REFERENCE,
    "audit.AuditEvent": "the audit trail, read whole by the audit administrator (三权分立)",
    "audit.ChainHead": "the audit chain's head: the audit administrator's",
    "auth.Group": "the role → permission mapping: configuration, not area data",
    "centres.SpaceType": "kinds of service space: " + REFERENCE,
    "core.JobRun": "what the worker's periodic jobs did last: operational data, no area",
    "core.Stamp": "counters that tell processes their cached copies are stale: operational data, no area",
    "departments.Category": "the matter categories: " + REFERENCE,
    "django_tasks_database.DBTaskResult": "the background job queue: system administration",
    "matters.DeadlinePolicy": "national deadline rules (like categories): edited by system administrators",
    "notifications.Notification": "belongs to its recipient, not an area: the admin is closed to all but "
    "unrestricted users (ADR 0012)",
    "notifications.Delivery": "deliveries of notifications: as notifications.Notification",
    "open311.ApiKey": "keys of outside Open311 clients (no area): managed by the administrators who issue them",
    "open311.ServiceAttribute": "the questions of the Open311 services (categories): " + REFERENCE,
    "security.ApiToken": SECURITY,
    "security.Lockout": SECURITY,
    "security.LoginFailure": SECURITY,
    "security.PasswordHistory": SECURITY,
    "security.RecoveryCode": SECURITY,
    "security.TotpDevice": SECURITY,
    "workdays.CalendarOverride": "the national working-day calendar: " + REFERENCE,
}


def _name(view):
    """module.qualname of a view function, or of the class behind a class-based view."""
    target = getattr(view, "view_class", None) or getattr(view, "cls", None) or view
    return f"{target.__module__}.{target.__qualname__}"


def _model_admin(view):
    """The ModelAdmin a view belongs to: `model_admin` (ModelAdmin.get_urls), or the instance of a bound method
    found down the ``__wrapped__`` chain (custom admin URLs such as UserAdmin's password page)."""
    seen = 0
    while view is not None and seen < 20:
        owner = getattr(view, "model_admin", None) or getattr(view, "__self__", None)
        if isinstance(owner, ModelAdmin):
            return owner
        view, seen = getattr(view, "__wrapped__", None), seen + 1
    return None


def walk(patterns, prefix="", in_admin=False):
    """(route, view, in_admin) for every URL pattern, through every include."""
    for pattern in patterns:
        route = "" if isinstance(pattern.pattern, LocalePrefixPattern) else str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + route, in_admin or pattern.app_name == "admin")
        elif isinstance(pattern, URLPattern):
            yield prefix + route, pattern.callback, in_admin


def scope_path_problem(model_admin):
    """Why the admin's `admin_scope_path` does not reach an area's path, or None."""
    model, parts = model_admin.model, (model_admin.admin_scope_path or "").split("__")
    if not model_admin.admin_scope_path:
        return "uses ScopedAdminMixin without admin_scope_path"
    for part in parts[:-1]:
        try:
            model = model._meta.get_field(part).related_model
        except FieldDoesNotExist:
            model = None
        if model is None:
            return f"admin_scope_path {model_admin.admin_scope_path!r}: {part!r} is not a relation"
    if model is not Area or parts[-1] != "path":
        return f"admin_scope_path {model_admin.admin_scope_path!r} does not end at an area's path"
    return None


def admin_problem(model_admin):
    label = model_admin.model._meta.label
    if isinstance(model_admin, ScopedAdminMixin):
        problem = scope_path_problem(model_admin)
        if problem is None and label in UNSCOPED_ADMINS:
            problem = "is scoped but still listed in UNSCOPED_ADMINS"
        return problem and f"{label} ({type(model_admin).__name__}) {problem}"
    if label in UNSCOPED_ADMINS:
        return None
    return (
        f"{label} ({type(model_admin).__name__}) neither scopes its rows (ScopedAdminMixin + admin_scope_path) "
        "nor is declared unscoped with a reason (UNSCOPED_ADMINS)"
    )


def problems(urlconf):
    """One sentence per view of `urlconf` that does not declare who may use it (empty: all do)."""
    found = []
    for route, view, in_admin in walk(get_resolver(urlconf).url_patterns):
        name = _name(view)
        if (route, name) in PUBLIC:
            continue
        cls = getattr(view, "cls", None)
        if isinstance(cls, type) and issubclass(cls, APIView):
            if "permission_classes" not in vars(cls):
                found.append(f"{route}: DRF view {name} does not set permission_classes on its class")
            continue
        if in_admin:
            model_admin = _model_admin(view)
            if model_admin is None and declared(view) is not None:
                continue
            if model_admin is not None:
                problem = admin_problem(model_admin)
                if problem and problem not in found:
                    found.append(problem)
            elif getattr(view, "admin_site", None) is None:
                found.append(f"{route}: admin view {name} is not guarded by the admin site")
            continue
        if declared(view) is None:
            found.append(
                f"{route}: view {name} declares no permission (fengqiao.security.declare) and is not in PUBLIC"
            )
    return found


def test_every_view_of_the_project_declares_who_may_use_it():
    assert problems(project_urls) == []


def test_the_walk_reaches_every_registered_admin_and_every_router_endpoint():
    routes = list(walk(get_resolver(project_urls).url_patterns))
    admins = {type(_model_admin(view)) for _route, view, in_admin in routes if in_admin and _model_admin(view)}
    assert admins == {type(model_admin) for model_admin in admin.site._registry.values()}
    from fengqiao.api.v1 import router

    classes = {getattr(view, "cls", None) for _route, view, _in_admin in routes}
    assert {viewset for _prefix, viewset, _basename in router.registry} <= classes


def test_the_lists_name_only_views_and_admins_that_exist():
    routes = {(route, _name(view)) for route, view, _in_admin in walk(get_resolver(project_urls).url_patterns)}
    assert set(PUBLIC) <= routes, "a PUBLIC entry no longer matches a URL"
    registered = {model._meta.label for model in admin.site._registry}
    assert set(UNSCOPED_ADMINS) <= registered, "an UNSCOPED_ADMINS entry names a model without an admin"
    assert all(reason.strip() for reason in [*PUBLIC.values(), *UNSCOPED_ADMINS.values()])


# --- a new undeclared view makes the test fail -----------------------------------------------------------


def undeclared_page(request):
    return HttpResponse("who may see this?")


class UndeclaredEndpoint(APIView):
    def get(self, request):
        return HttpResponse("inherits DRF's default permission without saying so")


class UnscopedPersonAdmin(ModelAdmin):
    """A plain ModelAdmin of a scoped model: every staff user with the permission would see every person."""


class ScopedToNothing(ScopedAdminMixin, ModelAdmin):
    admin_scope_path = "household__number"


class QuietSite(AdminSite):
    """An admin site whose own sign-in is declared (it would be reachable, unlike the project site's)."""

    @public("this test's site; a real one would bypass the two-step sign-in")
    def login(self, request, extra_context=None):
        return super().login(request, extra_context)


def new_problems(*extra):
    """The problems of the project's URLconf with `extra` patterns added, less those the project has already."""
    module = types.ModuleType("throwaway_urls")
    module.urlpatterns = [*project_urls.urlpatterns, *extra]
    known = problems(project_urls)
    return [problem for problem in problems(module) if problem not in known]


def test_a_new_undeclared_view_of_each_kind_fails():
    site = AdminSite(name="throwaway")
    site.register(Person, UnscopedPersonAdmin)
    found = new_problems(
        path("new/page/", undeclared_page),
        path("new/api/", UndeclaredEndpoint.as_view()),
        path("new/admin/", site.urls),
    )
    assert len(found) == 4, found
    assert found[0].startswith("new/page/: view fengqiao.api.tests.test_declarations.undeclared_page declares no")
    assert found[1] == (
        "new/api/: DRF view fengqiao.api.tests.test_declarations.UndeclaredEndpoint does not set permission_classes "
        "on its class"
    )
    # a second admin site brings its own sign-in, which would bypass the second factor (ADR 0010)
    assert (
        found[2]
        == "new/admin/login/: admin view django.contrib.admin.sites.AdminSite.login is not guarded by the admin site"
    )
    assert found[3].startswith("people.Person (UnscopedPersonAdmin) neither scopes its rows")


def test_declaring_the_view_or_scoping_the_admin_makes_it_pass():
    site = QuietSite(name="throwaway")
    site.register(Person, type("ScopedPersonAdmin", (ScopedAdminMixin, ModelAdmin), {"admin_scope_path": "area__path"}))
    page = public("a test page that shows nothing")(lambda request: HttpResponse("ok"))
    endpoint = type("DeclaredEndpoint", (UndeclaredEndpoint,), {"permission_classes": []})
    assert new_problems(path("new/page/", page), path("new/api/", endpoint.as_view()), path("x/", site.urls)) == []


@pytest.mark.parametrize(
    "scope_path,problem",
    [
        ("", "without admin_scope_path"),
        ("household__number", "does not end at an area's path"),
        ("nothing__path", "'nothing' is not a relation"),
    ],
)
def test_a_scoped_admin_must_reach_an_area_path(scope_path, problem):
    site = QuietSite(name="throwaway")
    site.register(Person, type("Wrong", (ScopedToNothing,), {"admin_scope_path": scope_path}))
    found = new_problems(path("x/", site.urls))
    assert len(found) == 1 and found[0].startswith("people.Person (Wrong)") and problem in found[0], found
