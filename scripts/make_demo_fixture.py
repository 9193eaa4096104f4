"""Derive the demo fixture (fengqiao/demo/fixtures/) from the shared reference data.

    .venv/bin/python scripts/make_demo_fixture.py [--shared ../shared/data]

Writes:
* qingyuan_divisions.csv — every row of 清远市 (city code 4418) from divisions/guangdong_villages_2022.csv,
  unchanged (same columns, same order);
* fogang_boundary.geojson — the 佛冈县 (441821) feature of boundaries/guangdong_counties_datav.geojson,
  simplified with a ~50 m tolerance and KEPT in GCJ-02 like its source (the property "crs" says so);
* SOURCE.md — what was derived from which file.

The output is deterministic: running it twice gives identical files.
"""

import argparse
import csv
import hashlib
import io
import json
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fengqiao" / "demo" / "fixtures"
CITY_PREFIX = "4418"
COUNTY_ADCODE = 441821
SIMPLIFY_METRES = 50
DEGREES_PER_METRE = 1 / 111_320  # ~50 m is ~0.00045° of latitude; longitude is finer at 24° N, good enough


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_divisions(src, dst):
    with src.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        city = header.index("city_code")
        rows = [row for row in reader if row[city].startswith(CITY_PREFIX)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    dst.write_text(out.getvalue(), encoding="utf-8")
    return rows, header


def round_coords(geom, digits=6):
    return shapely.set_precision(geom, 10**-digits) if digits else geom


def write_boundary(src, dst):
    data = json.loads(src.read_text(encoding="utf-8"))
    [feature] = [f for f in data["features"] if f["properties"].get("adcode") == COUNTY_ADCODE]
    geom = shape(feature["geometry"])
    simple = shapely.simplify(geom, SIMPLIFY_METRES * DEGREES_PER_METRE, preserve_topology=True)
    simple = round_coords(shapely.make_valid(simple))
    props = {
        "adcode": COUNTY_ADCODE,
        "name": feature["properties"]["name"],
        "crs": "GCJ-02",
        "note": (
            "Aliyun DataV.GeoAtlas boundary, still in GCJ-02 like the source; convert to WGS84 before use. "
            f"Simplified with a ~{SIMPLIFY_METRES} m tolerance (topology preserved), coordinates rounded to 1e-6°."
        ),
        "source": "shared/data/boundaries/guangdong_counties_datav.geojson",
        "source_vertices": len(shapely.get_coordinates(geom)),
        "vertices": len(shapely.get_coordinates(simple)),
    }
    out = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": props, "geometry": mapping(simple)}],
    }
    dst.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return props


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    villages = args.shared / "divisions" / "guangdong_villages_2022.csv"
    counties = args.shared / "boundaries" / "guangdong_counties_datav.geojson"
    FIXTURES.mkdir(parents=True, exist_ok=True)

    rows, header = write_divisions(villages, FIXTURES / "qingyuan_divisions.csv")
    ci, ti = header.index("county_code"), header.index("town_code")
    counties_n = len({r[ci] for r in rows})
    towns_n = len({r[ti] for r in rows})
    fogang = [r for r in rows if r[ci].startswith("441821")]
    props = write_boundary(counties, FIXTURES / "fogang_boundary.geojson")

    divisions_row = (
        f"| `qingyuan_divisions.csv` | `divisions/guangdong_villages_2022.csv` (sha256 `{sha256(villages)[:16]}…`; "
        "NBS 统计用区划代码 2022 via obaby/administrative-division-spider) | rows with `city_code` starting "
        f"`{CITY_PREFIX}` (清远市) kept unchanged, same columns: {len(rows)} villages/communities in {towns_n} towns "
        f"of {counties_n} counties; 佛冈县 441821: {len(fogang)} villages in {len({r[ti] for r in fogang})} "
        "town-level units |"
    )
    boundary_row = (
        f"| `fogang_boundary.geojson` | `boundaries/guangdong_counties_datav.geojson` (sha256 "
        f"`{sha256(counties)[:16]}…`; Aliyun DataV.GeoAtlas via anzhou99/GeoJsons) | the 佛冈县 (adcode 441821) "
        f"feature; simplified with a ~{SIMPLIFY_METRES} m tolerance (topology preserved) from "
        f"{props['source_vertices']} to {props['vertices']} vertices, coordinates rounded to 1e-6°. **Still GCJ-02** "
        "like the source (property `crs`); the demo builder converts it to WGS84. |"
    )
    (FIXTURES / "SOURCE.md").write_text(
        f"""# Demo fixture — derived from shared/data by scripts/make_demo_fixture.py

`fengqiao demo` (and `make demo`) uses these files when the shared data folder (`../shared/data`, or
`FENGQIAO_SHARED_DATA_DIR`) is absent, so the demo works from a bare clone. Regenerate with
`.venv/bin/python scripts/make_demo_fixture.py`. Third-party data: see shared/data/SOURCES.md for provenance and
licences (none stated by the source repositories; do not relicense).

| file | derived from | what was done |
|---|---|---|
{divisions_row}
{boundary_row}

Everything below the county level in the demo (town, village and grid polygons, forest and river grids,
households, population) is synthetic and marked so.
""",
        encoding="utf-8",
    )
    for path in sorted(FIXTURES.iterdir()):
        print(f"{path.relative_to(REPO)}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
