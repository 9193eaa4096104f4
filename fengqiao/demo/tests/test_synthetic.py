"""The synthetic partition: no gaps, no overlaps, nothing empty, deterministic."""

import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengqiao.demo.synthetic import partition, river_polygon, rng_for
from fengqiao.demo.tests.helpers import coverage_errors

LON, LAT = 113.55, 23.88  # 佛冈


def _convex(seed, size):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-size, size, (12, 2)) + np.array([LON, LAT])
    return shapely.MultiPoint(pts).convex_hull


def _star(seed, size):
    """A concave star-shaped polygon (deep notches), valid by construction."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 14))
    angles = (np.arange(n) + rng.uniform(0, 0.8, n)) * 2 * math.pi / n  # increasing, all the way round
    radii = size * rng.uniform(0.25, 1.0, n)
    star = shapely.Polygon(np.column_stack([LON + radii * np.cos(angles), LAT + radii * np.sin(angles)]))
    assert star.is_valid
    return star


shapes = st.builds(
    lambda kind, seed, size: (_convex if kind == "convex" else _star)(seed, size),
    st.sampled_from(["convex", "concave"]),
    st.integers(0, 10_000),
    st.floats(0.01, 0.3),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parent=shapes, n=st.integers(1, 8), seed=st.integers(0, 2**31), organic=st.booleans())
def test_partition_has_no_gaps_no_overlaps_and_no_empty_piece(parent, n, seed, organic):
    pieces = partition(parent, n=n, seed=seed, organic=organic)

    assert len(pieces) == n
    for piece in pieces:
        assert piece.geom_type in ("Polygon", "MultiPolygon")
        assert piece.is_valid
        assert piece.area > 0
    gap, outside, overlap = coverage_errors(parent, pieces)
    assert gap < 1.0 and outside < 1.0 and abs(overlap) < 1.0


@settings(max_examples=20, deadline=None)
@given(parent=shapes, n=st.integers(2, 6), seed=st.integers(0, 2**31))
def test_partition_is_deterministic_by_seed(parent, n, seed):
    first = [shapely.to_wkb(p) for p in partition(parent, n=n, seed=seed)]
    again = [shapely.to_wkb(p) for p in partition(parent, n=n, seed=seed)]
    assert first == again


def test_partition_of_a_multipolygon_with_a_hole_covers_it():
    outer = shapely.box(LON, LAT, LON + 0.2, LAT + 0.1).difference(
        shapely.box(LON + 0.05, LAT + 0.03, LON + 0.08, LAT + 0.06)
    )
    island = shapely.box(LON + 0.3, LAT, LON + 0.35, LAT + 0.04)
    parent = shapely.MultiPolygon([outer, island])
    pieces = partition(parent, n=5, seed=3)
    assert all(p.is_valid and p.area > 0 for p in pieces)
    assert max(abs(e) for e in coverage_errors(parent, pieces)) < 1.0


def test_weights_steer_the_piece_areas():
    parent = _convex(7, 0.2)
    pieces = partition(parent, weights=[6, 1, 1, 2], seed=1)
    shares = np.array([p.area for p in pieces]) / parent.area
    assert shares[0] == max(shares)
    assert shares[0] > 0.35 and shares[1] < 0.2


def test_partition_refuses_nonsense():
    with pytest.raises(ValueError):
        partition(_convex(1, 0.1), n=0)
    with pytest.raises(ValueError):
        partition(_convex(1, 0.1), weights=[1, 0])


def test_rng_for_depends_on_keys_not_on_call_order():
    a = rng_for(42, "441821101201", "grids").random()
    rng_for(42, "other").random()
    assert rng_for(42, "441821101201", "grids").random() == a
    assert rng_for(43, "441821101201", "grids").random() != a


def test_river_stays_inside_the_polygon():
    parent = _star(5, 0.2)
    river = river_polygon(parent, rng_for(1, "river"))
    assert river.is_valid and river.area > 0
    assert shapely.difference(river, parent).area < 1e-14
