import json
from pathlib import Path

import pytest
from shapely.geometry import box, mapping

from fengqiao.core.geo import GeoError, read_geojson_features
from fengqiao.core.textfiles import FileFormatError, read_csv_dicts

SQUARE = [[113.5, 23.8], [113.6, 23.8], [113.6, 23.9], [113.5, 23.9], [113.5, 23.8]]


def write_collection(tmp_path, geometries, name="f.geojson"):
    features = [{"type": "Feature", "properties": {}, "geometry": g} for g in geometries]
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_read_geojson_refuses_non_finite_coordinates_naming_the_feature(tmp_path, bad):
    ring = [*SQUARE[:2], [113.6, "BAD"], *SQUARE[3:]]
    path = write_collection(
        tmp_path, [{"type": "Polygon", "coordinates": [SQUARE]}, {"type": "Polygon", "coordinates": [ring]}]
    )
    path.write_text(path.read_text(encoding="utf-8").replace('"BAD"', bad), encoding="utf-8")
    with pytest.raises(GeoError, match=r"f\.geojson: feature 1: coordinates must be finite numbers"):
        read_geojson_features(path)


def test_read_geojson_reports_swapped_coordinates_rather_than_out_of_range(tmp_path):
    path = write_collection(tmp_path, [mapping(box(113.5, 23.8, 113.6, 23.9)), mapping(box(23.8, 113.5, 23.9, 113.6))])
    with pytest.raises(GeoError, match=r"f\.geojson: feature 1: .*looks swapped: longitude comes first"):
        read_geojson_features(path)


def test_read_geojson_still_reports_coordinates_out_of_range(tmp_path):
    path = write_collection(tmp_path, [mapping(box(113.5, 23.8, 213.6, 23.9))])
    with pytest.raises(GeoError, match=r"feature 0 has coordinates out of range"):
        read_geojson_features(path)


def test_read_geojson_of_a_directory_says_it_cannot_read_it(tmp_path):
    with pytest.raises(GeoError, match=rf"^{tmp_path}: cannot read \(.*[Dd]irectory.*\)$"):
        read_geojson_features(tmp_path)


def test_read_geojson_of_an_unreadable_file_says_it_cannot_read_it(tmp_path, monkeypatch):
    path = write_collection(tmp_path, [mapping(box(113.5, 23.8, 113.6, 23.9))])

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(GeoError, match=r"f\.geojson: cannot read \(Permission denied\)"):
        read_geojson_features(path)


def test_read_geojson_of_a_missing_file_still_says_not_found(tmp_path):
    with pytest.raises(GeoError, match=r"nope\.geojson: file not found"):
        read_geojson_features(tmp_path / "nope.geojson")


def test_read_csv_of_a_directory_says_it_cannot_read_it(tmp_path):
    with pytest.raises(FileFormatError, match=rf"^{tmp_path}: cannot read \(.*[Dd]irectory.*\)$"):
        read_csv_dicts(tmp_path)


def test_read_csv_of_an_unreadable_file_says_it_cannot_read_it(tmp_path, monkeypatch):
    path = tmp_path / "rows.csv"
    path.write_text("code,name\n1,a\n", encoding="utf-8")

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(FileFormatError, match=r"rows\.csv: cannot read \(Permission denied\)"):
        read_csv_dicts(path)
