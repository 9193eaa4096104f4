"""`fengqiao bench SUBCOMMAND …`: reproducible performance measurements.

    fengqiao bench locate --grids 200000 --points 1000000 [--seed 1]

Each subcommand is a pair (add_arguments, run) in SUBCOMMANDS; later benchmarks (imports, …) add theirs.
"""

import time

import numpy as np
import shapely
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fengqiao.areas.locate_index import GridIndex

# Guangdong's extent (WGS84), the size of the province the index is built for.
EXTENT = (109.65, 20.2, 117.3, 25.5)


def synthetic_grids(count, *, seed=1, extent=EXTENT):
    """`count` irregular grids tiling an irregular "province": Voronoi cells of random seeds, clipped to a
    wavy coastline with lakes (so cells at the coast and lakes are concave or multi-part, some have holes)."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = extent
    cx, cy, rx, ry = (minx + maxx) / 2, (miny + maxy) / 2, (maxx - minx) / 2, (maxy - miny) / 2
    theta = np.linspace(0, 2 * np.pi, 1441)[:-1]
    # A wobbly superellipse covering ~3/4 of the extent (Guangdong's land is ~2/5 of its bbox).
    radius = 0.93 + 0.035 * np.sin(3 * theta + rng.uniform(0, 6)) + 0.02 * np.sin(17 * theta + rng.uniform(0, 6))
    radius += 0.01 * np.convolve(rng.normal(size=theta.size), np.ones(9) / 3, mode="same")
    radius = np.minimum(radius, 0.999)
    cos, sin = np.cos(theta), np.sin(theta)
    x = cx + rx * radius * np.sign(cos) * np.abs(cos) ** 0.5
    y = cy + ry * radius * np.sign(sin) * np.abs(sin) ** 0.5
    land = shapely.Polygon(np.column_stack([x, y]))
    grid_side = np.sqrt(land.area / count)
    # 40 lakes larger than a grid (concave and multi-part cells) and 40 ponds smaller than one (holes).
    sizes = np.concatenate([rng.uniform(1.5, 4.0, 40), rng.uniform(0.1, 0.2, 40)]) * grid_side
    lakes = shapely.buffer(
        shapely.points(rng.uniform(cx - rx / 2, cx + rx / 2, 80), rng.uniform(cy - ry / 2, cy + ry / 2, 80)),
        sizes,
        quad_segs=6,
    )
    land = shapely.difference(land, shapely.union_all(lakes))
    shapely.prepare(land)
    xs, ys = [], []
    while sum(len(x) for x in xs) < count:
        x, y = rng.uniform(minx, maxx, count), rng.uniform(miny, maxy, count)
        keep = shapely.contains_xy(land, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
    x, y = np.concatenate(xs)[:count], np.concatenate(ys)[:count]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(np.column_stack([x, y])), extend_to=shapely.box(*extent))
    )
    cut = ~shapely.contains(land, cells)
    cells[cut] = shapely.intersection(cells[cut], land)
    cells = cells[~shapely.is_empty(cells)]
    return cells, land


def _lowest(found, polygon, n):
    best = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, found, polygon)
    best[best == np.iinfo(np.int64).max] = -1
    return best


def bench_locate_arguments(parser):
    parser.add_argument("--grids", type=int, default=200_000, help="number of synthetic grids (200000)")
    parser.add_argument("--points", type=int, default=1_000_000, help="number of random points (1000000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cells-per-grid", type=int, help="override settings.LOCATE_CELLS_PER_GRID")
    parser.add_argument(
        "--densify",
        type=float,
        metavar="DEGREES",
        help="add vertices so that no edge is longer than this (real grids have 50–200 vertices)",
    )


def bench_locate(out, *, grids, points, seed, cells_per_grid=None, densify=None, **_):
    if grids < 1 or points < 1:
        raise CommandError("--grids and --points must be positive")
    started = time.perf_counter()
    polygons, _land = synthetic_grids(grids, seed=seed)
    if densify:
        polygons = shapely.segmentize(polygons, densify)
    vertices = shapely.get_num_coordinates(polygons).mean()
    out(
        f"synthetic: {len(polygons)} Voronoi grids clipped to a wavy coast with lakes "
        f"(mean {vertices:.1f} vertices, {np.count_nonzero(shapely.get_type_id(polygons) == 6)} multi-part, "
        f"{np.count_nonzero(shapely.get_num_interior_rings(polygons) > 0)} with holes) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    cells_per_grid = cells_per_grid or settings.LOCATE_CELLS_PER_GRID
    index = GridIndex(polygons, cells_per_grid=cells_per_grid)
    ny, nx = index.shape
    out(f"build: {index.build_seconds:.2f} s for {len(polygons)} grids (cells per grid {cells_per_grid})")
    out(
        f"raster: {nx} x {ny} = {nx * ny / 1e6:.1f} M cells of {index.cell:.6f}°, int32 {index.nbytes / 2**20:.1f} MiB "
        f"(index total {index.total_nbytes / 2**20:.1f} MiB); {index.exact_fraction:.1%} of cells are edge cells, "
        f"{index.components} regions"
    )

    rng = np.random.default_rng(seed + 1)
    minx, miny, maxx, maxy = EXTENT
    x, y = rng.uniform(minx, maxx, points), rng.uniform(miny, maxy, points)

    index.query(x[:1000], y[:1000])  # warm up
    t = time.perf_counter()
    ours = index.query(x, y)
    rate = points / (time.perf_counter() - t)
    exact, fallback = index.last_exact, index.last_fallback

    tree = shapely.STRtree(polygons)
    geoms = shapely.points(x, y)
    t = time.perf_counter()
    found, polygon = tree.query(geoms, predicate="intersects")
    raw_rate = points / (time.perf_counter() - t)
    raw = _lowest(found, polygon, points)

    differ = np.flatnonzero(raw != ours)
    if len(differ):
        # Only a point exactly on an edge may legitimately differ; anything else is a bug.
        on_edge = shapely.intersects(shapely.boundary(polygons[np.maximum(raw[differ], 0)]), geoms[differ])
        if not on_edge.all():
            bad = differ[~on_edge][0]
            raise CommandError(
                f"locate disagrees with the raw STRtree on {np.count_nonzero(~on_edge)} points, e.g. "
                f"({x[bad]!r}, {y[bad]!r}): index {ours[bad]} vs tree {raw[bad]}"
            )
    on_edges = f" ({len(differ)} others lie exactly on an edge)" if len(differ) else ""
    out(
        f"agreement: {points - len(differ)}/{points} points identical to the raw STRtree{on_edges}; "
        f"{np.count_nonzero(raw >= 0) / points:.1%} fall in a grid"
    )
    out(
        f"points: {exact / points:.1%} fell in edge cells and were decided from the cell's edges, "
        f"{fallback / points:.2%} (on or next to an edge or vertex) by the STRtree"
    )
    out(f"raw STRtree: {raw_rate:.0f} points/s (query(points, predicate='intersects'); point creation not timed)")
    out(f"locate: {rate:.0f} points/s (ratio {rate / raw_rate:.2f} to raw STRtree on the same data)")


SUBCOMMANDS = {
    "locate": (bench_locate_arguments, bench_locate, "point → grid lookup against the raw STRtree"),
}


def all_benchmarks():
    """This module's benchmarks and those other apps registered (`fengqiao.core.bench.register`)."""
    from fengqiao.core.bench import BENCHMARKS

    return {**SUBCOMMANDS, **BENCHMARKS}


class Command(BaseCommand):
    help = "Benchmarks: locate, intake, … (fengqiao bench SUBCOMMAND --help)"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        for name, (add_arguments, _run, summary) in all_benchmarks().items():
            add_arguments(sub.add_parser(name, help=summary, description=summary))

    def handle(self, *args, subcommand, **options):
        _add, run, _summary = all_benchmarks()[subcommand]

        def out(line):
            self.stdout.write(line)
            self.stdout.flush()

        run(out, **options)
