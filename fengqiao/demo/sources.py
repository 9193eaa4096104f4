"""Where the demo's real data comes from: the shared reference data beside the repository when it is there,
else the small fixture committed in fengqiao/demo/fixtures (see its SOURCE.md)."""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import shapely

from fengqiao.core.geo import geometry_gcj02_to_wgs84, polygonal, read_geojson_features
from fengqiao.core.textfiles import read_csv_dicts
from fengqiao.demo.plan import TownIn, VillageIn

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_DIVISIONS = FIXTURES / "qingyuan_divisions.csv"
FIXTURE_BOUNDARY = FIXTURES / "fogang_boundary.geojson"

VILLAGES_FILE = Path("divisions") / "guangdong_villages_2022.csv"
TOWNS_FILE = Path("divisions") / "guangdong_dongguan_zhongshan_towns_2022.csv"
COUNTIES_FILE = Path("boundaries") / "guangdong_counties_datav.geojson"
CITIES_FILE = Path("boundaries") / "guangdong_cities_datav.geojson"
EDITION = "2022"

DEMO_CITY = "441800000000"  # 清远市
DEMO_COUNTY = "441821000000"  # 佛冈县


class DemoError(RuntimeError):
    """What the demo cannot do (data that is not there, a weak chosen password), with a message that says why."""


@dataclass
class Sources:
    """The files one build reads. `division_files` are in the formats `import_division_files` accepts."""

    division_files: list[Path]
    boundary_file: Path
    boundary_crs: str  # "GCJ-02" for every DataV export
    origin: str  # "shared" or "fixture"
    shared_dir: Path | None


def shared_files_present(shared_dir):
    shared_dir = Path(shared_dir) if shared_dir else None
    return bool(shared_dir) and all((shared_dir / f).is_file() for f in (VILLAGES_FILE, COUNTIES_FILE))


def county_sources(shared_dir, workdir):
    """清远's divisions and 佛冈's boundary: from the shared data if present, else from the fixture.

    From the shared data, the 清远 rows are copied to a file in `workdir`, so both origins import the same rows.
    """
    if shared_files_present(shared_dir):
        shared_dir = Path(shared_dir)
        rows = read_csv_dicts(shared_dir / VILLAGES_FILE, required=("city_code",))
        header = list(rows[0][1]) if rows else []
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row for _line, row in rows if row["city_code"] == DEMO_CITY)
        path = Path(workdir) / "qingyuan_divisions.csv"
        path.write_text(out.getvalue(), encoding="utf-8")
        return Sources([path], shared_dir / COUNTIES_FILE, "GCJ-02", "shared", shared_dir)
    return Sources([FIXTURE_DIVISIONS], FIXTURE_BOUNDARY, "GCJ-02", "fixture", None)


def province_sources(shared_dir):
    shared_dir = Path(shared_dir) if shared_dir else None
    missing = [str(shared_dir / f) for f in (VILLAGES_FILE, TOWNS_FILE, COUNTIES_FILE)] if shared_dir else []
    missing = [m for m in missing if not Path(m).is_file()] if shared_dir else ["(no shared data folder)"]
    if missing:
        raise DemoError(
            "the province demo needs the shared reference data (all of Guangdong's division codes and county "
            f"boundaries), which is not there: missing {', '.join(missing)}. Put the shared data beside the "
            "repository (../shared/data) or point FENGQIAO_SHARED_DATA_DIR at it; the county demo "
            "(--scale county) works without it."
        )
    return Sources(
        [shared_dir / VILLAGES_FILE, shared_dir / TOWNS_FILE],
        shared_dir / COUNTIES_FILE,
        "GCJ-02",
        "shared",
        shared_dir,
    )


def read_units(division_files, *, only=None):
    """County-level units (a county, or a city without counties) with their towns and villages, from the
    division files: {unit code: (unit name, [TownIn])}. `only` limits the result to these unit codes."""
    units: dict[str, tuple[str, dict[str, TownIn]]] = {}
    for path in division_files:
        for _line, row in read_csv_dicts(path):
            county = row.get("county_code") or ""
            unit_code, unit_name = (county, row["county_name"]) if county else (row["city_code"], row["city_name"])
            if only is not None and unit_code not in only:
                continue
            _name, towns = units.setdefault(unit_code, (unit_name, {}))
            town = towns.setdefault(row["town_code"], TownIn(row["town_code"], row["town_name"]))
            if row.get("village_code"):
                town.villages.append(
                    VillageIn(row["village_code"], row["village_name"], row.get("urban_rural_code", ""))
                )
    return {code: (name, [towns[t] for t in sorted(towns)]) for code, (name, towns) in sorted(units.items())}


@dataclass
class RealBoundary:
    area_code: str
    name: str
    geometry: object  # WGS84, valid
    repaired: bool


def read_boundaries(path, *, crs="GCJ-02", only=None):
    """Real county-level boundaries from a DataV GeoJSON file, converted to WGS84 and repaired if invalid.

    Features are matched by `adcode` (6 digits) to the 12-digit code (adcode + 000000)."""
    out = {}
    for feature in read_geojson_features(path):
        adcode = str(feature.properties.get("adcode", ""))
        if len(adcode) != 6 or not adcode.isdigit():
            continue
        code = adcode + "000000"
        if only is not None and code not in only:
            continue
        geom = feature.geometry
        if crs.upper().replace("-", "") == "GCJ02":
            geom = geometry_gcj02_to_wgs84(geom)
        repaired = not geom.is_valid
        geom = polygonal(geom, what=f"{path.name}: {adcode}")
        geom = shapely.normalize(geom)
        out[code] = RealBoundary(code, feature.properties.get("name", ""), geom, repaired)
    return out
