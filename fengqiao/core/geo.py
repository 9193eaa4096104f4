"""Geometry helpers shared by every app: coordinate systems, validation, repair, portable storage, areas.

Geometry is stored portably as WKB plus bounding-box columns (ADR 0004); Shapely 2 does all the work in
process, so neither GDAL, SpatiaLite nor PostGIS is needed.
"""

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

# The mainland's bounding box (with Hainan and the South China Sea coast). A point outside it is not in China.
CHINA_BBOX = (73.4, 3.8, 135.1, 53.6)
EARTH_AUTHALIC_RADIUS_M = 6371007.2


class GeoError(ValueError):
    """A geometry or coordinate that cannot be used, with a message that names what was wrong."""


# --- coordinates ---------------------------------------------------------------------------------------


def check_lonlat(lon, lat):
    """Validate one WGS84 point. Raises GeoError with a message that says what to fix."""
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise GeoError(f"lon/lat must be numbers, got lon={lon!r} lat={lat!r}") from None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise GeoError(f"lon/lat must be finite numbers, got lon={lon} lat={lat}")
    minx, miny, maxx, maxy = CHINA_BBOX
    swapped = minx <= lat <= maxx and miny <= lon <= maxy and not (minx <= lon <= maxx and miny <= lat <= maxy)
    if swapped:  # checked first: a swapped point in most of China has lat > 90
        raise GeoError(f"lon={lon} lat={lat} looks swapped: longitude comes first (in China lon is 73–135, lat 4–54)")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise GeoError(f"coordinates out of range: lon={lon} must be in [-180, 180], lat={lat} in [-90, 90]")
    if not (minx <= lon <= maxx and miny <= lat <= maxy):
        raise GeoError(f"lon={lon} lat={lat} is outside China (lon 73.4–135.1, lat 3.8–53.6)")
    return lon, lat


# --- GCJ-02 ("Mars coordinates", used by Chinese map providers) <-> WGS84 -------------------------------
_A = 6378245.0
_EE = 0.00669342162296594323


def _gcj_delta(lon, lat):
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat):
    """Invert the GCJ-02 offset by fixed-point iteration (converges to < 1e-9 degrees in a few rounds)."""
    glon, glat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(8):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        wlon -= flon - glon
        wlat -= flat - glat
    return wlon, wlat


def geometry_gcj02_to_wgs84(geom):
    def convert(coords):
        lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, convert)


# --- polygons --------------------------------------------------------------------------------------------


def polygonal(geom, *, what="geometry"):
    """Return a valid Polygon/MultiPolygon: repairs self-intersections, drops non-areal parts.

    Raises GeoError when nothing areal is left.
    """
    if geom is None or geom.is_empty:
        raise GeoError(f"{what} is empty")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    if geom.geom_type in ("GeometryCollection", "MultiPolygon", "Polygon"):
        parts = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")]
        polys = []
        for part in parts:
            polys.extend(getattr(part, "geoms", [part]))
        polys = [p for p in polys if not p.is_empty and p.area > 0]
        if not polys:
            raise GeoError(f"{what} has no area")
        geom = polys[0] if len(polys) == 1 else MultiPolygon(polys)
        return geom
    raise GeoError(f"{what} must be a Polygon or MultiPolygon, got {geom.geom_type}")


def check_bounds(geom, *, what="geometry"):
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise GeoError(f"{what} has coordinates out of range (bounds {geom.bounds})")


def check_in_china(geom, *, what="geometry"):
    """Raise GeoError unless every coordinate of `geom` (WGS84) lies in CHINA_BBOX."""
    minx, miny, maxx, maxy = geom.bounds
    cminx, cminy, cmaxx, cmaxy = CHINA_BBOX
    if not (cminx <= minx and maxx <= cmaxx and cminy <= miny and maxy <= cmaxy):
        if cminx <= miny and maxy <= cmaxx and cminy <= minx and maxx <= cmaxy:
            raise GeoError(f"{what}: lon/lat look swapped (bounds {geom.bounds}); longitude comes first")
        check_bounds(geom, what=what)
        raise GeoError(
            f"{what} lies (partly) outside China: bounds {tuple(round(b, 6) for b in geom.bounds)}, "
            f"expected lon {cminx}–{cmaxx}, lat {cminy}–{cmaxy}"
        )


def invalid_reason(geom):
    """Why GEOS finds `geom` invalid, readably: "self-intersection at 113.505, 23.805"; None when it is valid."""
    if geom is None or geom.is_empty or geom.is_valid:
        return None
    reason = shapely.is_valid_reason(geom)
    text, _, where = reason.partition("[")
    text = text.strip()
    if not text[:2].isupper():  # "Self-intersection" -> "self-intersection", but leave an acronym alone
        text = text[:1].lower() + text[1:]
    where = where.rstrip("]").split()
    if len(where) >= 2:
        try:
            return f"{text} at {float(where[0]):.6f}, {float(where[1]):.6f}"
        except ValueError:
            pass
    return text or reason


def clean_polygonal(geom, *, what="geometry"):
    """A WGS84 geometry ready to store: valid (Multi)Polygon inside China. Returns (geometry, repaired)."""
    if geom is None or geom.is_empty:
        raise GeoError(f"{what} is empty")
    was_valid = geom.is_valid
    geom = polygonal(geom, what=what)
    check_in_china(geom, what=what)
    return geom, not was_valid


def area_m2(geom):
    """Area in square metres on the authalic sphere.

    Edges are straight lines in lon/lat, exactly as Shapely treats them, so the planar area in square degrees
    is scaled by the sphere's mean area factor over the geometry's latitude band,
    R² (π/180)² (sin φ2 − sin φ1) / (φ2 − φ1). That is exact for a lon/lat rectangle and, unlike projecting
    each vertex, linear: a zero-width sliver between two edges stays zero instead of bowing into square
    metres. Within ~0.3 % of the ellipsoidal area.
    """
    if geom is None or geom.is_empty:
        return 0.0
    lat1, lat2 = math.radians(geom.bounds[1]), math.radians(geom.bounds[3])
    factor = (math.sin(lat2) - math.sin(lat1)) / (lat2 - lat1) if lat2 - lat1 > 1e-12 else math.cos(lat1)
    return float(geom.area) * (EARTH_AUTHALIC_RADIUS_M * math.pi / 180.0) ** 2 * factor


def metres_to_degrees(metres, lat):
    """Approximate size of `metres` in degrees of longitude and latitude at latitude `lat`."""
    dlat = metres / 111_320.0
    return dlat / max(math.cos(math.radians(lat)), 1e-6), dlat


# --- GeoJSON files -------------------------------------------------------------------------------------


@dataclass
class Feature:
    index: int
    properties: dict
    geometry: object  # shapely geometry, not yet repaired


def _check_file_coordinates(geom, *, where):
    """Refuse NaN/Infinity and swapped or out-of-range coordinates, before any geometry operation sees them."""
    coords = shapely.get_coordinates(geom, include_z=geom.has_z)
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        lon, lat = coords[np.flatnonzero(bad)[0], :2]
        raise GeoError(
            f"{where}: coordinates must be finite numbers; {int(bad.sum())} point(s) are NaN or infinite "
            f"(first: lon={lon} lat={lat})"
        )
    minx, miny, maxx, maxy = geom.bounds
    cminx, cminy, cmaxx, cmaxy = CHINA_BBOX
    in_china = cminx <= minx and maxx <= cmaxx and cminy <= miny and maxy <= cmaxy
    in_china_swapped = cminx <= miny and maxy <= cmaxx and cminy <= minx and maxx <= cmaxy
    if in_china_swapped and not in_china:  # checked first: swapped lat/lon in most of China has "lat" > 90
        raise GeoError(
            f"{where}: lon/lat order looks swapped: longitude comes first (bounds {geom.bounds}; "
            f"in China lon is {cminx}–{cmaxx}, lat {cminy}–{cmaxy})"
        )
    check_bounds(geom, what=where)


def read_geojson_features(path):
    """Read a GeoJSON FeatureCollection (or a single Feature) and return its features.

    Errors name the file and the feature: an unreadable file, truncated or invalid JSON, a missing or unreadable
    geometry, non-finite coordinates (NaN, Infinity), lon/lat swapped, coordinates out of range.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise GeoError(f"{path}: file not found") from None
    except OSError as exc:  # a directory, no permission, an I/O error
        raise GeoError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise GeoError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise GeoError(
            f"{path}: invalid or truncated JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if isinstance(data, dict) and data.get("type") == "Feature":
        raw = [data]
    elif isinstance(data, dict) and data.get("type") == "FeatureCollection" and isinstance(data.get("features"), list):
        raw = data["features"]
    else:
        raise GeoError(f"{path}: not a GeoJSON FeatureCollection")
    features = []
    for i, item in enumerate(raw):
        where = f"{path}: feature {i}"
        if not isinstance(item, dict) or not isinstance(item.get("geometry"), dict):
            raise GeoError(f"{where}: has no geometry")
        try:
            with warnings.catch_warnings():  # NaN coordinates warn here; they are refused just below
                warnings.simplefilter("ignore", RuntimeWarning)
                geom = shape(item["geometry"])
        except Exception as exc:  # shapely raises several types for malformed coordinates
            raise GeoError(f"{where}: unreadable geometry ({exc})") from None
        if not geom.is_empty:
            _check_file_coordinates(geom, where=where)
        features.append(Feature(i, item.get("properties") or {}, geom))
    return features


def feature_collection(features):
    return {"type": "FeatureCollection", "features": features}


def to_feature(geom, properties):
    return {"type": "Feature", "properties": properties, "geometry": shapely.geometry.mapping(geom)}


__all__ = [
    "CHINA_BBOX",
    "Feature",
    "GeoError",
    "MultiPolygon",
    "Polygon",
    "area_m2",
    "check_bounds",
    "check_in_china",
    "check_lonlat",
    "clean_polygonal",
    "feature_collection",
    "gcj02_to_wgs84",
    "geometry_gcj02_to_wgs84",
    "invalid_reason",
    "metres_to_degrees",
    "polygonal",
    "read_geojson_features",
    "to_feature",
    "wgs84_to_gcj02",
]
