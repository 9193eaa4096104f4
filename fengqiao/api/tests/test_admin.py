"""Every registered admin renders for a superuser; admin writes go through the services; personal data is
masked in the reception admin."""

import datetime
import io

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image

from fengqiao.accounts.models import MemberKind, Role
from fengqiao.accounts.scope import Scope
from fengqiao.accounts.services import assign_grid, grant_area_role
from fengqiao.areas.models import Area, AreaChange, Boundary, DivisionEdition, Grid
from fengqiao.areas.tests.factories import make_boundary, make_chain, make_grid, square
from fengqiao.audit.models import AuditEvent
from fengqiao.centres import services as centre_services
from fengqiao.centres.models import Centre, Reception, ServiceSpace, Stationing
from fengqiao.centres.tests.builders import make_centre, make_space, space_type, station
from fengqiao.core.crypto import lookup_hash
from fengqiao.departments.models import Category, Department
from fengqiao.departments.tests.builders import make_category, make_department, make_user
from fengqiao.matters import engine, services
from fengqiao.matters import tasks as task_services

MODELS = sorted(admin.site._registry, key=lambda m: m._meta.label)


@pytest.fixture
def world(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path  # matter photos are stored (encrypted) here
    chain = make_chain()
    root = make_user("root", superuser=True)
    AreaChange.objects.create(area=chain["village"], edition="2024", kind="created")
    DivisionEdition.objects.create(label="2024", valid_from=timezone.localdate(), counts={"created": 1})
    make_boundary(chain["town"], square(113.5, 23.7))
    grid = make_grid(chain["village"], "G01", square(113.5, 23.7))
    from fengqiao.areas.models import StandardAddress

    point = {"lon": 113.505, "lat": 23.705, "area": chain["village"], "grid": grid}
    StandardAddress.objects.create(address="汤塘村一号", normalised="汤塘村一号", key="一号", **point)
    member = make_user("grid-member")
    grant_area_role(actor="test", user=member, area=chain["village"], role=Role.GRID_MEMBER)
    assign_grid(actor="test", user=member, grid=grid, member_kind=MemberKind.FULL_TIME)
    category = make_category("T-x")
    department = make_department(chain["county"], "sfj", catalogue=[category])
    centre = make_centre(chain["town"])
    station(centre, department, make_user("li"), space=make_space(centre))
    centre_services.log_reception(
        actor=root, centre=centre, purpose="咨询", visitor_name="欧阳娜娜", visitor_phone="13800138000"
    )
    from fengqiao.people.tests.builders import people_world

    people_world({"chain": chain, "grid": grid})
    Group.objects.create(name="staff")
    from fengqiao.security.tests.builders import one_of_each

    one_of_each(root)
    DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="fengqiao.tasks.example",
        backend_name="default",
        run_after=timezone.now(),
        exception_class_path="",
        traceback="",
    )
    matters_world(root, chain, member, department)
    from fengqiao.core.models import JobRun, Stamp
    from fengqiao.departments.services import add_member
    from fengqiao.workdays.tests.builders import one_of_each as workdays_world

    workdays_world()
    JobRun.objects.create(name="deadline-sweep", next_run_at=timezone.now(), runs=1, last_result="{}")
    Stamp.objects.create(name="authz", value=1)
    add_member(actor=root, user=member, department=department)
    from fengqiao.open311.tests.builders import one_of_each as open311_world

    open311_world(root, category)
    return {"root": root, "chain": chain, "centre": centre, "department": department, "category": category}


def matters_world(root, chain, member, department):
    """A matter with a photo, a timeline, dispatches, clocks, an extension request and a supervision; a task (the
    deadline policies come from the migration)."""
    member.user_permissions.add(Permission.objects.get(content_type__app_label="matters", codename="work_matter"))
    photo = io.BytesIO()
    Image.new("RGB", (32, 24), (20, 120, 200)).save(photo, "JPEG")
    matter, _created = services.submit(
        actor=root,
        channel="walk_in",
        title="路灯不亮",
        lon=113.505,
        lat=23.705,
        reporter_name="欧阳娜娜",
        reporter_phone="13800138000",
        photos=[("lamp.jpg", photo.getvalue())],
    )
    engine.perform(matter, "accept", actor=root)
    targets = [{"assignee": member.pk}, {"department": department.pk, "role": "assist"}]
    engine.perform(matter, "dispatch", actor=root, payload={"targets": targets})
    member = type(member).objects.get(pk=member.pk)  # fresh permission cache
    engine.perform(matter, "acknowledge", actor=member)
    engine.perform(matter, "request_extension", actor=member, reason="等配件", payload={"amount": 3})
    engine.perform(matter, "supervise", actor=root, payload={"note": "尽快办理"})
    task_services.create_task(
        actor=root,
        scope=Scope.for_user(root),
        area=chain["town"],
        title="排查路灯",
        due_at=timezone.now() + datetime.timedelta(days=7),
        department=department.pk,
    )


@pytest.fixture
def admin_client(client, world):
    client.force_login(world["root"])
    return client


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_every_admin_changelist_add_and_change_page_renders(admin_client, world, model):
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = world["root"]
    assert admin_client.get(_url(model, "changelist")).status_code == 200
    assert admin_client.get(_url(model, "changelist"), {"q": "1"}).status_code == 200
    if model_admin.has_add_permission(request):
        assert admin_client.get(_url(model, "add")).status_code == 200
    obj = model_admin.get_queryset(request).first()
    assert obj is not None, f"the test world has no {model._meta.label}"
    assert admin_client.get(_url(model, "change", obj.pk)).status_code == 200


def test_the_admin_index_lists_every_app(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    for model in MODELS:
        assert _url(model, "changelist").encode() in response.content


def test_boundary_and_grid_pages_show_no_wkb(admin_client):
    for model in (Boundary, Grid):
        page = admin_client.get(_url(model, "change", model.objects.first().pk)).content.decode()
        assert "geometry_wkb" not in page
        assert "113.50000" in page  # the bounding box


def test_adding_a_department_in_the_admin_goes_through_the_service(admin_client, world):
    data = {
        "area": world["chain"]["town"].pk,
        "code": "pcs",
        "name": "汤塘派出所",
        "short_name": "",
        "kind": "police",
        "office_phone": "",
        "active": "on",
        "responsibility_set-TOTAL_FORMS": "1",
        "responsibility_set-INITIAL_FORMS": "0",
        "responsibility_set-0-category": world["category"].pk,
        "responsibility_set-0-lead": "on",
        "responsibility_set-0-note": "",
    }
    response = admin_client.post(_url(Department, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    department = Department.objects.get(code="pcs")
    assert list(department.categories.all()) == [world["category"]]
    assert AuditEvent.objects.filter(action="department.create", object_id=str(department.pk)).exists()
    assert AuditEvent.objects.filter(action="department.catalogue", object_id=str(department.pk)).exists()


def test_the_admin_refuses_a_duplicate_department_code_with_a_form_error(admin_client, world):
    data = {
        "area": world["chain"]["county"].pk,
        "code": "sfj",
        "name": "dup",
        "kind": "government",
        "responsibility_set-TOTAL_FORMS": "0",
        "responsibility_set-INITIAL_FORMS": "0",
    }
    response = admin_client.post(_url(Department, "add"), data)
    assert response.status_code == 200
    assert "code" in response.context["adminform"].form.errors


def test_adding_a_centre_with_a_hall_and_a_stationing_in_the_admin(admin_client, world):
    hall = space_type("t-hall")
    staff = make_user("wang")
    data = {
        "area": world["chain"]["village"].pk,
        "name": "汤塘村综治中心",
        "address": "",
        "duty_phone": "",
        "active": "on",
        "spaces-TOTAL_FORMS": "1",
        "spaces-INITIAL_FORMS": "0",
        "spaces-0-space_type": hall.pk,
        "spaces-0-name": "群众接待厅",
        "spaces-0-active": "on",
        "roster-TOTAL_FORMS": "1",
        "roster-INITIAL_FORMS": "0",
        "roster-0-department": world["department"].pk,
        "roster-0-staff": staff.pk,
        "roster-0-duty": "调解",
        "roster-0-valid_from": "2025-01-01",
    }
    response = admin_client.post(_url(Centre, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    centre = Centre.objects.get(area=world["chain"]["village"])
    assert ServiceSpace.objects.get(centre=centre).space_type == hall
    assert Stationing.objects.get(centre=centre).staff == staff
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"centre.create", "centre.space.add", "centre.station"} <= actions


def test_the_admin_refuses_a_centre_at_province_level(admin_client, world):
    data = {
        "area": world["chain"]["province"].pk,
        "name": "省",
        "spaces-TOTAL_FORMS": "0",
        "spaces-INITIAL_FORMS": "0",
        "roster-TOTAL_FORMS": "0",
        "roster-INITIAL_FORMS": "0",
    }
    response = admin_client.post(_url(Centre, "add"), data)
    assert response.status_code == 200 and "area" in response.context["adminform"].form.errors


def test_the_admin_refuses_an_overlapping_stationing(admin_client, world):
    existing = Stationing.objects.get()
    data = {
        "centre": existing.centre.pk,
        "department": existing.department.pk,
        "staff": existing.staff.pk,
        "duty": "",
        "valid_from": "2025-02-01",
    }
    response = admin_client.post(_url(Stationing, "add"), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Stationing.objects.count() == 1


def test_reception_admin_masks_visitor_details_and_finds_them_by_phone(admin_client, world):
    changelist = admin_client.get(_url(Reception, "changelist")).content.decode()
    assert "欧***" in changelist and "138****8000" in changelist
    assert "欧阳娜娜" not in changelist and "13800138000" not in changelist
    reception = Reception.objects.get()
    change = admin_client.get(_url(Reception, "change", reception.pk)).content.decode()
    assert "欧阳娜娜" not in change and "13800138000" not in change and "138****8000" in change
    found = admin_client.get(_url(Reception, "changelist"), {"q": "138 0013 8000"})
    assert list(found.context["cl"].result_list) == [reception]


def test_logging_a_visit_in_the_admin_stores_the_phone_hash(admin_client, world):
    data = {
        "centre": world["centre"].pk,
        # an hour ago (a visit cannot be logged in the future, and 09:00 today is still to come just after midnight)
        "received_at_0": (timezone.localtime() - datetime.timedelta(hours=1)).date().isoformat(),
        "received_at_1": (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%H:%M:%S"),
        "visitor_name": "张三",
        "visitor_phone": "13900000000",
        "headcount": "1",
        "purpose": "问路",
        "outcome": "answered",
    }
    response = admin_client.post(_url(Reception, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    reception = Reception.objects.get(purpose="问路")
    assert reception.visitor_phone_hash == lookup_hash("13900000000")
    assert reception.received_by == world["root"]


def form_data(response):
    """The POST data a browser would send back unchanged from an admin change form."""

    def fields_of(form):
        data = {}
        for name, field in form.fields.items():
            value = form[name].value()
            if value is None or field.disabled:
                continue
            if isinstance(value, bool):
                if value:
                    data[form.add_prefix(name)] = "on"
                continue
            if isinstance(value, list | tuple):
                for i, part in enumerate(value):
                    data[f"{form.add_prefix(name)}_{i}"] = "" if part is None else str(part)
                continue
            data[form.add_prefix(name)] = str(value)
        return data

    data = fields_of(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(fields_of(formset.management_form))
        for form in formset.initial_forms:
            data.update(fields_of(form))
    return data


def test_moving_a_category_in_the_admin_rewrites_the_subtree(admin_client, world):
    child = make_category("T-x-1", parent=world["category"])
    target = make_category("T-y")
    url = _url(Category, "change", world["category"].pk)
    data = form_data(admin_client.get(url)) | {"parent": str(target.pk)}
    response = admin_client.post(url, data)
    assert response.status_code == 302
    child.refresh_from_db()
    assert child.path == "T-y/T-x/T-x-1/"
    assert AuditEvent.objects.filter(action="category.move").exists()
    data = form_data(admin_client.get(_url(Category, "change", target.pk))) | {"parent": str(child.pk)}
    response = admin_client.post(_url(Category, "change", target.pk), data)
    assert response.status_code == 200 and "parent" in response.context["adminform"].form.errors


def test_adding_an_area_in_the_admin_uses_create_area_and_checks_the_parent(admin_client, world):
    town = world["chain"]["town"]
    data = {"code": "441821101299", "name": "新村", "parent": town.pk, "valid_from": "2025-06-30", "edition": "manual"}
    response = admin_client.post(_url(Area, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    area = Area.objects.get(code="441821101299")
    assert area.path == town.path + "441821101299/" and area.level == 5
    assert AuditEvent.objects.filter(action="area.create").exists()
    assert AreaChange.objects.filter(area=area, kind="created").exists()
    data |= {"code": "441821101298", "parent": world["chain"]["province"].pk}
    response = admin_client.post(_url(Area, "add"), data)
    assert response.status_code == 200 and "parent" in response.context["adminform"].form.errors


def test_editing_and_retiring_a_grid_in_the_admin_go_through_the_grid_services(admin_client, world):
    grid = Grid.objects.get()
    url = _url(Grid, "change", grid.pk)
    response = admin_client.post(url, form_data(admin_client.get(url)) | {"households": "420"})
    assert response.status_code == 302
    grid.refresh_from_db()
    assert grid.households == 420
    assert AuditEvent.objects.get(action="grid.update").data["after"] == {"households": 420}
    response = admin_client.post(
        _url(Grid, "changelist"), {"action": "retire", "_selected_action": [grid.pk]}, follow=True
    )
    assert response.status_code == 200
    grid.refresh_from_db()
    assert grid.valid_to is not None and AuditEvent.objects.filter(action="grid.retire").exists()


def test_ending_a_stationing_in_the_centre_inline(admin_client, world):
    centre = world["centre"]
    stationing = Stationing.objects.get()
    url = _url(Centre, "change", centre.pk)
    data = form_data(admin_client.get(url))
    response = admin_client.post(url, data | {"roster-0-valid_to": "2025-06-30"})
    assert response.status_code == 302, response.context["inline_admin_formsets"][1].formset.errors
    stationing.refresh_from_db()
    assert stationing.valid_to.isoformat() == "2025-06-30"
    assert AuditEvent.objects.filter(action="centre.stationing.end").exists()
    data = form_data(admin_client.get(url))
    response = admin_client.post(url, data | {"roster-0-valid_to": "2025-12-31"})
    assert response.status_code == 200
    stationing.refresh_from_db()
    assert stationing.valid_to.isoformat() == "2025-06-30"


def test_every_fengqiao_model_is_registered_in_the_admin():
    from django.apps import apps

    ours = [m for m in apps.get_models() if m.__module__.startswith("fengqiao.")]
    missing = sorted(m._meta.label for m in ours if m not in admin.site._registry)
    assert ours and missing == []
