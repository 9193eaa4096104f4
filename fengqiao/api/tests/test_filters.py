"""Filters by the code of another row: an unknown or malformed code is a 400 naming the parameter and the value,
never a silently empty list."""

import datetime

import pytest

from fengqiao.api.tests.helpers import reader, reception_reader, results
from fengqiao.areas.models import AreaChange
from fengqiao.areas.tests.factories import make_area, make_chain
from fengqiao.centres.tests.builders import make_centre, make_space
from fengqiao.departments.tests.builders import make_category, make_department

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
UNKNOWN_AREA = "441899000000"


@pytest.fixture
def world():
    chain = make_chain()
    centre = make_centre(chain["town"])
    make_space(centre)
    make_department(chain["county"], "sfj")
    make_category("T-x")
    return chain


def client():
    """Reads every registry, the reception log included."""
    return reception_reader()


AREA_PARAMS = [
    ("areas", "within"),
    ("areas", "parent"),
    ("area-changes", "area"),
    ("area-changes", "within"),
    ("grids", "area"),
    ("grids", "within"),
    ("grids/geojson", "within"),
    ("centres", "area"),
    ("centres", "within"),
    ("spaces", "within"),
    ("stationings", "within"),
    ("receptions", "within"),
    ("departments", "area"),
    ("departments", "within"),
]


@pytest.mark.parametrize(("prefix", "param"), AREA_PARAMS)
def test_an_unknown_division_code_is_a_400_naming_parameter_and_value(world, prefix, param):
    response = client().get(f"{V1}/{prefix}/", {param: UNKNOWN_AREA})
    assert response.status_code == 400, response.content
    assert response.json() == {param: [f"no area with code {UNKNOWN_AREA}"]}


@pytest.mark.parametrize(("prefix", "param"), AREA_PARAMS)
@pytest.mark.parametrize("code", ["4418", "44182110120", "4418211012011", "44182110120100x", "汤塘镇"])
def test_a_malformed_division_code_is_a_400(world, prefix, param, code):
    response = client().get(f"{V1}/{prefix}/", {param: code})
    assert response.status_code == 400, response.content
    assert list(response.json()) == [param] and code in response.json()[param][0]


@pytest.mark.parametrize(
    ("prefix", "param", "noun"),
    [
        ("grids", "layer", "grid layer"),
        ("grids/geojson", "layer", "grid layer"),
        ("spaces", "space_type", "space type"),
        ("departments", "category", "category"),
        ("categories", "parent", "category"),
        ("categories", "within", "category"),
        ("categories/tree", "within", "category"),
    ],
)
def test_an_unknown_code_of_a_layer_space_type_or_category_is_a_400(world, prefix, param, noun):
    response = client().get(f"{V1}/{prefix}/", {param: "nope"})
    assert response.status_code == 400, response.content
    assert response.json() == {param: [f"no {noun} with code nope"]}


def test_every_unknown_code_of_a_request_is_reported_at_once(world):
    response = client().get(f"{V1}/grids/", {"layer": "nope", "within": UNKNOWN_AREA, "area": "1"})
    assert response.status_code == 400
    assert set(response.json()) == {"layer", "within", "area"}


def test_known_codes_still_filter_and_empty_values_are_ignored(world):
    town = world["town"].code
    assert [r["code"] for r in results(client().get(f"{V1}/areas/", {"within": f" {town} "}))] == [
        town,
        world["village"].code,
    ]
    assert len(results(client().get(f"{V1}/areas/", {"within": "", "parent": ""}))) == len(world)
    assert len(results(client().get(f"{V1}/centres/", {"within": town}))) == 1
    assert [r["code"] for r in results(client().get(f"{V1}/categories/", {"within": "T-x"}))] == ["T-x"]


def test_the_code_of_a_retired_area_is_a_known_code(world):
    retired = make_area("441821101202", "旧村", world["town"], valid_to=datetime.date(2023, 1, 1))
    AreaChange.objects.create(area=retired, edition="2023", kind="retired")
    assert results(client().get(f"{V1}/areas/", {"within": retired.code})) == []
    with_retired = results(client().get(f"{V1}/areas/", {"within": retired.code, "include_retired": "true"}))
    assert [r["code"] for r in with_retired] == [retired.code]
    assert [r["kind"] for r in results(client().get(f"{V1}/area-changes/", {"area": retired.code}))] == ["retired"]


def test_a_user_who_may_not_read_receptions_gets_403_before_any_filter_runs(world):
    assert reader().get(f"{V1}/receptions/", {"within": UNKNOWN_AREA}).status_code == 403
