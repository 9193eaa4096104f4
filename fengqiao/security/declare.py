"""Every view says who may use it; fengqiao/api/tests/test_declarations.py walks every URL and fails otherwise.

DRF views declare ``permission_classes`` on their class and admin pages are guarded by the admin site. A plain
Django view declares itself with one of these decorators, which set the ``fengqiao_permission`` attribute the
test reads (put them outermost, so the attribute is on the callable the URL pattern holds):

* ``@public("reason")``: anyone may call it, and the reason says why that is safe (sign-in pages, health);
* ``@staff_page``: the admin site's own guard (an active staff user), for pages that belong with the admin;
* ``@requires("app.perm", ...)``: signed in and holding every permission named (403 otherwise).

A module below this one in the layers (`fengqiao.core`) cannot import these; it declares a public view by setting
``view.public_reason = "reason"``, which `declared` reads as ``public(reason)``.
"""

from django.contrib import admin
from django.contrib.auth.decorators import permission_required

ATTRIBUTE = "fengqiao_permission"
PUBLIC_REASON = "public_reason"


def declared(view):
    """The declaration of `view` (a function, or a class-based view's `as_view()`), or None."""
    for holder in (view, getattr(view, "view_class", None)):
        if holder is None:
            continue
        if getattr(holder, ATTRIBUTE, None):
            return getattr(holder, ATTRIBUTE)
        reason = getattr(holder, PUBLIC_REASON, None)
        if isinstance(reason, str) and reason.strip():
            return f"public: {reason.strip()}"
    return None


def _mark(view, declaration):
    setattr(view, ATTRIBUTE, declaration)
    return view


def public(reason):
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("@public needs the reason why anyone may call the view")

    def decorate(view):
        return _mark(view, f"public: {reason.strip()}")

    return decorate


def staff_page(view):
    return _mark(admin.site.admin_view(view), "staff: the admin site's guard (active staff users)")


def requires(*perms):
    if not perms or not all(isinstance(p, str) and p.count(".") == 1 for p in perms):
        raise ValueError("@requires needs permissions as 'app_label.codename'")

    def decorate(view):
        return _mark(permission_required(perms, raise_exception=True)(view), f"permissions: {', '.join(perms)}")

    return decorate
