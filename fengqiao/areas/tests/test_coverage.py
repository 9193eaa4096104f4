import json
import math

import pytest
from django.core.management import CommandError, call_command
from shapely.geometry import box

from fengqiao.areas.coverage import CoverageError, check_coverage
from fengqiao.areas.grids import retire_grid
from fengqiao.areas.tests.factories import layer, make_area, make_boundary, make_chain, make_grid

R = 6371007.2  # authalic radius used by core.geo.area_m2


def rect_m2(lon0, lat0, lon1, lat1):
    """Exact area of a lon/lat rectangle on the sphere (independent of core.geo)."""
    return R * R * math.radians(lon1 - lon0) * (math.sin(math.radians(lat1)) - math.sin(math.radians(lat0)))


@pytest.fixture
def county(db):
    chain = make_chain()
    layer()
    make_boundary(chain["county"], box(113.0, 23.0, 113.03, 23.01))
    return chain


def tile(chain, *boxes):
    return [make_grid(chain["village"], f"G{i}", box(*b)) for i, b in enumerate(boxes)]


def test_exact_tiling_is_fully_covered_without_gaps_or_overlaps(county, capsys):
    tile(county, (113.0, 23.0, 113.01, 23.01), (113.01, 23.0, 113.02, 23.01), (113.02, 23.0, 113.03, 23.01))
    report = check_coverage(county["county"])
    assert report.ok and report.percent == pytest.approx(100.0)
    assert (report.gaps, report.overlaps, report.outside) == ([], [], [])
    call_command("check_coverage", "441821000000")
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "coverage 441821000000 comprehensive: 100.00% covered, 0 gaps, 0 overlaps"


def test_a_gap_an_overlap_and_a_part_outside_are_found_with_their_sizes(county):
    tile(
        county,
        (113.0, 23.0, 113.0105, 23.01),  # overlaps the next grid by 0.0005°
        (113.01, 23.0, 113.02, 23.01),
        (113.021, 23.0, 113.031, 23.01),  # leaves a 0.001° gap, sticks out 0.001° east
    )
    report = check_coverage(county["county"])
    assert not report.ok
    [gap], [overlap], [outside] = report.gaps, report.overlaps, report.outside
    assert gap.area_m2 == pytest.approx(rect_m2(113.02, 23.0, 113.021, 23.01), rel=0.01)
    assert overlap.area_m2 == pytest.approx(rect_m2(113.01, 23.0, 113.0105, 23.01), rel=0.01)
    assert outside.area_m2 == pytest.approx(rect_m2(113.03, 23.0, 113.031, 23.01), rel=0.01)
    assert overlap.grids == ["G0", "G1"] and outside.grids == ["G2"] and gap.grids == ["G1", "G2"]
    covered = rect_m2(113.0, 23.0, 113.03, 23.01) - gap.area_m2
    assert report.covered_m2 == pytest.approx(covered, rel=1e-3)


def test_check_coverage_command_exits_1_and_writes_the_pieces_as_geojson(county, tmp_path, capsys):
    tile(county, (113.0, 23.0, 113.0105, 23.01), (113.01, 23.0, 113.02, 23.01), (113.021, 23.0, 113.03, 23.01))
    out = tmp_path / "problems.geojson"
    with pytest.raises(SystemExit) as caught:
        call_command("check_coverage", "441821000000", "--geojson", str(out))
    assert caught.value.code == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "coverage 441821000000 comprehensive: 96.67% covered, 1 gaps, 1 overlaps"
    data = json.loads(out.read_text(encoding="utf-8"))
    kinds = sorted(f["properties"]["kind"] for f in data["features"])
    assert kinds == ["gap", "overlap"]
    assert all(f["properties"]["area_m2"] > 1000 for f in data["features"])


def test_slivers_below_the_tolerance_are_ignored(county):
    tile(county, (113.0, 23.0, 113.0100000001, 23.01), (113.01, 23.0, 113.03, 23.01))
    report = check_coverage(county["county"], tolerance_m2=1.0)
    assert report.ok
    assert len(check_coverage(county["county"], tolerance_m2=0.0001, sliver_width_m=0).overlaps) == 1


def test_long_thin_overlay_slivers_are_ignored_however_large_their_area(county):
    # 1e-8° (~1 mm) wide, 3 km long: ~3 m², above the area tolerance, but a floating-point artefact
    tile(county, (113.0, 23.0, 113.01, 23.01), (113.01, 23.0, 113.03, 23.01), (113.0, 23.0, 113.03, 23.00000001))
    assert check_coverage(county["county"]).ok
    assert len(check_coverage(county["county"], sliver_width_m=0).overlaps) == 2


def test_only_current_grids_of_the_layer_under_the_area_count(county):
    other_county = make_area("441802000000", "清城区", county["city"])
    other_town = make_area("441802001000", "某街道", other_county)
    make_grid(county["village"], "G0", box(113.0, 23.0, 113.03, 23.01))
    make_grid(other_town, "X", box(113.0, 23.0, 113.03, 23.01))  # another county: ignored
    make_grid(county["village"], "R", box(113.0, 23.0, 113.03, 23.01), layer("river", "河长网格"))
    retire_grid(actor=None, grid=make_grid(county["village"], "OLD", box(113.0, 23.0, 113.03, 23.01)))
    report = check_coverage(county["county"])
    assert report.ok and report.grids == 1


def test_an_area_without_a_boundary_is_a_clear_error(county):
    with pytest.raises(CoverageError, match="441821101000 汤塘镇 has no current boundary"):
        check_coverage(county["town"])
    with pytest.raises(CommandError, match="has no current boundary"):
        call_command("check_coverage", "441821101000")


def test_check_coverage_with_an_unknown_layer_lists_the_layers(county):
    with pytest.raises(CommandError, match="existing layers: comprehensive"):
        call_command("check_coverage", "441821000000", "--layer", "nope")


@pytest.mark.parametrize("code", ["44182100", "4418210000001", "44182100000x", "000000000000"])
def test_check_coverage_with_a_malformed_code_says_it_is_malformed(county, code):
    with pytest.raises(CommandError, match=r"malformed area code: "):
        call_command("check_coverage", code)


def test_check_coverage_of_a_well_formed_unknown_code_says_there_is_no_such_area(county):
    with pytest.raises(CommandError, match=r"no area with code 441899000000"):
        call_command("check_coverage", "441899000000")


def test_check_coverage_command_with_an_unwritable_geojson_path_says_so(county, tmp_path):
    tile(county, (113.0, 23.0, 113.03, 23.01))
    with pytest.raises(CommandError, match=r"cannot write \("):
        call_command("check_coverage", "441821000000", "--geojson", str(tmp_path))
