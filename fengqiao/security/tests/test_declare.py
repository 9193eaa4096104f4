"""The view declarations read by the every-URL test (fengqiao/api/tests/test_declarations.py)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory
from django.views.generic import View

from fengqiao.departments.tests.builders import make_user
from fengqiao.security import declare, views


def hello(request):
    return HttpResponse("hello")


def test_public_needs_a_reason_and_is_read_back():
    with pytest.raises(ValueError):
        declare.public("  ")
    view = declare.public("a health check: says only that the process runs")(hello)
    assert declare.declared(view) == "public: a health check: says only that the process runs"
    assert declare.declared(lambda request: None) is None


def test_class_based_views_are_declared_on_the_class():
    @declare.public("nothing to hide")
    class Page(View):
        pass

    assert declare.declared(Page.as_view()) == "public: nothing to hide"


def test_the_sign_in_pages_are_declared_public_with_their_reason():
    for view in (views.sign_in, views.verify, views.enrol):
        assert declare.declared(view).startswith("public: the sign-in itself")
    assert declare.declared(views.password_change).startswith("staff:")


@pytest.mark.django_db
def test_requires_checks_every_permission_named():
    with pytest.raises(ValueError):
        declare.requires("view_person")
    view = declare.requires("people.view_person", "people.unmask_person")(lambda request: HttpResponse("ok"))
    assert declare.declared(view) == "permissions: people.view_person, people.unmask_person"
    request = RequestFactory().get("/")
    request.user = make_user("half", perms=["people.view_person"])
    with pytest.raises(PermissionDenied):
        view(request)
    request.user = make_user("both", perms=["people.view_person", "people.unmask_person"])
    assert view(request).content == b"ok"


@pytest.mark.django_db
def test_staff_page_sends_others_to_the_sign_in():
    view = declare.staff_page(lambda request: HttpResponse("staff only"))
    request = RequestFactory().get("/x/")
    request.user = make_user("li")
    assert view(request).status_code == 302
    request.user = make_user("staff", is_staff=True)
    assert view(request).content == b"staff only"


def test_a_view_below_the_security_layer_declares_itself_public_with_an_attribute():
    def probe(request):
        return HttpResponse("ok")

    probe.public_reason = "liveness probe"
    assert declare.declared(probe) == "public: liveness probe"
    probe.public_reason = " "
    assert declare.declared(probe) is None
