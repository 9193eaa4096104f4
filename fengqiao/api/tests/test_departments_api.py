import pytest

from fengqiao.api.tests.helpers import count_queries, reader, results, rows_of, writer
from fengqiao.areas.tests.factories import make_area, make_chain
from fengqiao.audit.models import AuditEvent
from fengqiao.departments import services
from fengqiao.departments.models import Category, Department
from fengqiao.departments.tests.builders import make_category, make_category_chain, make_department

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
ADD = "departments.add_department"
CHANGE = "departments.change_department"


@pytest.fixture
def chain():
    return make_chain()


@pytest.fixture
def noise():
    return make_category_chain("T-env", "T-noise")[1]


def test_department_list_shows_area_and_catalogue(chain, noise):
    make_department(chain["county"], "hbj", "生态环境局", catalogue=[services.CatalogueEntry(noise, False, "夜间")])
    (row,) = results(reader().get(f"{V1}/departments/"))
    assert row["area"] == chain["county"].code and row["area_name"] == "佛冈县"
    assert row["catalogue"] == [
        {"category": "T-noise", "category_name": "category T-noise", "lead": False, "note": "夜间"}
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"within": "441821101000"}, ["town-police", "village-committee"]),
        ({"area": "441821000000"}, ["county-env"]),
        ({"kind": "police"}, ["town-police"]),
        ({"category": "T-noise"}, ["county-env"]),
        ({"name": "committee"}, ["village-committee"]),
        ({"active": "false"}, ["village-committee"]),
    ],
)
def test_department_filters(chain, noise, params, expected):
    make_department(chain["county"], "county-env", catalogue=[noise])
    make_department(chain["town"], "town-police", kind=Department.Kind.POLICE)
    make_department(chain["village"], "village-committee", "village committee", active=False)
    assert sorted(r["code"] for r in results(reader().get(f"{V1}/departments/", params))) == expected


def test_create_department_with_catalogue_goes_through_the_services(chain, noise):
    client = writer(ADD)
    body = {
        "area": chain["county"].code,
        "code": "zjj",
        "name": "住房和城乡建设局",
        "kind": "government",
        "catalogue": [{"category": "T-noise", "lead": True}],
    }
    response = client.post(f"{V1}/departments/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["catalogue"][0]["category"] == "T-noise"
    department = Department.objects.get(code="zjj")
    assert list(department.categories.values_list("code", flat=True)) == ["T-noise"]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"department.create", "department.catalogue"} <= actions
    assert AuditEvent.objects.get(action="department.create").actor.username == "writer"


def test_create_department_refusals_come_back_keyed_by_field(chain):
    make_department(chain["county"], "dup")
    client = writer(ADD)
    response = client.post(f"{V1}/departments/", {"area": chain["county"].code, "code": "dup", "name": "x"})
    assert response.status_code == 400 and "code" in response.json()
    response = client.post(f"{V1}/departments/", {"area": "999999999999", "code": "x", "name": "x"})
    assert response.status_code == 400 and "area" in response.json()
    response = client.post(
        f"{V1}/departments/",
        {"area": chain["county"].code, "code": "y", "name": "y", "catalogue": [{"category": "nope"}]},
        format="json",
    )
    assert response.status_code == 400 and "catalogue" in response.json()
    assert Department.objects.count() == 1


def test_a_failed_catalogue_leaves_no_department_behind(chain, noise):
    body = {
        "area": chain["county"].code,
        "code": "twice",
        "name": "x",
        "catalogue": [{"category": "T-noise"}, {"category": "T-noise", "lead": False}],
    }
    response = writer(ADD).post(f"{V1}/departments/", body, format="json")
    assert response.status_code == 400 and "catalogue" in response.json()
    assert not Department.objects.filter(code="twice").exists()


def test_patch_department_updates_fields_and_replaces_the_catalogue(chain, noise):
    department = make_department(chain["county"], "d", "旧名", catalogue=[noise])
    env = Category.objects.get(code="T-env")
    client = writer(CHANGE)
    response = client.patch(
        f"{V1}/departments/{department.pk}/", {"name": "新名", "catalogue": [{"category": "T-env"}]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "新名"
    assert list(department.categories.all()) == [env]
    response = client.patch(f"{V1}/departments/{department.pk}/", {"area": chain["town"].code}, format="json")
    assert response.status_code == 400 and "area" in response.json()
    response = client.patch(f"{V1}/departments/{department.pk}/", {"name": "只改名"}, format="json")
    assert list(department.categories.all()) == [env]  # no catalogue given: unchanged


def test_departments_cannot_be_deleted_or_replaced_through_the_api(chain):
    department = make_department(chain["county"], "d")
    client = writer(CHANGE, "departments.delete_department")
    assert client.delete(f"{V1}/departments/{department.pk}/").status_code == 405
    assert client.put(f"{V1}/departments/{department.pk}/", {}).status_code == 405


def test_responsible_endpoint_ranks_departments(chain, noise):
    make_department(chain["county"], "county", catalogue=[noise])
    make_department(chain["town"], "town", catalogue=[Category.objects.get(code="T-env")])
    response = reader().get(f"{V1}/departments/responsible/", {"area": chain["village"].code, "category": "T-noise"})
    assert response.status_code == 200
    assert [(r["department"]["code"], r["matched_category"], r["lead"]) for r in response.json()] == [
        ("town", "T-env", True),
        ("county", "T-noise", True),
    ]
    bad = reader().get(f"{V1}/departments/responsible/", {"area": "1", "category": "nope"})
    assert bad.status_code == 400 and set(bad.json()) == {"area", "category"}


def test_department_list_uses_a_constant_number_of_queries(chain, noise):
    client = reader()
    make_department(chain["county"], "d0", catalogue=[noise])
    few, response = count_queries(client, f"{V1}/departments/")
    assert len(rows_of(response)) == 1
    for i in range(1, 20):
        town = make_area(f"441821{110 + i:03d}000", f"镇{i}", chain["county"])
        make_department(town, f"d{i}", catalogue=[noise, Category.objects.get(code="T-env")])
    many, response = count_queries(client, f"{V1}/departments/")
    assert len(rows_of(response)) == 20
    assert many == few


# --- categories ------------------------------------------------------------------------------------------


def test_category_list_is_in_tree_order_and_filters(noise):
    make_category("T-water", scheme=Category.Scheme.HOTLINE)
    client = reader()
    rows = results(client.get(f"{V1}/categories/", {"within": "T-env"}))
    assert [(r["code"], r["parent"], r["depth"]) for r in rows] == [("T-env", None, 1), ("T-noise", "T-env", 2)]
    assert [r["code"] for r in results(client.get(f"{V1}/categories/", {"parent": "T-env"}))] == ["T-noise"]
    hotline = results(client.get(f"{V1}/categories/", {"scheme": "12345", "name": "T-water"}))
    assert [r["code"] for r in hotline] == ["T-water"]
    roots = results(client.get(f"{V1}/categories/", {"root": "true", "scheme": "local"}))
    assert "T-noise" not in [r["code"] for r in roots] and "T-env" in [r["code"] for r in roots]
    assert client.get(f"{V1}/categories/T-noise/").json()["path"] == "T-env/T-noise/"


def test_category_tree_nests_children(noise):
    make_category("T-night", parent=noise)
    tree = reader().get(f"{V1}/categories/tree/", {"within": "T-env"}).json()
    assert tree == [
        {
            "code": "T-env",
            "name": "category T-env",
            "scheme": "local",
            "active": True,
            "children": [
                {
                    "code": "T-noise",
                    "name": "category T-noise",
                    "scheme": "local",
                    "active": True,
                    "children": [
                        {
                            "code": "T-night",
                            "name": "category T-night",
                            "scheme": "local",
                            "active": True,
                            "children": [],
                        }
                    ],
                }
            ],
        }
    ]


def test_create_and_move_categories_through_the_api(noise):
    client = writer("departments.add_category", "departments.change_category")
    response = client.post(f"{V1}/categories/", {"code": "T-night", "name": "夜间噪音", "parent": "T-noise"})
    assert response.status_code == 201, response.content
    assert response.json()["path"] == "T-env/T-noise/T-night/"
    make_category("T-city")
    response = client.patch(f"{V1}/categories/T-noise/", {"parent": "T-city", "name": "噪音"}, format="json")
    assert response.status_code == 200, response.content
    assert Category.objects.get(code="T-night").path == "T-city/T-noise/T-night/"
    assert Category.objects.get(code="T-noise").name == "噪音"
    response = client.patch(f"{V1}/categories/T-city/", {"parent": "T-night"}, format="json")
    assert response.status_code == 400 and "parent" in response.json()
    response = client.post(f"{V1}/categories/", {"code": "T-city", "name": "dup"})
    assert response.status_code == 400 and "code" in response.json()


def test_category_list_uses_a_constant_number_of_queries():
    client = reader()
    make_category("T-a0")
    few, _ = count_queries(client, f"{V1}/categories/", {"name": "category T-a"})
    for i in range(1, 20):
        make_category(f"T-a{i}")
    many, response = count_queries(client, f"{V1}/categories/", {"name": "category T-a"})
    assert len(rows_of(response)) == 20 and many == few
