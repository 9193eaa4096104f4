"""Point → grid lookup ("which grid is this GPS point in?") for one point or millions (ADR 0006).

`GridIndex` rasterises the grids' edges: a point in a cell no edge touches gets its answer from the cell's
region; a point in an edge cell is decided from the few edges in that cell (numpy, exact orientation tests
with an error bound), and only the rare undecidable point (on an edge, or next to a vertex) goes to the
Shapely STRtree. `locate` and `locate_many` keep one index per layer in the process and rebuild it when the
layer's grids change.
"""

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import shapely
from django.conf import settings
from django.db.models import Count, Max

from fengqiao.areas.grids import UnknownLayerError, get_layer  # noqa: F401 - re-exported
from fengqiao.areas.locate_index import GridIndex
from fengqiao.areas.models import Area, Boundary, Grid, GridLayer
from fengqiao.core.geo import CHINA_BBOX, GeoError, check_lonlat

# --- the database-backed index -------------------------------------------------------------------------


@dataclass
class LocateResult:
    grid: Grid | None
    area: Area | None
    chain: list = field(default_factory=list)  # areas from the root (province) to `area`
    method: str = "none"  # "grid", "area-boundary" or "none"
    reason: str = ""


class BoundaryIndex:
    """Current area boundaries; a point's area is the deepest (then smallest) boundary that contains it."""

    def __init__(self, rows):
        self.area_ids = np.array([r[0] for r in rows], dtype=np.int64)
        self.levels = np.array([r[1] for r in rows], dtype=np.int64)
        self.sizes = np.array([r[2] or 0.0 for r in rows], dtype=np.float64)
        self.tree = shapely.STRtree(shapely.from_wkb([bytes(r[3]) for r in rows]) if rows else [])

    def find(self, lon, lat):
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        if not len(hits):
            return None
        best = min(hits, key=lambda i: (-self.levels[i], self.sizes[i], self.area_ids[i]))
        return int(self.area_ids[best])


_cache = {}
_lock = threading.RLock()


@dataclass
class _Entry:
    signature: tuple
    value: object
    checked_at: float


def invalidate():
    """Forget every cached index (tests; after bulk changes that bypass `updated_at`)."""
    with _lock:
        _cache.clear()


def _cached(key, signature, build):
    with _lock:
        entry = _cache.get(key)
        now = time.monotonic()
        if entry is not None and now - entry.checked_at < settings.LOCATE_REFRESH_SECONDS:
            return entry.value
        current = signature()
        if entry is not None and entry.signature == current:
            entry.checked_at = now
            return entry.value
        value = build()
        _cache[key] = _Entry(current, value, time.monotonic())
        return value


def _grid_signature(layer):
    agg = Grid.objects.current().filter(layer=layer).aggregate(n=Count("id"), last=Max("updated_at"), top=Max("id"))
    return (agg["n"], agg["last"], agg["top"])


def _build_grid_index(layer):
    rows = list(
        Grid.objects.current()
        .filter(layer=layer, geometry_wkb__isnull=False)
        .order_by("id")
        .values_list("id", "geometry_wkb")
    )
    polygons = shapely.from_wkb([bytes(wkb) for _, wkb in rows]) if rows else []
    return GridIndex(polygons, [pk for pk, _ in rows])


def _boundary_signature():
    agg = Boundary.objects.aggregate(n=Count("id"), top=Max("id"), closed=Max("valid_to"))
    return (agg["n"], agg["top"], agg["closed"])


def _build_boundary_index():
    rows = list(
        Boundary.objects.filter(valid_to__isnull=True, geometry_wkb__isnull=False)
        .order_by("id")
        .values_list("area_id", "area__level", "area_m2", "geometry_wkb")
    )
    return BoundaryIndex(rows)


def grid_index(layer=GridLayer.COMPREHENSIVE):
    """The process's current index for a layer (rebuilt when the layer's grids changed)."""
    layer = get_layer(layer)
    return _cached(("grids", layer.pk), lambda: _grid_signature(layer), lambda: _build_grid_index(layer))


def boundary_index():
    return _cached(("boundaries",), _boundary_signature, _build_boundary_index)


def locate(lon, lat, layer=GridLayer.COMPREHENSIVE):
    """Find the grid of `layer` containing a WGS84 point, else the deepest area whose boundary contains it.

    Raises GeoError for unusable coordinates (not numbers, swapped, outside China) and UnknownLayerError.
    """
    lon, lat = check_lonlat(lon, lat)
    layer = get_layer(layer)
    ids = grid_index(layer).query_ids([lon], [lat])
    grid = None
    if ids[0] >= 0:
        grid = Grid.objects.select_related("layer", "area").filter(pk=int(ids[0])).first()
    if grid is not None:
        return LocateResult(
            grid=grid,
            area=grid.area,
            chain=grid.area.ancestors(),
            method="grid",
            reason=f"grid {grid.code} of layer {layer.code} contains the point",
        )
    area_id = boundary_index().find(lon, lat)
    area = Area.objects.filter(pk=area_id).first() if area_id is not None else None
    if area is not None:
        return LocateResult(
            grid=None,
            area=area,
            chain=area.ancestors(),
            method="area-boundary",
            reason=(
                f"no grid of layer {layer.code} contains the point; "
                "fell back to the smallest area whose boundary contains it"
            ),
        )
    return LocateResult(
        grid=None,
        area=None,
        chain=[],
        method="none",
        reason=f"outside every area: no grid of layer {layer.code} and no area boundary contains the point",
    )


def locate_many(lons, lats, layer=GridLayer.COMPREHENSIVE, *, strict=True):
    """Grid ids (numpy int64, -1 = none) for arrays of WGS84 points, vectorised (for importers).

    With strict=True a non-finite, swapped or out-of-China point raises GeoError naming its position; with
    strict=False such points get -1.
    """
    try:
        x = np.asarray(lons, dtype=np.float64).ravel()
        y = np.asarray(lats, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise GeoError(f"lons/lats must be numbers ({exc})") from None
    if len(x) != len(y):
        raise GeoError(f"lons and lats differ in length ({len(x)} and {len(y)})")
    minx, miny, maxx, maxy = CHINA_BBOX
    ok = (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)  # False for NaN
    if strict and not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        try:
            check_lonlat(x[bad], y[bad])
        except GeoError as exc:
            raise GeoError(f"point {bad}: {exc}") from None
    ids = grid_index(layer).query_ids(np.where(ok, x, np.nan), np.where(ok, y, np.nan))
    return ids
