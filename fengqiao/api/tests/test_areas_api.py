import datetime

import pytest
from django.utils import timezone
from shapely.geometry import shape

from fengqiao.api.tests.helpers import client_for, count_queries, reader, results, rows_of
from fengqiao.areas.models import AreaChange, Grid
from fengqiao.areas.tests.factories import layer, make_area, make_boundary, make_chain, make_grid, square
from fengqiao.departments.tests.builders import make_user

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.fixture
def chain():
    return make_chain()


def test_areas_list_current_areas_in_code_order_without_geometry(chain):
    retired = make_area("441821101202", "旧村", chain["town"], valid_to=datetime.date(2023, 1, 1))
    rows = results(reader().get(f"{V1}/areas/"))
    assert [r["code"] for r in rows] == sorted(a.code for a in chain.values())
    assert retired.code not in [r["code"] for r in rows]
    village = rows[-1]
    assert village["parent"] == chain["town"].code and village["level"] == 5 and village["is_current"]
    assert village["path"] == chain["village"].path
    with_retired = results(reader().get(f"{V1}/areas/", {"include_retired": "true"}))
    assert retired.code in [r["code"] for r in with_retired]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"level": 4}, ["town"]),
        ({"level": [4, 5]}, ["town", "village"]),
        ({"parent": "441821000000"}, ["town"]),
        ({"within": "441821000000"}, ["county", "town", "village"]),
        ({"name": "汤塘"}, ["town", "village"]),
        ({"short_name": "佛冈"}, ["county"]),
    ],
)
def test_area_filters(chain, params, expected):
    rows = results(reader().get(f"{V1}/areas/", params))
    assert [r["code"] for r in rows] == [chain[k].code for k in expected]


def test_area_retrieve_children_and_ancestors(chain):
    client = reader()
    assert client.get(f"{V1}/areas/{chain['town'].code}/").json()["name"] == "汤塘镇"
    assert client.get(f"{V1}/areas/441821199000/").status_code == 404
    children = results(client.get(f"{V1}/areas/{chain['county'].code}/children/"))
    assert [c["code"] for c in children] == [chain["town"].code]
    ancestors = client.get(f"{V1}/areas/{chain['village'].code}/ancestors/").json()
    assert [a["code"] for a in ancestors] == [chain[k].code for k in ("province", "city", "county", "town")]


def test_a_retired_area_is_retrieved_by_code_but_left_out_of_lists(chain):
    retired = make_area("441821101202", "旧村", chain["town"], valid_to=datetime.date(2023, 1, 1))
    client = reader()
    response = client.get(f"{V1}/areas/{retired.code}/")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "旧村" and response.json()["is_current"] is False
    assert client.get(f"{V1}/areas/{retired.code}/", {"include_retired": "true"}).status_code == 200
    assert retired.code not in [r["code"] for r in results(client.get(f"{V1}/areas/"))]
    assert retired.code not in [r["code"] for r in results(client.get(f"{V1}/areas/", {"within": chain["town"].code}))]
    assert [a["code"] for a in client.get(f"{V1}/areas/{retired.code}/ancestors/").json()][-1] == chain["town"].code


def test_a_retired_grid_is_retrieved_by_id_but_left_out_of_lists(grids):
    client = reader()
    response = client.get(f"{V1}/grids/{grids['old'].pk}/")
    assert response.status_code == 200 and response.json()["valid_to"] is not None
    assert "G00" not in [r["code"] for r in results(client.get(f"{V1}/grids/"))]
    assert rows_of(client.get(f"{V1}/grids/geojson/", {"code": "G00"})) == []


def test_children_leave_out_retired_areas_unless_asked(chain):
    make_area("441821101202", "旧村", chain["town"], valid_to=datetime.date(2023, 1, 1))
    url = f"{V1}/areas/{chain['town'].code}/children/"
    assert len(results(reader().get(url))) == 1
    assert len(results(reader().get(url, {"include_retired": "true"}))) == 2


def test_boundary_is_a_geojson_feature_of_the_current_or_a_requested_version(chain):
    old = make_boundary(chain["town"], square(113.50, 23.70), version=1)
    old.valid_to = timezone.now()
    old.save()
    make_boundary(chain["town"], square(113.50, 23.70, 0.02), version=2)
    client = reader()
    response = client.get(f"{V1}/areas/{chain['town'].code}/boundary/")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/geo+json")
    feature = response.json()
    assert feature["type"] == "Feature" and feature["properties"]["version"] == 2
    assert shape(feature["geometry"]).bounds == pytest.approx((113.50, 23.70, 113.52, 23.72))
    assert feature["bbox"] == pytest.approx([113.50, 23.70, 113.52, 23.72])
    v1 = client.get(f"{V1}/areas/{chain['town'].code}/boundary/", {"version": 1}).json()
    assert v1["properties"]["version"] == 1 and v1["properties"]["valid_to"] is not None
    assert client.get(f"{V1}/areas/{chain['town'].code}/boundary/", {"version": 3}).status_code == 404
    assert client.get(f"{V1}/areas/{chain['town'].code}/boundary/", {"version": "x"}).status_code == 400
    assert client.get(f"{V1}/areas/{chain['village'].code}/boundary/").status_code == 404


def test_area_changes_filter_by_area_and_edition(chain):
    AreaChange.objects.create(area=chain["town"], edition="2023", kind="changed", before={"name": "a"})
    AreaChange.objects.create(area=chain["village"], edition="2024", kind="retired")
    rows = results(reader().get(f"{V1}/area-changes/", {"area": chain["town"].code}))
    assert [(r["area"], r["edition"], r["before"]) for r in rows] == [(chain["town"].code, "2023", {"name": "a"})]
    assert [r["edition"] for r in results(reader().get(f"{V1}/area-changes/", {"edition": "2024"}))] == ["2024"]
    assert len(results(reader().get(f"{V1}/area-changes/", {"within": chain["town"].code}))) == 2


def test_grid_layers_are_looked_up_by_code():
    layer("t-river", "河长网格")
    client = reader()
    assert "t-river" in [r["code"] for r in results(client.get(f"{V1}/grid-layers/"))]
    assert client.get(f"{V1}/grid-layers/t-river/").json()["name"] == "河长网格"


@pytest.fixture
def grids(chain):
    river = layer("t-river", "河长网格")
    return {
        "a": make_grid(chain["village"], "G01", square(113.50, 23.70), households=300, population=900),
        "b": make_grid(chain["town"], "G02", square(113.60, 23.70), kind="dedicated", dedicated_type="school"),
        "r": make_grid(chain["village"], "R01", square(113.50, 23.70), grid_layer=river),
        "old": make_grid(chain["village"], "G00", square(113.55, 23.70), valid_to=timezone.now()),
    }


def test_grid_list_has_no_geometry_and_hides_retired_grids(grids):
    rows = results(reader().get(f"{V1}/grids/", {"layer": "comprehensive"}))
    assert [r["code"] for r in rows] == ["G01", "G02"]
    assert "geometry" not in rows[0] and "geometry_wkb" not in rows[0]
    assert rows[0]["bbox"] == pytest.approx([113.50, 23.70, 113.51, 23.71])
    assert rows[0]["layer"] == "comprehensive" and rows[0]["households"] == 300
    with_retired = results(reader().get(f"{V1}/grids/", {"layer": "comprehensive", "include_retired": "1"}))
    assert [r["code"] for r in with_retired] == ["G00", "G01", "G02"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"layer": "t-river"}, ["R01"]),
        ({"within": "441821101201"}, ["G01", "R01"]),
        ({"area": "441821101000"}, ["G02"]),
        ({"kind": "dedicated"}, ["G02"]),
        ({"dedicated_type": "school"}, ["G02"]),
        ({"code": "G01"}, ["G01"]),
        ({"bbox": "113.595,23.69,113.7,23.8"}, ["G02"]),
    ],
)
def test_grid_filters(grids, params, expected):
    assert sorted(r["code"] for r in results(reader().get(f"{V1}/grids/", params))) == expected


def test_grid_bbox_filter_refuses_garbage(grids):
    assert reader().get(f"{V1}/grids/", {"bbox": "1,2,3"}).status_code == 400


@pytest.mark.parametrize("how", ["format", "action"])
def test_grids_as_a_geojson_feature_collection(grids, how):
    url = f"{V1}/grids/geojson/" if how == "action" else f"{V1}/grids/"
    params = {"layer": "comprehensive"} | ({"format": "geojson"} if how == "format" else {})
    response = reader().get(url, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["count"] == 2
    first = body["features"][0]
    assert first["type"] == "Feature" and first["properties"]["code"] == "G01"
    assert shape(first["geometry"]).equals(grids["a"].geometry)


def test_a_single_grid_as_geojson(grids):
    url = f"{V1}/grids/{grids['b'].pk}/"
    assert "geometry" not in reader().get(url).json()
    feature = reader().get(url, {"format": "geojson"}).json()
    assert feature["type"] == "Feature" and feature["id"] == str(grids["b"].pk)
    assert shape(feature["geometry"]).equals(grids["b"].geometry)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (f"{V1}/areas/", {}),
        (f"{V1}/area-changes/", {}),
        (f"{V1}/grids/", {}),
        (f"{V1}/grids/", {"format": "geojson"}),
    ],
)
def test_area_and_grid_lists_use_a_constant_number_of_queries(chain, url, params):
    client = reader()

    def add(i):
        town = make_area(f"441821{102 + i:03d}000", f"镇{i}", chain["county"])
        AreaChange.objects.create(area=town, edition="2024", kind="created")
        make_grid(town, f"Q{i:02d}", square(113.0 + i * 0.02, 23.0))

    add(0)
    few, response = count_queries(client, url, params)
    assert len(rows_of(response)) >= 1
    for i in range(1, 20):
        add(i)
    many, response = count_queries(client, url, params)
    assert len(rows_of(response)) >= 20
    assert many == few


def test_grids_have_no_write_endpoints(grids):
    admin = client_for(make_user("root", superuser=True))
    assert admin.post(f"{V1}/grids/", {}).status_code == 405
    assert admin.patch(f"{V1}/grids/{grids['a'].pk}/", {"name": "x"}).status_code == 405
    assert admin.delete(f"{V1}/areas/441821000000/").status_code == 405
    assert Grid.objects.get(pk=grids["a"].pk).name == "grid G01"
