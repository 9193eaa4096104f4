"""Writing planned synthetic geography: town/village boundaries and grids of the three layers.

Only what is missing or different is written, so a rebuild with the same inputs and seed writes nothing. Real
(non-synthetic) boundaries and grids are never replaced. New rows go in through `bulk.insert_rows`.
"""

import types

import shapely
from django.db.models import Max
from django.utils import timezone

from fengqiao.areas.models import Boundary, Grid, GridLayer
from fengqiao.core.models import GeometryModel
from fengqiao.demo import plan as planning
from fengqiao.demo.bulk import insert_rows

SYNTHETIC_SOURCE = "synthetic demo partition (fengqiao.demo, seed {seed})"
GEOMETRY_FIELDS = ["geometry_wkb", "geometry_hash", "min_lon", "min_lat", "max_lon", "max_lat", "area_m2"]


def geometry_values(wkb):
    """The GeometryModel columns for a geometry, exactly as `GeometryModel.set_geometry` computes them."""
    holder = types.SimpleNamespace()
    GeometryModel.set_geometry(holder, shapely.from_wkb(wkb))
    return tuple(getattr(holder, name) for name in GEOMETRY_FIELDS)


def write_boundaries(report, plans, areas, *, seed):
    """Synthetic town and village boundaries: a new version where the geometry changed, none where it did not."""
    # whole-table reads: cheap at demo sizes and free of SQLite's limit on query parameters
    current = {
        b["area_id"]: b
        for b in Boundary.objects.filter(valid_to__isnull=True).values("id", "area_id", "geometry_hash", "synthetic")
    }
    top_version = dict(Boundary.objects.values("area_id").annotate(v=Max("version")).values_list("area_id", "v"))
    now = timezone.now()
    source = SYNTHETIC_SOURCE.format(seed=seed)
    to_close, rows, kept_real = [], [], 0
    for plan in plans:
        for code, wkb in plan.boundaries:
            area_id = areas[code].pk
            geometry = geometry_values(wkb)
            existing = current.get(area_id)
            if existing is not None:
                if not existing["synthetic"]:
                    kept_real += 1  # a real boundary is never replaced by a synthetic one
                    continue
                if existing["geometry_hash"] == geometry[1]:
                    continue
                to_close.append(existing["id"])
            version = top_version.get(area_id, 0) + 1
            rows.append((area_id, version, source, "WGS84", False, True, now, None, *geometry))
    for start in range(0, len(to_close), 500):
        Boundary.objects.filter(pk__in=to_close[start : start + 500]).update(valid_to=now)
    insert_rows(
        Boundary,
        [
            "area",
            "version",
            "source",
            "source_crs",
            "repaired",
            "synthetic",
            "valid_from",
            "valid_to",
            *GEOMETRY_FIELDS,
        ],
        rows,
    )
    report.written["synthetic boundaries"] += len(rows)
    report.written["boundaries closed"] += len(to_close)
    if kept_real:
        report.notes.append(f"{kept_real} real town/village boundaries kept (not replaced by synthetic ones)")


GRID_READ = ["id", "layer_id", "code", "name", "area_id", "households", "population", "synthetic", "valid_to"]
GRID_UPDATE = ["name", "area", "households", "population", "synthetic", "valid_to", *GEOMETRY_FIELDS, "updated_at"]


def write_grids(report, plans, areas, units):
    """Grids of the comprehensive, forest-chief and river-chief layers; stale synthetic ones are retired."""
    layers = {
        layer.code: layer
        for layer in GridLayer.objects.filter(code__in=[planning.COMPREHENSIVE, planning.FOREST, planning.RIVER])
    }
    existing = {
        (g["layer_id"], g["code"]): g
        for g in Grid.objects.filter(layer__in=list(layers.values())).values(*GRID_READ, "geometry_hash")
    }
    now = timezone.now()
    new_rows, changed, seen, kept_real = [], [], set(), 0
    for plan in plans:
        for pg in plan.grids:
            layer_id = layers[pg.layer].pk
            key = (layer_id, pg.code)
            seen.add(key)
            area_id = areas[pg.area_code].pk
            old = existing.get(key)
            if old is not None and not old["synthetic"]:
                kept_real += 1
                continue
            geometry = geometry_values(pg.wkb)
            values = {"name": pg.name, "area_id": area_id, "households": pg.households, "population": pg.population}
            if old is None:
                new_rows.append(
                    (layer_id, pg.code, pg.name, Grid.Kind.COMPREHENSIVE, "", area_id, pg.households, pg.population,
                     True, None, *geometry, now, now)
                )  # fmt: skip
                continue
            same = old["valid_to"] is None and old["geometry_hash"] == geometry[1]
            if same and all(old[k] == v for k, v in values.items()):
                continue
            grid = Grid(pk=old["id"], layer_id=layer_id, code=pg.code, synthetic=True, valid_to=None, **values)
            for name, value in zip(GEOMETRY_FIELDS, geometry, strict=True):
                setattr(grid, name, value)
            grid.updated_at = now
            changed.append(grid)
    insert_rows(
        Grid,
        ["layer", "code", "name", "kind", "dedicated_type", "area", "households", "population", "synthetic",
         "valid_to", *GEOMETRY_FIELDS, "created_at", "updated_at"],
        new_rows,
    )  # fmt: skip
    if changed:
        Grid.objects.bulk_update(changed, GRID_UPDATE, batch_size=500)

    # synthetic grids of these units that the plan no longer has are retired (kept, with valid_to)
    unit_paths = tuple(areas[u.code].path for u in units)
    path_of = {a.pk: a.path for a in areas.values()}
    stale = [
        g["id"]
        for key, g in existing.items()
        if key not in seen
        and g["synthetic"]
        and g["valid_to"] is None
        and path_of.get(g["area_id"], "").startswith(unit_paths)
    ]
    for start in range(0, len(stale), 500):
        Grid.objects.filter(pk__in=stale[start : start + 500]).update(valid_to=now, updated_at=now)
    report.written["grids created"] += len(new_rows)
    report.written["grids updated"] += len(changed)
    report.written["grids retired"] += len(stale)
    if kept_real:
        report.notes.append(f"{kept_real} real grids kept (not replaced by synthetic ones)")
