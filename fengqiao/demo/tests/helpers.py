"""Checks shared by the demo tests."""

import math

import shapely

M2_PER_DEG2_AT_EQUATOR = 111_195.0**2


def m2(area_deg2, lat):
    """Planar area in degrees² → m² at latitude `lat` (linear scale, so straight edges stay straight: a sliver
    that is degenerate in degrees is degenerate in metres too)."""
    return area_deg2 * M2_PER_DEG2_AT_EQUATOR * math.cos(math.radians(lat))


def coverage_errors(parent, pieces):
    """(gap, outside, overlap) in m² of `pieces` against `parent`."""
    lat = (parent.bounds[1] + parent.bounds[3]) / 2
    union = shapely.union_all(pieces)
    gap = shapely.difference(parent, union).area
    outside = shapely.difference(union, parent).area
    overlap = sum(p.area for p in pieces) - union.area
    return m2(gap, lat), m2(outside, lat), m2(overlap, lat)
