"""Coverage of an area by a grid layer (`fengqiao check-coverage`): gaps, overlaps, parts outside.

Within the area's current boundary: gaps = boundary − union of the layer's current grids under the area,
overlaps = pairwise intersections of those grids (STRtree pairs), outside = grid parts beyond the boundary.
Floating-point slivers are ignored: pieces smaller than the tolerance (m²), and pieces thinner than
`sliver_width_m` (mean width 2·area/perimeter; overlay operations along a long shared edge leave slivers a few
millimetres wide but hundreds of metres long, which exceed any sensible area tolerance).
"""

import math
from dataclasses import dataclass, field

import numpy as np
import shapely

from fengqiao.areas.grids import get_layer
from fengqiao.areas.models import Boundary, Grid, GridLayer
from fengqiao.core.geo import area_m2, feature_collection, to_feature

_M2_PER_DEG2_AT_EQUATOR = 111_320.0**2
_M_PER_DEG = 111_320.0
SLIVER_WIDTH_M = 0.01


class CoverageError(ValueError):
    pass


@dataclass
class Piece:
    kind: str  # gap | overlap | outside
    geometry: object
    area_m2: float
    grids: list  # grid codes involved (for a gap: the grids that touch it)


@dataclass
class CoverageReport:
    area: object
    layer: object
    boundary_m2: float
    covered_m2: float
    grids: int
    tolerance_m2: float
    sliver_width_m: float = SLIVER_WIDTH_M
    gaps: list = field(default_factory=list)
    overlaps: list = field(default_factory=list)
    outside: list = field(default_factory=list)

    @property
    def percent(self):
        return 100.0 * self.covered_m2 / self.boundary_m2 if self.boundary_m2 else 0.0

    @property
    def ok(self):
        return not self.gaps and not self.overlaps

    def lines(self):
        def size(pieces):
            return f"{sum(p.area_m2 for p in pieces):,.1f} m²"

        out = [
            f"area {self.area.code} {self.area.name}: boundary {self.boundary_m2:,.0f} m², "
            f"{self.grids} current grids of layer {self.layer.code}",
            f"gaps: {len(self.gaps)} ({size(self.gaps)})",
            f"overlaps: {len(self.overlaps)} ({size(self.overlaps)})",
            f"outside the boundary: {len(self.outside)} ({size(self.outside)})",
        ]
        for piece in sorted(self.gaps + self.overlaps + self.outside, key=lambda p: -p.area_m2)[:20]:
            x, y = piece.geometry.representative_point().coords[0]
            out.append(f"  {piece.kind} {piece.area_m2:,.1f} m² at {x:.6f},{y:.6f} grids {' '.join(piece.grids)}")
        out.append(
            f"coverage {self.area.code} {self.layer.code}: {self.percent:.2f}% covered, "
            f"{len(self.gaps)} gaps, {len(self.overlaps)} overlaps"
        )
        return out

    def to_geojson(self):
        return feature_collection(
            [
                to_feature(p.geometry, {"kind": p.kind, "area_m2": round(p.area_m2, 3), "grids": p.grids})
                for p in self.gaps + self.overlaps + self.outside
            ]
        )


def _areal(geom):
    """The polygons of any geometry (lines and points from touching edges dropped)."""
    parts = shapely.get_parts(geom)
    return [p for p in parts if p.geom_type == "Polygon" and not p.is_empty]


def _perimeter_m(poly):
    """Perimeter in metres (local equirectangular; plenty for telling slivers from pieces)."""
    k = math.cos(math.radians((poly.bounds[1] + poly.bounds[3]) / 2))
    return shapely.transform(poly, lambda c: c * [k * _M_PER_DEG, _M_PER_DEG]).length


def _pieces(kind, geoms, tolerance_m2, sliver_width_m, codes_for):
    pieces = []
    for geom, extra in geoms:
        for poly in _areal(geom):
            size = area_m2(poly)
            if size >= tolerance_m2 and 2 * size / _perimeter_m(poly) >= sliver_width_m:
                pieces.append(Piece(kind, poly, size, codes_for(poly, extra)))
    return pieces


def _cheap_floor(geoms, tolerance_m2):
    """Mask of geometries that may be at least tolerance_m2 (planar degree area, generous by 2x)."""
    lat = np.radians((shapely.bounds(geoms)[:, 1] + shapely.bounds(geoms)[:, 3]) / 2)
    m2 = shapely.area(geoms) * _M2_PER_DEG2_AT_EQUATOR * np.cos(lat)
    return m2 * 2 >= tolerance_m2


def check_coverage(area, *, layer=GridLayer.COMPREHENSIVE, tolerance_m2=1.0, sliver_width_m=SLIVER_WIDTH_M):
    """Compare the area's current boundary with the current grids of `layer` under the area."""
    layer = get_layer(layer)
    boundary = Boundary.objects.filter(area=area, valid_to__isnull=True).first()
    if boundary is None or boundary.geometry is None:
        raise CoverageError(
            f"area {area.code} {area.name} has no current boundary; import one with "
            "`fengqiao import-boundaries FILE.geojson` first"
        )
    outline = boundary.geometry
    rows = list(
        Grid.objects.current()
        .filter(layer=layer, area__path__startswith=area.path, geometry_wkb__isnull=False)
        .order_by("code")
        .values_list("code", "geometry_wkb")
    )
    codes = np.array([code for code, _ in rows], dtype=object)
    grids = shapely.from_wkb([bytes(wkb) for _, wkb in rows]) if rows else np.array([], dtype=object)
    report = CoverageReport(
        area=area,
        layer=layer,
        boundary_m2=boundary.area_m2 or area_m2(outline),
        covered_m2=0.0,
        grids=len(rows),
        tolerance_m2=tolerance_m2,
        sliver_width_m=sliver_width_m,
    )
    tree = shapely.STRtree(grids)
    shapely.prepare(outline)

    def touching(poly, _extra):
        return sorted(codes[tree.query(poly, predicate="intersects")].tolist())

    union = shapely.union_all(grids) if len(grids) else shapely.Polygon()
    inside = shapely.intersection(outline, union)
    report.covered_m2 = area_m2(inside)
    if layer.full_coverage:
        report.gaps = _pieces(
            "gap", [(shapely.difference(outline, union), None)], tolerance_m2, sliver_width_m, touching
        )

    # Overlaps: every pair of grids whose interiors may meet (the tree gives each pair twice).
    if len(grids) > 1:
        left, right = tree.query(grids, predicate="intersects")
        keep = left < right
        left, right = left[keep], right[keep]
        common = shapely.intersection(grids[left], grids[right])
        big = _cheap_floor(common, tolerance_m2)
        report.overlaps = _pieces(
            "overlap",
            [(common[i], (left[i], right[i])) for i in np.flatnonzero(big)],
            tolerance_m2,
            sliver_width_m,
            lambda _poly, pair: [codes[pair[0]], codes[pair[1]]],
        )

    # Outside: grids not wholly covered by the boundary, minus the boundary.
    if len(grids):
        beyond = np.flatnonzero(~shapely.covers(outline, grids))
        parts = shapely.difference(grids[beyond], outline)
        big = _cheap_floor(parts, tolerance_m2) if len(parts) else np.array([], dtype=bool)
        report.outside = _pieces(
            "outside",
            [(parts[i], beyond[i]) for i in np.flatnonzero(big)],
            tolerance_m2,
            sliver_width_m,
            lambda _poly, g: [codes[g]],
        )
    return report
