"""Grids (网格): create, update, retire (QY1) and GeoJSON import/export (QY4).

Every write takes a keyword-only `actor`, runs in one transaction and leaves an audit event. Geometry is
WGS84, repaired to a valid (Multi)Polygon and must lie in China; a grid belongs to a town or a village.
"""

import json
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from fengqiao.areas.codes import Level
from fengqiao.areas.models import Area, Grid, GridLayer
from fengqiao.audit import services as audit
from fengqiao.core.geo import (
    GeoError,
    check_in_china,
    clean_polygonal,
    feature_collection,
    geometry_gcj02_to_wgs84,
    invalid_reason,
    read_geojson_features,
    to_feature,
)

GRID_LEVELS = (Level.TOWN, Level.VILLAGE)
EDITABLE = ("code", "name", "kind", "dedicated_type", "area", "households", "population", "geometry", "synthetic")
_MAX_ERRORS = 20
MAX_COUNT = 2_147_483_647  # the largest PositiveIntegerField value every database stores (PostgreSQL: integer)

__all__ = [
    "GridError",
    "GridImportReport",
    "UnknownLayerError",
    "create_grid",
    "export_grids",
    "get_layer",
    "import_grid_file",
    "retire_grid",
    "update_grid",
]


class GridError(ValueError):
    """A grid write that cannot be done; the message says why."""


class UnknownLayerError(GridError, LookupError):
    """A grid layer code that does not exist; the message lists the layers that do."""


def get_layer(code):
    """The GridLayer with this code (a GridLayer passes through). Raises UnknownLayerError."""
    if isinstance(code, GridLayer):
        return code
    layer = GridLayer.objects.filter(code=code).first()
    if layer is None:
        existing = ", ".join(GridLayer.objects.order_by("order", "code").values_list("code", flat=True))
        raise UnknownLayerError(f"unknown grid layer {code!r}; existing layers: {existing or '(none)'}")
    return layer


# --- validation ------------------------------------------------------------------------------------------


def check_area(area, *, what="grid"):
    if area is None:
        raise GridError(f"{what}: an area is required")
    if area.level not in GRID_LEVELS:
        raise GridError(
            f"{what}: area {area.code} {area.name} is a {area.get_level_display()}; a grid belongs to a "
            "town/street or a village/community"
        )
    if area.valid_to is not None:
        raise GridError(f"{what}: area {area.code} {area.name} was retired on {area.valid_to}")


def check_fields(values, *, what="grid"):
    code = values.get("code")
    if code is not None:
        code = str(code).strip()
        if not code or len(code) > 32:
            raise GridError(f"{what}: code must be 1–32 characters, got {code!r}")
        values["code"] = code
    name = values.get("name")
    if name is not None:
        name = str(name).strip()
        if not name or len(name) > 100:
            raise GridError(f"{what}: name must be 1–100 characters, got {name!r}")
        values["name"] = name
    kind = values.get("kind")
    if kind is not None and kind not in Grid.Kind.values:
        raise GridError(f"{what}: kind must be one of {', '.join(Grid.Kind.values)}, got {kind!r}")
    dedicated = values.get("dedicated_type")
    if dedicated is not None and dedicated not in Grid.DedicatedType.values:
        allowed = ", ".join(v for v in Grid.DedicatedType.values if v)
        raise GridError(f"{what}: dedicated_type must be empty or one of {allowed}, got {dedicated!r}")
    for name in ("households", "population"):
        if name in values:
            values[name] = _count(values[name], what=what, name=name)
    return values


def _count(value, *, what, name):
    """A household or population count: a whole number from 0 to MAX_COUNT (empty means 0)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    number = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = int(value) if value.is_integer() else None  # NaN and infinity are not integers either
    elif isinstance(value, str):
        number = int(value) if re.fullmatch(r"\s*[+-]?\d{1,30}\s*", value) else None
    elif hasattr(value, "__index__"):  # numpy integers and the like
        number = operator.index(value)
    if number is None:
        raise GridError(f"{what}: {name} must be a whole number, got {value!r}")
    if number < 0:
        raise GridError(f"{what}: {name} must not be negative, got {value!r}")
    if number > MAX_COUNT:
        raise GridError(f"{what}: {name} must be at most {MAX_COUNT:,}, got {value!r}")
    return number


def _flag(value, *, what, name):
    """A true/false property: JSON true/false, 0/1 or "true"/"false" (absent or null means false)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise GridError(f"{what}: {name} must be true or false, got {value!r}")


def check_kind(kind, dedicated_type, *, what="grid"):
    if kind == Grid.Kind.DEDICATED and not dedicated_type:
        raise GridError(f"{what}: a dedicated grid needs a dedicated_type")
    if kind == Grid.Kind.COMPREHENSIVE and dedicated_type:
        raise GridError(f"{what}: a comprehensive grid cannot have dedicated_type {dedicated_type!r}")


def _check_code_free(layer, code, *, exclude=None, what="grid"):
    clash = Grid.objects.filter(layer=layer, code=code)
    if exclude is not None:
        clash = clash.exclude(pk=exclude.pk)
    clash = clash.first()
    if clash is not None:
        state = " (retired)" if clash.valid_to else ""
        raise GridError(f"{what}: code {code} is already used in layer {layer.code} by {clash.name}{state}")


# --- single writes ---------------------------------------------------------------------------------------


@transaction.atomic
def create_grid(
    *,
    actor,
    layer,
    code,
    name,
    area,
    geometry,
    kind=Grid.Kind.COMPREHENSIVE,
    dedicated_type="",
    households=0,
    population=0,
    synthetic=False,
):
    """Create a grid in `layer` (a GridLayer or its code). Raises GridError/GeoError/UnknownLayerError."""
    layer = get_layer(layer)
    values = check_fields(
        {
            "code": code,
            "name": name,
            "kind": kind,
            "dedicated_type": dedicated_type or "",
            "households": households,
            "population": population,
        },
        what=f"grid {str(code).strip()}",
    )
    what = f"grid {values['code']}"
    check_kind(values["kind"], values["dedicated_type"], what=what)
    check_area(area, what=what)
    geometry, _ = clean_polygonal(geometry, what=f"{what} geometry")
    _check_code_free(layer, values["code"], what=what)
    grid = Grid(layer=layer, area=area, synthetic=synthetic, **values)
    grid.set_geometry(geometry)
    try:
        with transaction.atomic():
            grid.save()
    except IntegrityError:
        raise GridError(f"{what}: code {values['code']} is already used in layer {layer.code}") from None
    audit.record(
        actor=actor,
        action="grid.create",
        obj=grid,
        summary=f"{layer.code}/{grid.code} {grid.name}",
        data={"layer": layer.code, "code": grid.code, "area": area.code, "area_m2": round(grid.area_m2, 1)},
    )
    return grid


@transaction.atomic
def update_grid(*, actor, grid, **changes):
    """Change some of a grid's fields (code, name, kind, dedicated_type, area, households, population,
    geometry, synthetic). Returns the grid; records what changed."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise GridError(f"grid {grid.code}: cannot change {', '.join(sorted(unknown))}")
    grid = Grid.objects.select_for_update().select_related("layer", "area").get(pk=grid.pk)
    what = f"grid {grid.code}"
    if grid.valid_to is not None:
        raise GridError(f"{what}: retired on {grid.valid_to:%Y-%m-%d}; it cannot be changed")
    values = check_fields({k: v for k, v in changes.items() if k not in ("geometry", "area", "synthetic")}, what=what)
    check_kind(values.get("kind", grid.kind), values.get("dedicated_type", grid.dedicated_type), what=what)
    before, after, fields = {}, {}, []
    if "area" in changes and changes["area"].pk != grid.area_id:
        check_area(changes["area"], what=what)
        before["area"], after["area"] = grid.area.code, changes["area"].code
        grid.area = changes["area"]
        fields.append("area")
    if "code" in values and values["code"] != grid.code:
        _check_code_free(grid.layer, values["code"], exclude=grid, what=what)
    for name, value in values.items():
        if getattr(grid, name) != value:
            before[name], after[name] = getattr(grid, name), value
            setattr(grid, name, value)
            fields.append(name)
    if "synthetic" in changes and bool(changes["synthetic"]) != grid.synthetic:
        grid.synthetic = bool(changes["synthetic"])
        fields.append("synthetic")
    if "geometry" in changes:
        geometry, _ = clean_polygonal(changes["geometry"], what=f"{what} geometry")
        old_hash, old_area = grid.geometry_hash, grid.area_m2
        grid.set_geometry(geometry)
        if grid.geometry_hash != old_hash:
            before["area_m2"], after["area_m2"] = round(old_area or 0, 1), round(grid.area_m2, 1)
            fields += ["geometry_wkb", "geometry_hash", "min_lon", "min_lat", "max_lon", "max_lat", "area_m2"]
    if not fields:
        return grid
    grid.save(update_fields=[*fields, "updated_at"])
    audit.record(
        actor=actor,
        action="grid.update",
        obj=grid,
        summary=f"{grid.layer.code}/{grid.code}: {', '.join(after)}",
        data={"before": before, "after": after},
    )
    return grid


@transaction.atomic
def retire_grid(*, actor, grid, when=None):
    """Retire a grid (it stays for history; `locate` and coverage ignore it from now on)."""
    grid = Grid.objects.select_for_update().select_related("layer").get(pk=grid.pk)
    if grid.valid_to is not None:
        raise GridError(f"grid {grid.code} was already retired on {grid.valid_to:%Y-%m-%d}")
    grid.valid_to = when or timezone.now()
    grid.save(update_fields=["valid_to", "updated_at"])
    audit.record(actor=actor, action="grid.retire", obj=grid, summary=f"{grid.layer.code}/{grid.code} retired")
    return grid


# --- GeoJSON ---------------------------------------------------------------------------------------------


@dataclass
class GridImportReport:
    path: str
    layer: str
    features: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    revived: int = 0
    repaired: int = 0
    repaired_features: list = field(default_factory=list)  # "feature 3 (code X): self-intersection at …"
    errors: list = field(default_factory=list)

    def summary(self):
        return (
            f"{self.path}: {self.features} grids into layer {self.layer}: {self.created} created, "
            f"{self.updated} updated ({self.revived} revived), {self.unchanged} unchanged, {self.repaired} repaired"
        )

    def lines(self):
        """What the command prints: each repaired feature, then the summary."""
        return [*(f"repaired: {r}" for r in self.repaired_features), self.summary()]


class GridImportError(GridError):
    def __init__(self, path, errors):
        self.errors = errors
        shown = "\n".join(errors[:_MAX_ERRORS])
        more = f"\n… and {len(errors) - _MAX_ERRORS} more" if len(errors) > _MAX_ERRORS else ""
        super().__init__(f"{path}: {len(errors)} bad feature(s), nothing imported:\n{shown}{more}")


_IMPORT_FIELDS = ("name", "kind", "dedicated_type", "households", "population", "synthetic")
_GEOMETRY_FIELDS = ("geometry_wkb", "geometry_hash", "min_lon", "min_lat", "max_lon", "max_lat", "area_m2")


def _read_grid_features(path, crs, layer_code):
    """Validate every feature. Returns (rows, errors); a row is (index, values, area_code, geometry, repaired)
    where `repaired` is None or why the geometry had to be repaired."""
    rows, errors, seen = [], [], {}
    for feature in read_geojson_features(path):
        where = f"feature {feature.index}"
        props = feature.properties
        try:
            code = props.get("code")
            if code in (None, ""):
                raise GridError(f"{where}: property 'code' is missing")
            where = f"feature {feature.index} (code {code})"
            own_layer = props.get("layer")
            if own_layer not in (None, "") and str(own_layer).strip() != layer_code:
                raise GridError(
                    f"{where}: belongs to layer {str(own_layer).strip()!r} (property 'layer') but this import is "
                    f"into layer {layer_code!r}; import it with --layer {str(own_layer).strip()}, or change or "
                    "remove its 'layer' property"
                )
            values = {
                "code": code,
                "name": props.get("name") or str(code),
                "kind": props.get("kind") or Grid.Kind.COMPREHENSIVE,
                "dedicated_type": props.get("dedicated_type") or "",
                "households": props.get("households"),
                "population": props.get("population"),
            }
            check_fields(values, what=where)
            values["synthetic"] = _flag(props.get("synthetic"), what=where, name="synthetic")
            check_kind(values["kind"], values["dedicated_type"], what=where)
            if values["code"] in seen:
                raise GridError(f"{where}: code repeats feature {seen[values['code']]}")
            seen[values["code"]] = feature.index
            area_code = str(props.get("area_code") or "").strip()
            if not area_code:
                raise GridError(f"{where}: property 'area_code' is missing")
            geom = feature.geometry
            if crs == "gcj02" and not geom.is_empty:
                check_in_china(geom, what=where)
                geom = geometry_gcj02_to_wgs84(geom)
            reason = invalid_reason(geom)
            geom, repaired = clean_polygonal(geom, what=f"{where} geometry")
            rows.append((feature.index, values, area_code, geom, (reason or "invalid geometry") if repaired else None))
        except (GridError, GeoError) as exc:
            errors.append(str(exc))
    return rows, errors


def import_grid_file(path, *, actor, layer, crs="wgs84"):
    """Create or update (by layer and code) the grids of a GeoJSON file, all or nothing.

    Properties: code, name, kind, dedicated_type, area_code, households, population, synthetic (default false:
    real data over a synthetic grid clears the mark) and layer (optional; when given it must be `layer`). A
    retired grid with the same code is revived. Raises GridImportError listing every bad feature, or
    UnknownLayerError.
    """
    path = Path(path)
    layer = get_layer(layer)
    rows, errors = _read_grid_features(path, (crs or "wgs84").lower(), layer.code)
    area_codes = sorted({r[2] for r in rows})
    areas = {}
    for start in range(0, len(area_codes), 2000):
        areas.update(Area.objects.in_bulk(area_codes[start : start + 2000], field_name="code"))
    for index, values, area_code, _, _ in rows:
        try:
            area = areas.get(area_code)
            if area is None:
                raise GridError(f"no area with code {area_code}")
            check_area(area, what="area_code")
        except GridError as exc:
            errors.append(f"feature {index} (code {values['code']}): {exc}")
    if errors:
        errors.sort(key=lambda e: int(m.group(1)) if (m := re.match(r"feature (\d+)", e)) else -1)
        raise GridImportError(path, errors)

    report = GridImportReport(path=str(path), layer=layer.code, features=len(rows))
    now = timezone.now()
    with transaction.atomic():
        existing = {g.code: g for g in Grid.objects.select_for_update().filter(layer=layer)}
        to_create, to_update = [], []
        for index, values, area_code, geom, repaired in rows:
            if repaired:
                report.repaired += 1
                report.repaired_features.append(f"feature {index} (code {values['code']}): {repaired}")
            area = areas[area_code]
            grid = existing.get(values["code"])
            if grid is None:
                grid = Grid(layer=layer, area=area, **values)
                grid.set_geometry(geom)
                to_create.append(grid)
                continue
            old = (grid.area_id, grid.geometry_hash, grid.valid_to, *(getattr(grid, f) for f in _IMPORT_FIELDS))
            for name in _IMPORT_FIELDS:
                setattr(grid, name, values[name])
            grid.area = area
            grid.set_geometry(geom)
            if grid.valid_to is not None:
                report.revived += 1
                grid.valid_to = None
            new = (grid.area_id, grid.geometry_hash, grid.valid_to, *(getattr(grid, f) for f in _IMPORT_FIELDS))
            if new == old:
                report.unchanged += 1
                continue
            grid.updated_at = now  # bulk_update does not apply auto_now; locate's change signature needs it
            to_update.append(grid)
        Grid.objects.bulk_create(to_create, batch_size=1000)
        Grid.objects.bulk_update(
            to_update, [*_IMPORT_FIELDS, "area", "valid_to", "updated_at", *_GEOMETRY_FIELDS], batch_size=500
        )
        report.created, report.updated = len(to_create), len(to_update)
        audit.record(
            actor=actor,
            action="grid.import",
            object_type="areas.grid",
            summary=report.summary()[:255],
            data={
                "file": str(path),
                "layer": layer.code,
                "created": report.created,
                "updated": report.updated,
                "revived": report.revived,
                "unchanged": report.unchanged,
                "repaired": report.repaired,
                "repaired_features": report.repaired_features[:100],
            },
        )
    return report


def grids_for_export(*, layer=None, area=None):
    qs = Grid.objects.current().select_related("layer", "area").order_by("layer__order", "layer__code", "code")
    if layer is not None:
        qs = qs.filter(layer=get_layer(layer))
    if area is not None:
        qs = qs.filter(area__path__startswith=area.path)
    return qs


def export_grids(*, layer=None, area=None):
    """Current grids (of a layer, under an area) as a GeoJSON FeatureCollection dict that import_grid_file
    reads back unchanged."""
    features = []
    for grid in grids_for_export(layer=layer, area=area).iterator(chunk_size=2000):
        features.append(
            to_feature(
                grid.geometry,
                {
                    "code": grid.code,
                    "name": grid.name,
                    "kind": grid.kind,
                    "dedicated_type": grid.dedicated_type,
                    "area_code": grid.area.code,
                    "households": grid.households,
                    "population": grid.population,
                    "synthetic": grid.synthetic,
                    "layer": grid.layer.code,
                },
            )
        )
    return feature_collection(features)


def geojson_text(collection):
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
