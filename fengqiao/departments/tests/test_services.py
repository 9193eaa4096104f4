import datetime

import pytest
from django.core.exceptions import ValidationError

from fengqiao.areas.tests.factories import make_chain
from fengqiao.audit.models import AuditEvent
from fengqiao.departments import services
from fengqiao.departments.models import Category, Department, Responsibility
from fengqiao.departments.tests.builders import make_category, make_category_chain, make_department, make_user

pytestmark = pytest.mark.django_db


def errors_of(excinfo):
    return excinfo.value.message_dict


# --- departments -----------------------------------------------------------------------------------------


def test_create_department_saves_and_records_an_audit_event():
    chain = make_chain()
    user = make_user()
    department = services.create_department(
        actor=user, area=chain["county"], code=" zfj ", name="佛冈县住房和城乡建设局", kind=Department.Kind.GOVERNMENT
    )
    assert department.pk and department.code == "zfj"
    event = AuditEvent.objects.get(action="department.create")
    assert event.actor == user and event.object_id == str(department.pk)
    assert event.data["area"] == chain["county"].code


def test_create_department_refuses_a_code_already_used_in_the_area():
    chain = make_chain()
    make_department(chain["county"], "gaj")
    with pytest.raises(ValidationError) as excinfo:
        services.create_department(actor="t", area=chain["county"], code="gaj", name="x")
    assert "code" in errors_of(excinfo)


def test_the_same_code_is_fine_in_another_area():
    chain = make_chain()
    make_department(chain["county"], "gaj")
    assert make_department(chain["town"], "gaj").area == chain["town"]


def test_create_department_refuses_a_retired_area_a_bad_kind_and_a_blank_name():
    chain = make_chain()
    chain["town"].valid_to = datetime.date(2024, 1, 1)
    chain["town"].save()
    with pytest.raises(ValidationError) as excinfo:
        services.create_department(actor="t", area=chain["town"], code="a", name="", kind="bogus")
    assert set(errors_of(excinfo)) >= {"area", "name", "kind"}
    assert not Department.objects.exists()


def test_update_department_changes_only_given_fields_and_records_them():
    chain = make_chain()
    department = make_department(chain["county"], "mzj", "民政局", office_phone="123")
    services.update_department(department, actor="t", name="佛冈县民政局", active=False)
    department.refresh_from_db()
    assert (department.name, department.active, department.office_phone) == ("佛冈县民政局", False, "123")
    event = AuditEvent.objects.get(action="department.update")
    assert event.data["changed"] == {"name": ["民政局", "佛冈县民政局"], "active": [True, False]}


def test_update_department_without_changes_records_nothing():
    department = make_department(make_chain()["county"], "mzj", "民政局")
    services.update_department(department, actor="t", name="民政局")
    assert not AuditEvent.objects.filter(action="department.update").exists()


def test_update_department_refuses_a_code_clash():
    county = make_chain()["county"]
    make_department(county, "a")
    other = make_department(county, "b")
    with pytest.raises(ValidationError) as excinfo:
        services.update_department(other, actor="t", code="a")
    assert "code" in errors_of(excinfo)
    other.refresh_from_db()
    assert other.code == "b"


def test_set_catalogue_adds_updates_and_removes_lines():
    county = make_chain()["county"]
    noise, waste, water = (make_category(c) for c in ("T-noise", "T-waste", "T-water"))
    department = make_department(county, "hbj", catalogue=[noise, waste])
    rows = services.set_catalogue(
        department, actor="t", entries=[services.CatalogueEntry(noise, lead=False, note="协办"), (water,)]
    )
    assert [(r.category.code, r.lead, r.note) for r in rows] == [("T-noise", False, "协办"), ("T-water", True, "")]
    assert set(Responsibility.objects.filter(department=department).values_list("category__code", flat=True)) == {
        "T-noise",
        "T-water",
    }
    event = AuditEvent.objects.filter(action="department.catalogue").first()
    assert event.data == {"added": ["T-water"], "removed": ["T-waste"], "updated": ["T-noise"]}


def test_set_catalogue_with_the_same_lines_records_nothing():
    category = make_category("T-x")
    department = make_department(make_chain()["county"], "d", catalogue=[category])
    before = AuditEvent.objects.count()
    services.set_catalogue(department, actor="t", entries=[category])
    assert AuditEvent.objects.count() == before


def test_set_catalogue_refuses_a_category_twice():
    category = make_category("T-x")
    department = make_department(make_chain()["county"], "d")
    with pytest.raises(ValidationError) as excinfo:
        services.set_catalogue(department, actor="t", entries=[category, {"category": category, "lead": False}])
    assert "catalogue" in errors_of(excinfo)
    assert not Responsibility.objects.exists()


# --- categories ------------------------------------------------------------------------------------------


def test_create_category_builds_the_path_and_inherits_the_scheme():
    root = make_category("T1", scheme=Category.Scheme.HOTLINE)
    child = make_category("T1-1", parent=root)
    assert (root.path, child.path) == ("T1/", "T1/T1-1/")
    assert child.scheme == Category.Scheme.HOTLINE
    assert AuditEvent.objects.filter(action="category.create").count() == 2


@pytest.mark.parametrize("code", ["", "a/b", "a b"])
def test_create_category_refuses_a_bad_code(code):
    with pytest.raises(ValidationError) as excinfo:
        services.create_category(actor="t", code=code, name="x")
    assert "code" in errors_of(excinfo)


def test_create_category_refuses_a_duplicate_code():
    make_category("T1")
    with pytest.raises(ValidationError) as excinfo:
        services.create_category(actor="t", code="T1", name="again")
    assert "code" in errors_of(excinfo)


def test_move_category_rewrites_the_paths_of_the_whole_subtree():
    _a, a1, _a11 = make_category_chain("A", "A1", "A11")
    b = make_category("B")
    other = make_category("A1x")  # shares a prefix with A1 but is not below it
    services.move_category(a1, actor="t", parent=b)
    paths = dict(Category.objects.filter(code__in=["A", "A1", "A11", "B", "A1x"]).values_list("code", "path"))
    assert paths == {"A": "A/", "A1": "B/A1/", "A11": "B/A1/A11/", "B": "B/", "A1x": "A1x/"}
    assert Category.objects.get(code="A1").parent == b
    event = AuditEvent.objects.get(action="category.move")
    assert event.data["subtree"] == 2 and event.data["from_parent"] == "A" and event.data["to_parent"] == "B"
    other.refresh_from_db()
    assert other.path == "A1x/"


def test_move_category_to_the_root():
    _a, a1, _a11 = make_category_chain("A", "A1", "A11")
    services.move_category(a1, actor="t", parent=None)
    assert Category.objects.get(code="A11").path == "A1/A11/"


@pytest.mark.parametrize("target", ["A1", "A11"])
def test_move_category_refuses_itself_and_its_descendants(target):
    _a, a1, _a11 = make_category_chain("A", "A1", "A11")
    with pytest.raises(ValidationError) as excinfo:
        services.move_category(a1, actor="t", parent=Category.objects.get(code=target))
    assert "parent" in errors_of(excinfo)
    assert Category.objects.get(code="A11").path == "A/A1/A11/"


def test_move_category_to_its_own_parent_changes_nothing():
    a, a1 = make_category_chain("A", "A1")
    services.move_category(a1, actor="t", parent=a)
    assert not AuditEvent.objects.filter(action="category.move").exists()


def test_update_category_changes_name_and_active():
    category = make_category("T1", "旧")
    services.update_category(category, actor="t", name="新", active=False)
    category.refresh_from_db()
    assert (category.name, category.active) == ("新", False)
    assert AuditEvent.objects.get(action="category.update").data["changed"]["name"] == ["旧", "新"]


def test_update_category_refuses_a_bad_scheme():
    category = make_category("T1")
    with pytest.raises(ValidationError) as excinfo:
        services.update_category(category, actor="t", scheme="nope")
    assert "scheme" in errors_of(excinfo)
