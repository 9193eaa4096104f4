"""Planning the synthetic geography of a county (pure computation, no database)."""

import collections

import pytest
import shapely

from fengqiao.demo import plan as planning
from fengqiao.demo import sources
from fengqiao.demo.tests.helpers import coverage_errors


@pytest.fixture(scope="module")
def fogang():
    units = sources.read_units([sources.FIXTURE_DIVISIONS], only={sources.DEMO_COUNTY})
    name, towns = units[sources.DEMO_COUNTY]
    boundary = sources.read_boundaries(sources.FIXTURE_BOUNDARY, only={sources.DEMO_COUNTY})[sources.DEMO_COUNTY]
    unit = planning.UnitIn(sources.DEMO_COUNTY, name, shapely.to_wkb(boundary.geometry), towns)
    return unit, boundary.geometry, planning.plan_unit(unit, seed=42, profile=planning.COUNTY)


def test_fixture_has_fogang_six_towns_two_special_units_and_93_villages(fogang):
    unit, _geom, _plan = fogang
    assert unit.name == "佛冈县"
    assert len(unit.towns) == 8
    assert sum(t.special for t in unit.towns) == 2  # 羊角山林场, 观音山省级自然保护区
    assert sum(len(t.villages) for t in unit.towns) == 93


def test_comprehensive_grids_tile_the_county(fogang):
    _unit, geom, plan = fogang
    grids = [shapely.from_wkb(g.wkb) for g in plan.grids if g.layer == planning.COMPREHENSIVE]
    gap, outside, overlap = coverage_errors(geom, grids)
    assert gap < 1.0 and outside < 1.0 and abs(overlap) < 1.0


def test_forest_grids_tile_the_county_and_rivers_stay_inside(fogang):
    _unit, geom, plan = fogang
    forest = [shapely.from_wkb(g.wkb) for g in plan.grids if g.layer == planning.FOREST]
    assert max(abs(e) for e in coverage_errors(geom, forest)) < 1.0
    rivers = [shapely.from_wkb(g.wkb) for g in plan.grids if g.layer == planning.RIVER]
    assert rivers
    assert coverage_errors(geom, rivers)[1] < 1.0  # nothing outside the county


def test_every_village_has_one_to_four_grids_of_about_300_households(fogang):
    unit, _geom, plan = fogang
    per_village = collections.Counter(g.area_code for g in plan.grids if g.layer == planning.COMPREHENSIVE)
    villages = [v.code for t in unit.towns for v in t.villages]
    assert set(per_village) == set(villages)
    assert set(per_village.values()) <= {1, 2, 3, 4}
    grids = [g for g in plan.grids if g.layer == planning.COMPREHENSIVE]
    assert all(100 <= g.households <= 450 for g in grids)
    assert all(2 * g.households <= g.population <= 4 * g.households for g in grids)


def test_towns_and_villages_get_synthetic_boundaries_and_names_say_so(fogang):
    _unit, _geom, plan = fogang
    codes = [code for code, _ in plan.boundaries]
    assert len(codes) == len(set(codes)) == 8 + 93
    assert all("（模拟）" in g.name for g in plan.grids)
    names = {g.name for g in plan.grids if g.area_code == "441821102001"}  # 汤塘镇 汤塘社区居委会
    assert "汤塘社区 第1网格（模拟）" in names
    keys = [(g.layer, g.code) for g in plan.grids]
    assert len(keys) == len(set(keys))
    assert all(len(g.code) <= 32 for g in plan.grids)


def test_plan_is_deterministic(fogang):
    unit, _geom, plan = fogang
    again = planning.plan_unit(unit, seed=42, profile=planning.COUNTY)
    assert [g.wkb for g in again.grids] == [g.wkb for g in plan.grids]
    other = planning.plan_unit(unit, seed=7, profile=planning.COUNTY)
    assert [g.wkb for g in other.grids] != [g.wkb for g in plan.grids]


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("汤塘村委会", "汤塘村"),
        ("翠洲社区居民委员会", "翠洲社区"),
        ("石角村民委员会", "石角村"),
        ("城东社区居委会", "城东社区"),
        ("清远市羊角山林场", "清远市羊角山林场"),
    ],
)
def test_place_label(name, label):
    assert planning.place_label(name) == label


@pytest.mark.slow
@pytest.mark.parametrize("unit_code", ["441802000000", "441900000000"])  # 清城区; 东莞市 (towns, no villages)
def test_province_profile_partitions_a_real_county(shared_data, unit_code):
    villages = shared_data / sources.VILLAGES_FILE
    towns_file = shared_data / sources.TOWNS_FILE
    units = sources.read_units([villages, towns_file], only={unit_code})
    name, towns = units[unit_code]
    real = sources.read_boundaries(shared_data / sources.COUNTIES_FILE, only={unit_code})[unit_code]
    unit = planning.UnitIn(unit_code, name, shapely.to_wkb(real.geometry), towns)
    plan = planning.plan_unit(unit, seed=42, profile=planning.PROVINCE)

    town_geoms = [shapely.from_wkb(w) for code, w in plan.boundaries if code in {t.code for t in towns}]
    assert len(town_geoms) == len(towns)
    assert max(abs(e) for e in coverage_errors(real.geometry, town_geoms)) < 1.0
    grids = [g for g in plan.grids if g.layer == planning.COMPREHENSIVE]
    assert max(abs(e) for e in coverage_errors(real.geometry, [shapely.from_wkb(g.wkb) for g in grids])) < 1.0
    n_villages = sum(len(t.villages) for t in towns)
    if n_villages:
        assert 5 <= len(grids) / n_villages <= 9  # ≈7 per village at province scale
        assert {g.area_code for g in grids} == {v.code for t in towns for v in t.villages}
    else:
        assert {g.area_code for g in grids} == {t.code for t in towns}
