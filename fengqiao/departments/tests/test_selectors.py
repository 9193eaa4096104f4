import pytest

from fengqiao.areas.tests.factories import make_area, make_chain
from fengqiao.departments import selectors, services
from fengqiao.departments.tests.builders import make_category_chain, make_department

pytestmark = pytest.mark.django_db


def codes(departments):
    return [d.code for d in departments]


@pytest.fixture
def world():
    chain = make_chain()
    env, noise, night = make_category_chain("T-env", "T-noise", "T-night")
    return chain, env, noise, night


def test_nearest_area_comes_first_then_the_most_specific_category(world):
    chain, env, noise, night = world
    make_department(chain["county"], "county-noise", catalogue=[noise])
    make_department(chain["town"], "town-env", catalogue=[env])
    make_department(chain["village"], "village-env", catalogue=[env])
    make_department(chain["town"], "town-night", catalogue=[night])
    result = selectors.responsible_departments(chain["village"], night)
    assert codes(result) == ["village-env", "town-night", "town-env", "county-noise"]
    assert result[0].responsibility.category == env


def test_lead_units_come_before_assisting_ones_for_the_same_line(world):
    chain, _env, noise, _night = world
    make_department(chain["town"], "a-assist", catalogue=[services.CatalogueEntry(noise, lead=False)])
    make_department(chain["town"], "b-lead", catalogue=[noise])
    assert codes(selectors.responsible_departments(chain["village"], noise)) == ["b-lead", "a-assist"]


def test_a_department_appears_once_at_its_best_position(world):
    chain, env, noise, _night = world
    make_department(chain["town"], "both", catalogue=[env, noise])
    result = selectors.responsible_departments(chain["town"], noise)
    assert codes(result) == ["both"]
    assert result[0].responsibility.category == noise


def test_other_branches_unrelated_categories_and_inactive_departments_are_left_out(world):
    chain, env, noise, night = world
    sibling_town = make_area("441821102000", "other town", chain["county"])
    make_department(sibling_town, "sibling", catalogue=[noise])
    (_water,) = make_category_chain("T-water")
    make_department(chain["town"], "water", catalogue=[_water])
    make_department(chain["town"], "inactive", catalogue=[noise], active=False)
    make_department(chain["village"], "below-is-not-up", catalogue=[noise])
    assert codes(selectors.responsible_departments(chain["town"], night)) == []
    assert codes(selectors.responsible_departments(chain["town"], env)) == []


def test_responsible_departments_uses_one_query_whatever_the_depths(world, django_assert_num_queries):
    chain, env, noise, night = world
    for level in ("province", "city", "county", "town", "village"):
        for i, category in enumerate((env, noise, night)):
            make_department(chain[level], f"{level}-{i}", catalogue=[category])
    with django_assert_num_queries(1):
        result = selectors.responsible_departments(chain["village"], night)
        [d.area.code for d in result]
    assert len(result) == 15
    assert codes(result)[:3] == ["village-2", "village-1", "village-0"]


def test_departments_with_catalogue_loads_lines_in_two_queries(world, django_assert_num_queries):
    chain, env, noise, night = world
    for i in range(5):
        make_department(chain["county"], f"d{i}", catalogue=[env, noise, night])
    with django_assert_num_queries(2):
        rows = list(selectors.departments_with_catalogue())
        lines = [(line.category.code, d.area.code) for d in rows for line in d.catalogue]
    assert len(lines) == 15


def test_category_helpers(world):
    _chain, env, _noise, night = world
    assert [c.code for c in selectors.category_ancestors(night)] == ["T-env", "T-noise"]
    assert [c.code for c in selectors.category_ancestors(night, include_self=True)][-1] == "T-night"
    assert set(selectors.category_subtree(env).values_list("code", flat=True)) == {"T-env", "T-noise", "T-night"}
    assert set(selectors.category_subtree(env, include_self=False).values_list("code", flat=True)) == {
        "T-noise",
        "T-night",
    }


def test_departments_in_an_area_subtree(world):
    chain, *_ = world
    make_department(chain["county"], "c")
    make_department(chain["village"], "v")
    make_department(chain["town"], "off", active=False)
    assert sorted(codes(selectors.departments_in(chain["town"]))) == ["v"]
    assert sorted(codes(selectors.departments_in(chain["town"], include_inactive=True))) == ["off", "v"]
