"""Synthetic geography for the demo: split a polygon into N pieces with no gaps and no overlaps.

Pure Shapely/NumPy and deterministic: the same polygon, weights and seed give the same pieces, byte for byte.
Nothing here touches the database.

How `partition` works:

1. Work in a locally isotropic plane (longitude scaled by cos(latitude)), so cells are not stretched east–west.
2. Scatter sample points uniformly inside the polygon and group them with a *balanced* k-means: Lloyd steps plus
   per-cluster offsets (a power diagram in sample space) that push each cluster's share of samples towards its
   weight's share. Every cluster keeps at least one sample.
3. ``organic=True`` (towns, villages): take the Voronoi cell of every *sample*; a piece is the union of its
   samples' cells. Boundaries then wander like real ones. ``organic=False`` (grids): one Voronoi cell per cluster,
   seeded at the cluster member nearest its centre — straight edges, cheaper.
4. Cut the polygon along the pieces' edges in one noding + polygonize step and give every face to the piece that
   contains it. The Voronoi cells partition the plane, so the faces partition the polygon exactly; neighbours
   share identical vertices, and every piece is a valid, non-empty Polygon or MultiPolygon.

Every piece contains at least one sample point of the polygon's interior, so no piece is empty.
"""

import math
import zlib

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint

from fengqiao.core.geo import GeoError, metres_to_degrees, polygonal


def rng_for(seed, *keys):
    """A generator that depends only on `seed` and `keys` (e.g. an area code), not on the order of calls."""
    material = [int(seed) & 0xFFFFFFFF]
    for key in keys:
        material.append(zlib.crc32(str(key).encode()) if not isinstance(key, int) else key & 0xFFFFFFFF)
    return np.random.default_rng(material)


# --- the isotropic working plane -------------------------------------------------------------------------


def _scale_of(geom):
    miny, maxy = geom.bounds[1], geom.bounds[3]
    return max(math.cos(math.radians((miny + maxy) / 2)), 1e-6)


def _to_plane(geom, k):
    return shapely.transform(geom, lambda c: np.column_stack([c[:, 0] * k, c[:, 1]]))


def _from_plane(geoms, k):
    return shapely.transform(geoms, lambda c: np.column_stack([c[:, 0] / k, c[:, 1]]))


# --- sampling and clustering -------------------------------------------------------------------------------


def sample_points(geom, n, rng, *, max_rounds=200):
    """`n` uniform random points strictly inside `geom` (rejection sampling in the bounding box)."""
    minx, miny, maxx, maxy = geom.bounds
    shapely.prepare(geom)
    ratio = max(geom.area / max((maxx - minx) * (maxy - miny), 1e-300), 1e-3)
    found = []
    have = 0
    for _ in range(max_rounds):
        batch = int((n - have) / ratio * 1.3) + 16
        xs = rng.uniform(minx, maxx, batch)
        ys = rng.uniform(miny, maxy, batch)
        inside = shapely.contains_xy(geom, xs, ys)
        pts = np.column_stack([xs[inside], ys[inside]])
        found.append(pts)
        have += len(pts)
        if have >= n:
            break
    pts = np.concatenate(found)[:n] if found else np.empty((0, 2))
    if len(pts) < n:
        raise GeoError(f"could not place {n} points inside the polygon (area {geom.area:g})")
    # duplicates would merge Voronoi cells; they are practically impossible but cheap to rule out
    _, first = np.unique(pts, axis=0, return_index=True)
    return pts[np.sort(first)]


def _kmeans_pp(points, k, rng):
    centres = [points[rng.integers(len(points))]]
    d2 = ((points - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = d2.sum()
        idx = rng.choice(len(points), p=d2 / total) if total > 0 else rng.integers(len(points))
        centres.append(points[idx])
        d2 = np.minimum(d2, ((points - points[idx]) ** 2).sum(axis=1))
    return np.array(centres)


def balanced_kmeans(points, weights, rng, *, iterations=None):
    """Label `points` with len(weights) spatially coherent clusters whose sizes approach the weights' shares.

    Returns (labels, centres). Every cluster has at least one point (needs len(points) >= len(weights)).
    """
    k = len(weights)
    m = len(points)
    if iterations is None:  # equal shares need no balancing beyond what Lloyd steps give
        iterations = 10 if min(weights) == max(weights) else 25
    target = np.asarray(weights, dtype=float)
    target = target / target.sum() * m
    centres = _kmeans_pp(points, k, rng)
    spread = ((points - points.mean(axis=0)) ** 2).sum(axis=1).mean() / k  # a cluster's typical squared size
    offsets = np.zeros(k)
    pp = (points**2).sum(axis=1)[:, None]

    def sq_distances(centres):
        return pp - 2 * points @ centres.T + (centres**2).sum(axis=1)[None, :]

    for it in range(iterations):
        d2 = sq_distances(centres)
        labels = np.argmin(d2 - offsets, axis=1)
        counts = np.bincount(labels, minlength=k)
        rate = 0.6 * (1 - it / iterations) + 0.05
        offsets += rate * spread * (target - counts) / np.maximum(target, 1)
        filled = counts > 0
        sums = np.column_stack(
            [
                np.bincount(labels, weights=points[:, 0], minlength=k),
                np.bincount(labels, weights=points[:, 1], minlength=k),
            ]
        )
        centres[filled] = sums[filled] / counts[filled, None]
    d2 = sq_distances(centres)
    labels = np.argmin(d2 - offsets, axis=1)
    # every cluster keeps at least one point: an empty one takes the nearest point of a cluster that can spare it
    counts = np.bincount(labels, minlength=k)
    for j in np.flatnonzero(counts == 0):
        spare = counts[labels] > 1
        candidates = np.flatnonzero(spare)
        best = candidates[np.argmin(d2[candidates, j])]
        counts[labels[best]] -= 1
        labels[best] = j
        counts[j] = 1
    return labels, centres


# --- partition -------------------------------------------------------------------------------------------


def partition(geom, n=None, *, weights=None, seed=0, organic=True, samples_per_piece=24, rng=None):
    """Split `geom` (Polygon/MultiPolygon, any CRS in degrees) into pieces with no gaps and no overlaps.

    Give either `n` (equal shares) or `weights` (one per piece, positive; piece areas approach the shares).
    Returns a list of valid, non-empty Polygon/MultiPolygon geometries in the order of `weights`.
    """
    geom = polygonal(geom, what="partition input")
    if weights is None:
        if n is None or n < 1:
            raise ValueError("partition needs n >= 1 or a list of weights")
        weights = [1.0] * n
    weights = [float(w) for w in weights]
    if not weights or min(weights) <= 0:
        raise ValueError("weights must be positive")
    k = len(weights)
    if k == 1:
        return [geom]
    rng = rng if rng is not None else np.random.default_rng(seed)

    scale = _scale_of(geom)
    plane = _to_plane(geom, scale)
    per_piece = samples_per_piece if organic else max(8, samples_per_piece // 2)
    points = sample_points(plane, max(per_piece * k, 4 * k), rng)
    labels, centres = balanced_kmeans(points, weights, rng)

    minx, miny, maxx, maxy = plane.bounds
    pad = max(maxx - minx, maxy - miny)
    envelope = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    if organic:
        cells = shapely.get_parts(shapely.voronoi_polygons(MultiPoint(points), extend_to=envelope, ordered=True))
        # Voronoi cells share their vertices exactly, so the fast coverage union applies
        pieces = [shapely.coverage_union_all(cells[labels == j]) for j in range(k)]
    else:
        seeds = np.empty((k, 2))
        for j in range(k):
            members = points[labels == j]
            seeds[j] = members[np.argmin(((members - centres[j]) ** 2).sum(axis=1))]
        pieces = list(shapely.get_parts(shapely.voronoi_polygons(MultiPoint(seeds), extend_to=envelope, ordered=True)))
    cells = _from_plane(np.array(pieces, dtype=object), scale)
    return _clip_to(geom, cells)


def _clip_to(parent, cells):
    """Cut `parent` along the edges of the plane partition `cells`; piece j = parent ∩ cells[j].

    All boundaries are noded together and polygonized once, so neighbouring pieces share identical vertices and
    edges (a proper coverage, which later coverage unions and overlays handle without slivers) and together they
    are exactly the faces of `parent`.
    """
    linework = shapely.union_all([parent.boundary, *shapely.boundary(cells)])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(linework)))
    reps = shapely.point_on_surface(faces)
    shapely.prepare(parent)
    inside = shapely.contains(parent, reps)
    faces, reps = faces[inside], reps[inside]
    tree = shapely.STRtree(cells)
    hits = tree.query(reps, predicate="within")
    labels = np.full(len(faces), -1)
    labels[hits[0][::-1]] = hits[1][::-1]  # first hit wins
    for i in np.flatnonzero(labels < 0):  # a representative point on a cell edge: take the nearest cell
        labels[i] = tree.query_nearest(reps[i])[0]
    pieces = []
    for j in range(len(cells)):
        mine = faces[labels == j]
        if not len(mine):
            raise GeoError(f"partition produced an empty piece ({j})")
        pieces.append(polygonal(shapely.coverage_union_all(mine), what=f"piece {j}"))
    return pieces


# --- synthetic rivers ------------------------------------------------------------------------------------


def river_line(geom, rng, *, wiggle=0.18, steps=40):
    """A meandering polyline crossing `geom`'s bounding box along its longer side, from edge to edge."""
    minx, miny, maxx, maxy = geom.bounds
    w, h = maxx - minx, maxy - miny
    t = np.linspace(0.0, 1.0, steps + 1)
    drift = np.cumsum(rng.normal(0, 1, steps + 1))
    drift -= np.linspace(drift[0], drift[-1], steps + 1)  # ends at the same offset it starts with
    drift = drift / max(np.abs(drift).max(), 1e-9) * wiggle
    base = rng.uniform(0.35, 0.65)
    bend = 0.12 * np.sin(t * math.pi * rng.uniform(1.0, 2.5) + rng.uniform(0, math.pi))
    across = np.clip(base + bend + drift, 0.05, 0.95)
    if w >= h:
        xs, ys = minx - 0.05 * w + t * 1.1 * w, miny + across * h
    else:
        xs, ys = minx + across * w, miny - 0.05 * h + t * 1.1 * h
    return LineString(np.column_stack([xs, ys]))


def river_network(geom, rng, *, tributaries=2):
    """A main river across `geom` plus `tributaries` side streams flowing into it (lines, not yet buffered)."""
    main = river_line(geom, rng)
    minx, miny, maxx, maxy = geom.bounds
    size = max(maxx - minx, maxy - miny)
    lines = [main]
    for _ in range(tributaries):
        at = rng.uniform(0.15, 0.85)
        start = main.interpolate(at, normalized=True)
        ahead = main.interpolate(min(at + 0.01, 1.0), normalized=True)
        dx, dy = ahead.x - start.x, ahead.y - start.y
        norm = math.hypot(dx, dy) or 1.0
        side = 1 if rng.random() < 0.5 else -1
        # away from the main river, at 45–80° to it, with a bend
        angle = side * math.radians(rng.uniform(45, 80))
        ux = (dx * math.cos(angle) - dy * math.sin(angle)) / norm
        uy = (dx * math.sin(angle) + dy * math.cos(angle)) / norm
        length = size * rng.uniform(0.2, 0.4)
        points = [(start.x, start.y)]
        for step in (1, 2, 3):
            jitter = rng.normal(0, 0.08) * length
            points.append(
                (start.x + ux * length * step / 3 - uy * jitter, start.y + uy * length * step / 3 + ux * jitter)
            )
        lines.append(LineString(points))
    return shapely.MultiLineString(lines)


def river_polygon(geom, rng, *, width_m=120.0, tributaries=2, attempts=6):
    """A buffered synthetic river network across `geom`'s largest part, clipped to `geom`.

    Returns a valid Polygon/MultiPolygon, or None when no attempt crosses the polygon (tiny islands)."""
    parts = shapely.get_parts(geom)
    main_part = max(parts, key=lambda p: p.area)
    lat = (geom.bounds[1] + geom.bounds[3]) / 2
    _dlon, dlat = metres_to_degrees(width_m / 2, lat)
    scale = _scale_of(geom)
    for _ in range(attempts):
        network = river_network(main_part, rng, tributaries=tributaries)
        # buffer in the isotropic plane so the river is as wide east–west as north–south
        river = _from_plane(_to_plane(network, scale).buffer(dlat, quad_segs=4), scale)
        try:
            return polygonal(shapely.intersection(river, geom), what="river")
        except GeoError:
            continue
    return None


__all__ = ["balanced_kmeans", "partition", "river_network", "river_polygon", "rng_for", "sample_points"]
