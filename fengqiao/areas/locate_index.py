"""The pure point-in-polygon raster index behind `locate` (ADR 0006); no database access here.

`GridIndex` rasterises the grids' edges: a point in a cell no edge touches gets its answer from the cell's
region; a point in an edge cell is decided from the few edges in that cell (numpy, exact orientation tests
with an error bound), and only the rare undecidable point (on an edge, or next to a vertex) goes to the
Shapely STRtree.
"""

import math
import time

import numpy as np
import shapely
from django.conf import settings
from scipy import ndimage

NONE = -1  # raster value: no polygon; values >= 0 are polygon positions, values <= -2 edge cells (-2 - k)
_EPS = 1e-6  # cells: a crossing this close to a cell line marks the cells on both sides
_ERR = 1e-15  # relative error bound of a floating-point orientation (Shewchuk's is 3.3e-16)
_CHUNK = 2_000_000  # segments rasterised / points queried at a time (bounds temporary memory)
_STEPS = np.array([[0, 0], [0, -1], [0, 1], [-1, 0], [1, 0]])  # (row, col) to the reference neighbour
DEFAULT_MAX_CELLS = 64_000_000  # 256 MB of int32; the cell grows when a layer would need more
_BIG = np.iinfo(np.int64).max


class GridIndex:
    """Exact point-in-polygon lookup over many polygons.

    `query` returns, for each point, the position (0-based, into `polygons`) of the lowest-positioned polygon
    that intersects the point (boundary included), or -1: the same as an STRtree
    `query(points, predicate="intersects")` reduced to the lowest match, for any valid polygons (overlapping,
    concave, with holes, multi-part).

    Why it is exact: every cell whose closed square an edge touches (with a margin) is an edge cell. The other
    cells form 4-connected regions that no polygon boundary enters, so membership in every polygon is
    constant over a region; one STRtree query per region gives its polygons. A point in an edge cell C is
    joined by a segment to the centre r of a region cell N beside C; only edges listed for C can cross that
    segment, so p is in polygon P iff (r in P) XOR (an odd number of P's edges cross it). A point where any
    orientation test is too close to call goes to the STRtree.
    """

    def __init__(self, polygons, ids=None, *, cells_per_grid=None, max_cells=DEFAULT_MAX_CELLS):
        started = time.perf_counter()
        self.polygons = np.asarray(polygons, dtype=object)
        n = len(self.polygons)
        self.ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if len(self.ids) != n:
            raise ValueError("polygons and ids differ in length")
        if cells_per_grid is None:
            cells_per_grid = settings.LOCATE_CELLS_PER_GRID
        self.tree = shapely.STRtree(self.polygons)
        self.components = 0
        self.last_exact = self.last_fallback = 0
        if n:
            self._build(cells_per_grid, max_cells)
        else:
            self.x0 = self.y0 = 0.0
            self.cell = 1.0
            self.raster = np.full((1, 1), NONE, dtype=np.int32)
            self._empty_edges()
        self.build_seconds = time.perf_counter() - started

    # --- build -------------------------------------------------------------------------------------------

    def _empty_edges(self):
        self.vx = self.vy = np.zeros(0)
        self.vpoly = np.zeros(0, dtype=np.int32)
        self.edge_start = np.zeros(1, dtype=np.int32)
        self.edge_cells = np.zeros(0, dtype=np.int32)
        self.edge_vertex = np.zeros(0, dtype=np.int32)
        self.ref_step = np.zeros(0, dtype=np.int8)
        self.ref_region = np.zeros(0, dtype=np.int32)
        self.cover = np.zeros(0, dtype=np.int32)
        self.region_keys = np.zeros(0, dtype=np.int64)

    def _build(self, cells_per_grid, max_cells):
        n = len(self.polygons)
        bounds = shapely.bounds(self.polygons)
        sides = np.sqrt((bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1]))
        minx, miny = bounds[:, 0].min(), bounds[:, 1].min()
        maxx, maxy = bounds[:, 2].max(), bounds[:, 3].max()
        cell = float(np.median(sides)) / max(cells_per_grid, 1)
        if not cell > 0:
            cell = max(maxx - minx, maxy - miny, 1e-9) / 1000
        # Fit in max_cells; the two-cell margin keeps every edge cell's neighbours inside the raster.
        while (math.ceil((maxx - minx) / cell) + 5) * (math.ceil((maxy - miny) / cell) + 5) > max_cells:
            cell *= 1.25
        self.cell = cell
        self.x0, self.y0 = minx - 2 * cell, miny - 2 * cell
        nx = math.ceil((maxx - self.x0) / cell) + 3
        ny = math.ceil((maxy - self.y0) / cell) + 3

        # Vertices of every ring; the edge starting at vertex i ends at vertex i + 1 of the same ring.
        parts, part_polygon = shapely.get_parts(self.polygons, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        coords, vertex_ring = shapely.get_coordinates(rings, return_index=True)
        self.vx = np.ascontiguousarray(coords[:, 0])
        self.vy = np.ascontiguousarray(coords[:, 1])
        self.vpoly = part_polygon[ring_part[vertex_ring]].astype(np.int32)
        del coords, parts, rings, part_polygon, ring_part
        starts = np.flatnonzero(
            (vertex_ring[1:] == vertex_ring[:-1]) & ((self.vx[1:] != self.vx[:-1]) | (self.vy[1:] != self.vy[:-1]))
        )
        del vertex_ring

        # (cell, vertex) for every cell each edge touches, sorted by cell then vertex (= by polygon).
        nvert = np.int64(len(self.vx))
        keys = []
        u, v = self._cell_u(self.vx), self._cell_v(self.vy)
        for s in _chunks_of(starts):
            touched, edge = _touched_cells(u[s], v[s], u[s + 1], v[s + 1], nx)
            keys.append(touched * nvert + s[edge])
        del u, v
        keys = _sorted_unique(np.concatenate(keys))
        edge_cells, self.edge_vertex = keys // nvert, (keys % nvert).astype(np.int32)
        del keys
        first = np.flatnonzero(np.r_[True, edge_cells[1:] != edge_cells[:-1]])
        cells = edge_cells[first]
        self.edge_cells = cells.astype(np.int32)
        self.edge_start = np.r_[first, len(edge_cells)].astype(np.int32 if len(edge_cells) < 2**31 else np.int64)
        del edge_cells

        free = np.ones(ny * nx, dtype=bool)
        free[cells] = False
        labels, count = ndimage.label(free.reshape(ny, nx))  # 4-connected regions no edge touches
        self.components = int(count)
        del free
        flat = labels.ravel()

        # Which polygons contain each region: ask the tree for one cell centre per region.
        nonzero = np.flatnonzero(flat)
        representative = np.zeros(count + 1, dtype=np.int64)
        representative[flat[nonzero]] = nonzero
        del nonzero
        rep = representative[1:]
        region, polygon = self.tree.query(
            shapely.points(self.x0 + (rep % nx + 0.5) * cell, self.y0 + (rep // nx + 0.5) * cell),
            predicate="intersects",
        )
        region = region + 1
        self.region_keys = np.sort(region * n + polygon)
        owner = np.full(count + 1, _BIG, dtype=np.int64)
        np.minimum.at(owner, region, polygon)
        owner[owner == _BIG] = NONE

        # Each edge cell's reference: a 4-neighbour in a region (none → the STRtree decides).
        self.ref_step = np.zeros(len(cells), dtype=np.int8)
        self.ref_region = np.zeros(len(cells), dtype=np.int32)
        for step in range(4, 0, -1):  # the last assignment (left) wins
            dr, dc = _STEPS[step]
            neighbour = flat[cells + dr * nx + dc]
            has = neighbour > 0
            self.ref_step[has] = step
            self.ref_region[has] = neighbour[has]

        # cover: the lowest polygon that contains the reference region but has no edge in the cell (it then
        # contains the whole cell). Candidates are the cell's own polygons.
        cell_of_edge = np.repeat(np.arange(len(cells)), np.diff(self.edge_start))
        candidate_keys = _sorted_unique(cell_of_edge * np.int64(n) + self.vpoly[self.edge_vertex])
        del cell_of_edge
        lo = np.searchsorted(self.region_keys, self.ref_region.astype(np.int64) * n)
        hi = np.searchsorted(self.region_keys, (self.ref_region.astype(np.int64) + 1) * n)
        has = (hi > lo) & (self.ref_step > 0)
        self.cover = np.full(len(cells), NONE, dtype=np.int32)
        if has.any():
            which = np.flatnonzero(has)
            k = hi[which] - lo[which]
            pair_cell = np.repeat(which, k)
            pair_poly = self.region_keys[np.repeat(lo[which], k) + _ranges(k)] % n
            inside = _isin_sorted(candidate_keys, pair_cell * np.int64(n) + pair_poly)
            best = np.full(len(cells), _BIG, dtype=np.int64)
            np.minimum.at(best, pair_cell[~inside], pair_poly[~inside])
            self.cover = np.where(best == _BIG, NONE, best).astype(np.int32)

        lut = owner.astype(np.int32)
        lut[0] = NONE
        self.raster = lut[labels]
        del labels
        self.raster.ravel()[cells] = -2 - np.arange(len(cells), dtype=np.int32)

    def _cell_u(self, x):
        return (x - self.x0) / self.cell

    def _cell_v(self, y):
        return (y - self.y0) / self.cell

    # --- query -------------------------------------------------------------------------------------------

    @property
    def shape(self):
        return self.raster.shape

    @property
    def nbytes(self):
        return self.raster.nbytes

    @property
    def total_nbytes(self):
        arrays = (
            self.raster,
            self.vx,
            self.vy,
            self.vpoly,
            self.edge_start,
            self.edge_cells,
            self.edge_vertex,
            self.ref_step,
            self.ref_region,
            self.cover,
            self.region_keys,
            self.ids,
        )
        return sum(a.nbytes for a in arrays)

    @property
    def exact_fraction(self):
        """Share of raster cells touched by an edge."""
        return (len(self.edge_start) - 1) / self.raster.size

    def query(self, lons, lats):
        """Positions (int64, -1 = none) of the lowest polygon containing each point; see the class docstring."""
        x = np.asarray(lons, dtype=np.float64).ravel()
        y = np.asarray(lats, dtype=np.float64).ravel()
        if len(x) != len(y):
            raise ValueError(f"lons and lats differ in length ({len(x)} and {len(y)})")
        out, self.last_exact, self.last_fallback = self._query(x, y)
        return out

    def query_ids(self, lons, lats):
        """Like `query` but returns the ids given at construction (-1 = none)."""
        pos = self.query(lons, lats)
        return np.where(pos >= 0, self.ids[np.maximum(pos, 0)], -1)

    def query_tree(self, lons, lats):
        """The reference answer: STRtree only, no raster (for tests and the benchmark)."""
        return self._tree(np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64))

    def _query(self, x, y):
        ny, nx = self.raster.shape
        u, v = self._cell_u(x), self._cell_v(y)  # the build's arithmetic, so cells agree with it
        inside = (u >= 0) & (u < nx) & (v >= 0) & (v < ny)  # False for NaN
        out = np.full(len(x), NONE, dtype=np.int64)
        where = slice(None) if inside.all() else inside
        out[where] = self.raster.ravel()[v[where].astype(np.int64) * nx + u[where].astype(np.int64)]
        exact = np.flatnonzero(out <= -2)
        fallback = 0
        for chunk in _chunks_of(exact):
            answer, unsure = self._decide(x[chunk], y[chunk], -2 - out[chunk])
            if len(unsure):
                answer[unsure] = self._tree(x[chunk[unsure]], y[chunk[unsure]])
                fallback += len(unsure)
            out[chunk] = answer
        return out, len(exact), fallback

    def _decide(self, px, py, cells):
        """Answers for points in edge cells, and the positions of those the STRtree must decide."""
        n = len(self.polygons)
        nx = self.raster.shape[1]
        step = self.ref_step[cells]
        count = self.edge_start[cells + 1] - self.edge_start[cells]
        count[step == 0] = 0
        point = np.repeat(np.arange(len(px)), count)
        vertex = self.edge_vertex[np.repeat(self.edge_start[cells], count) + _ranges(count)].astype(np.int64)
        # The reference point: centre of the neighbouring region cell.
        cell_flat = self.edge_cells[cells].astype(np.int64)
        rx = self.x0 + (cell_flat % nx + _STEPS[step, 1] + 0.5) * self.cell
        ry = self.y0 + (cell_flat // nx + _STEPS[step, 0] + 0.5) * self.cell
        ax, ay, bx, by = self.vx[vertex], self.vy[vertex], self.vx[vertex + 1], self.vy[vertex + 1]
        qx, qy, sx, sy = px[point], py[point], rx[point], ry[point]
        r_side, r_sure = _orient(ax, ay, bx, by, sx, sy)
        p_side, p_sure = _orient(ax, ay, bx, by, qx, qy)
        a_side, a_sure = _orient(sx, sy, qx, qy, ax, ay)
        b_side, b_sure = _orient(sx, sy, qx, qy, bx, by)
        apart = (r_sure & p_sure & (r_side == p_side)) | (a_sure & b_sure & (a_side == b_side))
        cross = ~apart & r_sure & p_sure & a_sure & b_sure
        unsure_pair = ~apart & ~cross
        unsure = np.zeros(len(px), dtype=bool)
        unsure[point[unsure_pair]] = True
        unsure[step == 0] = True

        # Parity of crossings per (point, polygon): edges of one polygon are adjacent within a cell's list.
        poly = self.vpoly[vertex]
        answer = np.full(len(px), _BIG, dtype=np.int64)
        if len(point):
            run = np.flatnonzero(np.r_[True, (point[1:] != point[:-1]) | (poly[1:] != poly[:-1])])
            odd = np.bitwise_xor.reduceat(cross.view(np.uint8), run).astype(bool)
            run_point, run_poly = point[run], poly[run].astype(np.int64)
            region = self.ref_region[cells[run_point]].astype(np.int64)
            member = _isin_sorted(self.region_keys, region * n + run_poly) ^ odd
            np.minimum.at(answer, run_point[member], run_poly[member])
        cover = self.cover[cells]
        answer = np.where(cover >= 0, np.minimum(answer, cover), answer)
        answer[answer == _BIG] = NONE
        return answer, np.flatnonzero(unsure)

    def _tree(self, x, y):
        found, polygon = self.tree.query(shapely.points(x, y), predicate="intersects")
        best = np.full(len(x), _BIG, dtype=np.int64)
        np.minimum.at(best, found, polygon)
        best[best == _BIG] = NONE
        return best

    def describe(self):
        ny, nx = self.raster.shape
        return (
            f"{len(self.polygons)} polygons, raster {nx}x{ny} cells of {self.cell:.6f}° "
            f"({self.nbytes / 2**20:.1f} MiB int32, index {self.total_nbytes / 2**20:.1f} MiB), "
            f"{self.components} regions, {self.exact_fraction:.1%} edge cells, built in {self.build_seconds:.2f} s"
        )


def _orient(ax, ay, bx, by, cx, cy):
    """Side of c relative to the line a→b (True = left) and whether that is certain (Shewchuk's filter)."""
    left = (ax - cx) * (by - cy)
    right = (ay - cy) * (bx - cx)
    det = left - right
    return det > 0, np.abs(det) > _ERR * (np.abs(left) + np.abs(right))


def _ranges(counts):
    """[0..c0-1, 0..c1-1, ...] for an array of counts."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)


def _sorted_unique(keys):
    keys.sort()  # (np.unique's hash table is much slower on tens of millions of int64)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _isin_sorted(sorted_keys, keys):
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def _chunks_of(index):
    for start in range(0, len(index), _CHUNK):
        yield index[start : start + _CHUNK]


def _touched_cells(u0, v0, u1, v1, nx):
    """Cells (flat index) each edge (u0, v0) → (u1, v1), in cell coordinates, touches, as (cells, edge).

    The cells its walk enters (the start cell, then one per cell line crossed), plus all cells around any
    vertex or crossing that lies within _EPS of a cell line: a superset of the cells whose closed square the
    edge touches. Duplicates are possible.
    """
    cells, edges = [], []

    def emit(row, col, edge):
        cells.append(row * nx + col)
        edges.append(edge)

    every = np.arange(len(u0))
    emit(np.floor(v0).astype(np.int64), np.floor(u0).astype(np.int64), every)
    for uu, vv in ((u0, v0), (u1, v1)):
        cols = np.floor(uu - _EPS).astype(np.int64), np.floor(uu + _EPS).astype(np.int64)
        rows = np.floor(vv - _EPS).astype(np.int64), np.floor(vv + _EPS).astype(np.int64)
        near = np.flatnonzero((cols[0] != cols[1]) | (rows[0] != rows[1]))
        for row in rows:
            for col in cols:
                emit(row[near], col[near], near)
    # Crossings of the lines u = k (then, swapped, v = k) strictly between the ends.
    for a0, b0, a1, b1, vertical in ((u0, v0, u1, v1, True), (v0, u0, v1, u1, False)):
        first = np.floor(np.minimum(a0, a1)).astype(np.int64) + 1
        count = np.maximum(np.ceil(np.maximum(a0, a1)).astype(np.int64) - first, 0)
        crossing = np.flatnonzero(count)
        if not len(crossing):
            continue
        edge = np.repeat(crossing, count[crossing])
        k = first[edge] + _ranges(count[crossing])
        at = b0[edge] + (k - a0[edge]) * ((b1[edge] - b0[edge]) / (a1[edge] - a0[edge]))
        entered = np.where(a1[edge] > a0[edge], k, k - 1)
        side = np.floor(at).astype(np.int64)
        low, high = np.floor(at - _EPS).astype(np.int64), np.floor(at + _EPS).astype(np.int64)
        near = np.flatnonzero(low != high)
        pairs = [(side, entered, slice(None))]
        pairs += [(b[near], a[near], near) for b in (low, high) for a in (k - 1, k)]
        for b, a, which in pairs:
            if vertical:
                emit(b, a, edge[which])
            else:
                emit(a, b, edge[which])
    return np.concatenate(cells), np.concatenate(edges)
