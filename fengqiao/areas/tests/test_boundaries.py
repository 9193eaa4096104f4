import csv
import datetime
import json
import math

import numpy as np
import pytest
import shapely
from django.core.management import CommandError, call_command
from shapely.geometry import Polygon, box, mapping

from fengqiao.areas.boundaries import BoundaryImportError, import_boundary_file, save_boundary
from fengqiao.areas.codes import Level
from fengqiao.areas.models import Area, Boundary
from fengqiao.areas.tests.factories import make_area, make_chain
from fengqiao.audit.models import AuditEvent
from fengqiao.core.geo import GeoError, area_m2, gcj02_to_wgs84, wgs84_to_gcj02

# (wgs lon, wgs lat, gcj lon, gcj lat): eviltransform's published test pairs (Shanghai, Shenzhen, Beijing)
KNOWN_PAIRS = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
]


def write(tmp_path, features, name="b.geojson"):
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def feature(geom, **props):
    return {"type": "Feature", "properties": props, "geometry": mapping(geom) if geom is not None else None}


def guangdong_areas(divisions):
    """The province, its 21 cities and 122 counties (东莞/中山 are cities with no county level) from modood."""
    day = datetime.date(2022, 10, 31)
    province = make_area("440000000000", "广东省")

    def rows(name):
        with open(divisions / name, encoding="utf-8") as fp:
            return list(csv.DictReader(fp))

    cities = {}
    for row in rows("modood_guangdong_cities.csv"):
        code = row["code"] + "00000000"
        cities[row["code"]] = Area(
            code=code,
            name=row["name"],
            short_name=row["name"],
            level=Level.CITY,
            parent=province,
            path=f"{province.path}{code}/",
            valid_from=day,
            edition="test",
        )
    Area.objects.bulk_create(cities.values())
    cities = {k: Area.objects.get(code=v.code) for k, v in cities.items()}
    counties = []
    for row in rows("modood_guangdong_areas.csv"):
        code = row["code"] + "000000"
        city = cities[row["cityCode"]]
        if code == city.code:  # 441900 东莞市, 442000 中山市
            continue
        counties.append(
            Area(
                code=code,
                name=row["name"],
                short_name=row["name"],
                level=Level.COUNTY,
                parent=city,
                path=f"{city.path}{code}/",
                valid_from=day,
                edition="test",
            )
        )
    Area.objects.bulk_create(counties)


# --- coordinate conversion ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), KNOWN_PAIRS)
def test_wgs84_to_gcj02_matches_published_pairs(wlon, wlat, glon, glat):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert abs(lon - glon) < 1e-9 and abs(lat - glat) < 1e-9


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), KNOWN_PAIRS)
def test_gcj02_to_wgs84_inverts_published_pairs(wlon, wlat, glon, glat):
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert abs(lon - wlon) < 1e-7 and abs(lat - wlat) < 1e-7


def test_round_trip_wgs_gcj_wgs_is_below_1e7_degrees_over_guangdong():
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(109.6, 117.4, 5000), rng.uniform(20.2, 25.6, 5000)
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-7
    assert np.abs(back_lat - lat).max() < 1e-7


def test_gcj02_offset_in_guangdong_is_a_few_hundred_metres_north_west_of_wgs84():
    lon, lat = gcj02_to_wgs84(113.26, 23.13)  # Guangzhou
    assert -0.0065 < lon - 113.26 < -0.004
    assert 0.002 < lat - 23.13 < 0.0035


# --- save_boundary ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_save_boundary_creates_version_1_with_bbox_area_and_audit_event():
    county = make_chain()["county"]
    boundary, created = save_boundary(
        actor="tester", area=county, geometry=box(113.5, 23.8, 113.6, 23.9), source="unit"
    )
    assert created and boundary.version == 1 and boundary.valid_to is None
    assert (boundary.min_lon, boundary.max_lat) == (113.5, 23.9)
    assert boundary.area_m2 == pytest.approx(area_m2(box(113.5, 23.8, 113.6, 23.9)))
    event = AuditEvent.objects.get(action="boundary.create")
    assert event.object_id == str(boundary.pk) and event.actor_label == "tester"


@pytest.mark.django_db
def test_save_boundary_with_the_same_geometry_changes_nothing():
    county = make_chain()["county"]
    first, _ = save_boundary(actor=None, area=county, geometry=box(113.5, 23.8, 113.6, 23.9), source="a")
    events = AuditEvent.objects.count()
    again, created = save_boundary(actor=None, area=county, geometry=box(113.5, 23.8, 113.6, 23.9), source="b")
    assert not created and again.pk == first.pk
    assert Boundary.objects.count() == 1 and AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_save_boundary_with_a_new_geometry_adds_version_2_and_closes_version_1():
    county = make_chain()["county"]
    first, _ = save_boundary(actor=None, area=county, geometry=box(113.5, 23.8, 113.6, 23.9), source="a")
    second, created = save_boundary(actor=None, area=county, geometry=box(113.5, 23.8, 113.7, 23.9), source="b")
    first.refresh_from_db()
    assert created and second.version == 2 and second.valid_to is None
    assert first.valid_to is not None
    assert list(Boundary.objects.filter(area=county, valid_to__isnull=True)) == [second]
    assert AuditEvent.objects.filter(action="boundary.replace", object_id=str(second.pk)).exists()


@pytest.mark.django_db
def test_save_boundary_repairs_a_self_intersecting_polygon():
    county = make_chain()["county"]
    bowtie = Polygon([(113.5, 23.8), (113.6, 23.9), (113.6, 23.8), (113.5, 23.9)])
    assert not bowtie.is_valid
    boundary, _ = save_boundary(actor=None, area=county, geometry=bowtie, source="a")
    assert boundary.repaired and boundary.geometry.is_valid
    assert boundary.geometry.geom_type == "MultiPolygon"


@pytest.mark.django_db
def test_save_boundary_refuses_a_geometry_outside_china():
    county = make_chain()["county"]
    with pytest.raises(GeoError, match="outside China"):
        save_boundary(actor=None, area=county, geometry=box(2.3, 48.8, 2.4, 48.9), source="paris")
    assert not Boundary.objects.exists()


# --- import_boundary_file -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_of_the_real_guangdong_counties_converts_repairs_and_is_idempotent(shared_data):
    guangdong_areas(shared_data / "divisions")
    path = shared_data / "boundaries" / "guangdong_counties_datav.geojson"
    report = import_boundary_file(path, actor="tester", crs="gcj02")
    assert (report.features, report.created, report.repaired, report.unknown) == (124, 124, 7, [])
    current = Boundary.objects.filter(valid_to__isnull=True)
    assert current.count() == 124 and current.filter(repaired=True).count() == 7
    assert all(b.geometry.is_valid for b in current)
    assert set(current.values_list("source_crs", flat=True)) == {"GCJ-02"}
    # 东莞 and 中山 have no county level: their boundary belongs to the city.
    assert current.filter(area__code__in=["441900000000", "442000000000"], area__level=Level.CITY).count() == 2

    source = {
        f["properties"]["adcode"]: shapely.geometry.shape(f["geometry"])
        for f in json.loads(path.read_text(encoding="utf-8"))["features"]
    }
    stored = current.get(area__code="440103000000").geometry  # 荔湾区
    (slon, slat), (wlon, wlat) = source[440103].centroid.coords[0], stored.centroid.coords[0]
    assert -0.0065 < wlon - slon < -0.004 and 0.002 < wlat - slat < 0.0035
    shift_m = math.hypot((wlon - slon) * 111_320 * math.cos(math.radians(slat)), (wlat - slat) * 110_570)
    assert 300 < shift_m < 800

    events = AuditEvent.objects.count()
    again = import_boundary_file(path, actor="tester", crs="gcj02")
    assert (again.created, again.replaced, again.unchanged) == (0, 0, 124)
    assert Boundary.objects.count() == 124
    assert AuditEvent.objects.count() == events + 1  # only the import itself


@pytest.mark.django_db
def test_reimport_with_one_changed_geometry_replaces_only_that_one(tmp_path):
    chain = make_chain()
    other = make_area("441802000000", "清城区", chain["city"])
    one = write(
        tmp_path,
        [
            feature(box(113.5, 23.8, 113.6, 23.9), adcode="441821"),
            feature(box(113.0, 23.6, 113.1, 23.7), adcode=441802),
        ],
    )
    assert import_boundary_file(one, actor=None, crs="wgs84").created == 2
    two = write(
        tmp_path,
        [
            feature(box(113.5, 23.8, 113.6, 23.95), adcode="441821"),
            feature(box(113.0, 23.6, 113.1, 23.7), adcode=441802),
        ],
        "b2.geojson",
    )
    report = import_boundary_file(two, actor=None, crs="wgs84")
    assert (report.created, report.replaced, report.unchanged) == (0, 1, 1)
    assert list(Boundary.objects.filter(area=chain["county"]).values_list("version", flat=True)) == [2, 1]
    assert Boundary.objects.filter(area=other).count() == 1
    assert AuditEvent.objects.filter(action="boundary.import").count() == 2


@pytest.mark.django_db
def test_import_accepts_a_12_digit_code_property(tmp_path):
    town = make_chain()["town"]
    path = write(tmp_path, [feature(box(113.5, 23.8, 113.6, 23.9), code="441821101000")])
    assert import_boundary_file(path, actor=None, crs="wgs84").created == 1
    assert Boundary.objects.get().area == town


@pytest.mark.django_db
def test_import_converts_gcj02_by_default(tmp_path):
    county = make_chain()["county"]
    path = write(tmp_path, [feature(box(113.5, 23.8, 113.6, 23.9), adcode="441821")])
    import_boundary_file(path, actor=None)
    coords = shapely.get_coordinates(Boundary.objects.get(area=county).geometry)
    expected = np.array([float(c) for c in gcj02_to_wgs84(113.5, 23.8)])
    assert np.abs(coords - expected).sum(axis=1).min() < 1e-12
    assert not np.any((coords == [113.5, 23.8]).all(axis=1))


def _nothing_written():
    return not Boundary.objects.exists() and not AuditEvent.objects.filter(action__startswith="boundary").exists()


@pytest.mark.django_db
def test_import_of_a_truncated_file_names_the_file_and_writes_nothing(tmp_path):
    make_chain()
    path = tmp_path / "cut.geojson"
    text = json.dumps(
        {"type": "FeatureCollection", "features": [feature(box(113.5, 23.8, 113.6, 23.9), adcode="441821")]}
    )
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(GeoError, match=r"cut\.geojson: invalid or truncated JSON"):
        import_boundary_file(path, actor=None)
    assert _nothing_written()


@pytest.mark.django_db
def test_import_of_a_feature_without_geometry_names_the_feature_and_writes_nothing(tmp_path):
    make_chain()
    path = write(tmp_path, [feature(box(113.5, 23.8, 113.6, 23.9), adcode="441821"), feature(None, adcode="441821")])
    with pytest.raises(GeoError, match=r"b\.geojson: feature 1: has no geometry"):
        import_boundary_file(path, actor=None)
    assert _nothing_written()


@pytest.mark.django_db
def test_import_of_an_out_of_range_coordinate_names_the_feature_and_writes_nothing(tmp_path):
    make_chain()
    path = write(
        tmp_path,
        [
            feature(box(113.5, 23.8, 113.6, 23.9), adcode="441821"),
            feature(box(113.5, 23.8, 213.6, 23.9), adcode="441802"),
        ],
    )
    with pytest.raises(GeoError, match=r"b\.geojson: feature 1 has coordinates out of range"):
        import_boundary_file(path, actor=None)
    assert _nothing_written()


@pytest.mark.django_db
def test_import_of_an_unknown_adcode_is_an_error_and_writes_nothing(tmp_path):
    make_chain()
    path = write(
        tmp_path,
        [
            feature(box(113.5, 23.8, 113.6, 23.9), adcode="441821"),
            feature(box(113.0, 23.6, 113.1, 23.7), adcode="441899"),
        ],
    )
    with pytest.raises(BoundaryImportError, match=r"feature 1: no area with code 441899000000"):
        import_boundary_file(path, actor=None)
    assert _nothing_written()


@pytest.mark.django_db
def test_import_with_skip_unknown_imports_the_known_areas(tmp_path):
    make_chain()
    path = write(
        tmp_path,
        [
            feature(box(113.5, 23.8, 113.6, 23.9), adcode="441821"),
            feature(box(113.0, 23.6, 113.1, 23.7), adcode="441899"),
        ],
    )
    report = import_boundary_file(path, actor=None, skip_unknown=True)
    assert report.created == 1 and report.unknown == ["441899000000"]


@pytest.mark.django_db
def test_import_of_a_malformed_adcode_names_the_feature(tmp_path):
    make_chain()
    path = write(tmp_path, [feature(box(113.5, 23.8, 113.6, 23.9), adcode="4418")])
    with pytest.raises(BoundaryImportError, match=r"feature 0: property adcode='4418'"):
        import_boundary_file(path, actor=None)


@pytest.mark.django_db
def test_import_boundaries_command_prints_the_counts(tmp_path, capsys):
    make_chain()
    path = write(tmp_path, [feature(box(113.5, 23.8, 113.6, 23.9), adcode="441821")])
    call_command("import_boundaries", str(path), "--crs", "wgs84")
    assert "1 created, 0 replaced, 0 unchanged, 0 repaired" in capsys.readouterr().out


@pytest.mark.django_db
def test_import_boundaries_command_turns_bad_input_into_a_command_error(tmp_path):
    make_chain()
    path = write(tmp_path, [feature(box(113.5, 23.8, 113.6, 23.9), adcode="441899")])
    with pytest.raises(CommandError, match="no area with code 441899000000"):
        call_command("import_boundaries", str(path))


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_import_boundaries_command_refuses_a_non_finite_coordinate_naming_the_feature(tmp_path, bad):
    make_chain()
    ring = [[113.5, 23.8], [113.6, 23.8], [113.6, "BAD"], [113.5, 23.9], [113.5, 23.8]]
    polygon = {"type": "Polygon", "coordinates": [ring]}
    path = write(
        tmp_path,
        [
            feature(box(113.0, 23.6, 113.1, 23.7), adcode="441821"),
            {"type": "Feature", "properties": {"adcode": "441802"}, "geometry": polygon},
        ],
    )
    path.write_text(path.read_text(encoding="utf-8").replace('"BAD"', bad), encoding="utf-8")
    with pytest.raises(CommandError, match=r"b\.geojson: feature 1: coordinates must be finite numbers"):
        call_command("import_boundaries", str(path), "--crs", "wgs84")
    assert _nothing_written()


@pytest.mark.django_db
def test_import_boundaries_command_of_a_directory_says_it_cannot_read_it(tmp_path):
    with pytest.raises(CommandError, match=rf"^{tmp_path}: cannot read \("):
        call_command("import_boundaries", str(tmp_path))


@pytest.mark.django_db
def test_import_of_swapped_coordinates_says_they_look_swapped(tmp_path):
    make_chain()
    path = write(tmp_path, [feature(box(23.8, 113.5, 23.9, 113.6), adcode="441821")])
    with pytest.raises(GeoError, match=r"feature 0: lon/lat order looks swapped: longitude comes first"):
        import_boundary_file(path, actor=None, crs="wgs84")
    assert _nothing_written()


@pytest.mark.django_db
def test_import_boundaries_command_names_each_repaired_feature(tmp_path, capsys):
    chain = make_chain()
    make_area("441802000000", "清城区", chain["city"])
    bowtie = Polygon([(113.5, 23.8), (113.6, 23.9), (113.6, 23.8), (113.5, 23.9)])
    path = write(tmp_path, [feature(box(113.0, 23.6, 113.1, 23.7), adcode="441802"), feature(bowtie, adcode="441821")])
    call_command("import_boundaries", str(path), "--crs", "wgs84")
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "repaired: feature 1 (area 441821000000 佛冈县): self-intersection at 113.550000, 23.850000"
    assert lines[-1].endswith("2 created, 0 replaced, 0 unchanged, 1 repaired")
    event = AuditEvent.objects.get(action="boundary.import")
    assert event.data["repaired_features"] == [lines[0].removeprefix("repaired: ")]
