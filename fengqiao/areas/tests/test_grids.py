import json

import pytest
from django.core.management import CommandError, call_command
from shapely.geometry import Polygon, box, mapping

from fengqiao.areas.grids import (
    GridError,
    GridImportError,
    UnknownLayerError,
    create_grid,
    export_grids,
    import_grid_file,
    retire_grid,
    update_grid,
)
from fengqiao.areas.models import Grid
from fengqiao.areas.tests.factories import layer, make_area, make_chain, make_grid, square
from fengqiao.audit.models import AuditEvent
from fengqiao.core.geo import GeoError


@pytest.fixture
def chain(db):
    chain = make_chain()
    layer()
    return chain


def grid_feature(code, geom, area_code="441821101201", **props):
    return {
        "type": "Feature",
        "properties": {"code": code, "name": f"网格{code}", "area_code": area_code, **props},
        "geometry": mapping(geom) if geom is not None else None,
    }


def write(tmp_path, features, name="grids.geojson"):
    path = tmp_path / name
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), encoding="utf-8"
    )
    return path


# --- services --------------------------------------------------------------------------------------------


def test_create_grid_stores_geometry_and_records_an_audit_event(chain):
    grid = create_grid(
        actor="tester",
        layer="comprehensive",
        code="G1",
        name="一网格",
        area=chain["village"],
        geometry=square(113.5, 23.8),
        households=120,
        population=350,
    )
    assert grid.pk and grid.layer.code == "comprehensive" and grid.area_m2 > 1_000_000
    event = AuditEvent.objects.get(action="grid.create")
    assert event.object_id == str(grid.pk) and event.data["area"] == "441821101201"


def test_create_grid_accepts_a_town(chain):
    grid = create_grid(
        actor=None, layer="comprehensive", code="T1", name="镇网格", area=chain["town"], geometry=square(113.5, 23.8)
    )
    assert grid.area == chain["town"]


def test_create_grid_refuses_a_county_area(chain):
    with pytest.raises(GridError, match="town/street or a village/community"):
        create_grid(
            actor=None, layer="comprehensive", code="G1", name="x", area=chain["county"], geometry=square(113.5, 23.8)
        )
    assert not Grid.objects.exists()


def test_create_grid_refuses_a_code_used_in_the_same_layer_but_not_in_another(chain):
    create_grid(
        actor=None, layer="comprehensive", code="G1", name="a", area=chain["village"], geometry=square(113.5, 23.8)
    )
    with pytest.raises(GridError, match="code G1 is already used in layer comprehensive"):
        create_grid(
            actor=None, layer="comprehensive", code="G1", name="b", area=chain["village"], geometry=square(113.6, 23.8)
        )
    layer("river", "河长网格")
    assert (
        create_grid(
            actor=None, layer="river", code="G1", name="c", area=chain["village"], geometry=square(113.6, 23.8)
        ).layer.code
        == "river"
    )


def test_create_grid_with_an_unknown_layer_lists_the_existing_layers(chain):
    layer("forest", "林长网格")
    with pytest.raises(
        UnknownLayerError, match=r"unknown grid layer 'nope'; existing layers: comprehensive, .*\bforest\b"
    ):
        create_grid(actor=None, layer="nope", code="G1", name="a", area=chain["village"], geometry=square(113.5, 23.8))


def test_create_grid_repairs_a_self_intersecting_polygon(chain):
    bowtie = Polygon([(113.5, 23.8), (113.51, 23.81), (113.51, 23.8), (113.5, 23.81)])
    grid = create_grid(actor=None, layer="comprehensive", code="G1", name="a", area=chain["village"], geometry=bowtie)
    assert grid.geometry.is_valid and grid.geometry.geom_type == "MultiPolygon"


@pytest.mark.parametrize(
    ("geom", "message"),
    [
        (box(2.3, 48.8, 2.4, 48.9), "outside China"),
        (box(23.8, 113.5, 23.81, 113.51), "lon/lat look swapped"),
        (box(113.5, 95.0, 113.6, 95.1), "out of range"),
        (Polygon(), "is empty"),
    ],
)
def test_create_grid_refuses_unusable_geometry(chain, geom, message):
    with pytest.raises(GeoError, match=message):
        create_grid(actor=None, layer="comprehensive", code="G1", name="a", area=chain["village"], geometry=geom)


def test_create_dedicated_grid_needs_a_dedicated_type(chain):
    with pytest.raises(GridError, match="dedicated grid needs a dedicated_type"):
        create_grid(
            actor=None,
            layer="comprehensive",
            code="S1",
            name="学校",
            area=chain["village"],
            geometry=square(113.5, 23.8),
            kind="dedicated",
        )
    grid = create_grid(
        actor=None,
        layer="comprehensive",
        code="S1",
        name="学校",
        area=chain["village"],
        geometry=square(113.5, 23.8),
        kind="dedicated",
        dedicated_type="school",
    )
    assert grid.dedicated_type == "school"


def test_update_grid_changes_fields_and_records_before_and_after(chain):
    grid = create_grid(
        actor=None, layer="comprehensive", code="G1", name="a", area=chain["village"], geometry=square(113.5, 23.8)
    )
    stamp = grid.updated_at
    grid = update_grid(actor="tester", grid=grid, name="新名", geometry=square(113.5, 23.8, 0.02), households=7)
    grid.refresh_from_db()
    assert (grid.name, grid.households) == ("新名", 7) and grid.updated_at > stamp
    assert grid.geometry.equals(square(113.5, 23.8, 0.02))
    event = AuditEvent.objects.get(action="grid.update")
    assert event.data["before"]["name"] == "a" and event.data["after"]["name"] == "新名"
    assert "area_m2" in event.data["after"]


def test_update_grid_without_changes_writes_nothing(chain):
    grid = create_grid(
        actor=None, layer="comprehensive", code="G1", name="a", area=chain["village"], geometry=square(113.5, 23.8)
    )
    update_grid(actor=None, grid=grid, name="a", geometry=square(113.5, 23.8))
    assert not AuditEvent.objects.filter(action="grid.update").exists()


def test_update_grid_refuses_unknown_fields_and_a_county_area(chain):
    grid = create_grid(
        actor=None, layer="comprehensive", code="G1", name="a", area=chain["village"], geometry=square(113.5, 23.8)
    )
    with pytest.raises(GridError, match="cannot change layer"):
        update_grid(actor=None, grid=grid, layer=None)
    with pytest.raises(GridError, match="town/street or a village/community"):
        update_grid(actor=None, grid=grid, area=chain["county"])


def test_retire_grid_sets_valid_to_and_a_retired_grid_cannot_change(chain):
    grid = create_grid(
        actor=None, layer="comprehensive", code="G1", name="a", area=chain["village"], geometry=square(113.5, 23.8)
    )
    retire_grid(actor="tester", grid=grid)
    grid.refresh_from_db()
    assert grid.valid_to is not None and not Grid.objects.current().exists()
    assert AuditEvent.objects.filter(action="grid.retire", object_id=str(grid.pk)).exists()
    with pytest.raises(GridError, match="already retired"):
        retire_grid(actor=None, grid=grid)
    with pytest.raises(GridError, match="cannot be changed"):
        update_grid(actor=None, grid=grid, name="b")


# --- import / export -------------------------------------------------------------------------------------


def test_import_grids_creates_then_is_idempotent_then_updates(chain, tmp_path):
    features = [grid_feature(f"G{i}", square(113.5 + i * 0.01, 23.8), households=i) for i in range(3)]
    report = import_grid_file(write(tmp_path, features), actor="tester", layer="comprehensive")
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert Grid.objects.get(code="G2").households == 2

    again = import_grid_file(write(tmp_path, features), actor="tester", layer="comprehensive")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)

    features[1] = grid_feature("G1", square(113.51, 23.8, 0.02), households=9)
    changed = import_grid_file(write(tmp_path, features), actor="tester", layer="comprehensive")
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    grid = Grid.objects.get(code="G1")
    assert grid.households == 9 and grid.geometry.equals(square(113.51, 23.8, 0.02))
    assert AuditEvent.objects.filter(action="grid.import").count() == 3


def test_import_grids_revives_a_retired_grid(chain, tmp_path):
    grid = make_grid(chain["village"], "G1", square(113.5, 23.8))
    retire_grid(actor=None, grid=grid)
    report = import_grid_file(
        write(tmp_path, [grid_feature("G1", square(113.5, 23.8))]), actor=None, layer="comprehensive"
    )
    assert report.revived == 1 and Grid.objects.current().count() == 1


def test_import_grids_is_all_or_nothing_and_names_every_bad_feature(chain, tmp_path):
    features = [
        grid_feature("G0", square(113.5, 23.8)),
        grid_feature("G1", square(113.51, 23.8), area_code="441821000000"),  # a county
        grid_feature("G2", square(113.52, 23.8), area_code="441821101299"),  # no such area
        grid_feature("G3", box(2.3, 48.8, 2.4, 48.9)),  # France
        grid_feature("G0", square(113.53, 23.8)),  # repeated code
        grid_feature("G5", square(113.54, 23.8), kind="bogus"),
    ]
    with pytest.raises(GridImportError) as caught:
        import_grid_file(write(tmp_path, features), actor=None, layer="comprehensive")
    message = str(caught.value)
    assert "5 bad feature(s), nothing imported" in message
    for fragment in (
        "feature 1 (code G1): area_code: area 441821000000",
        "feature 2 (code G2): no area with code",
        "feature 3 (code G3) geometry lies (partly) outside China",
        "feature 4 (code G0): code repeats",
        "feature 5 (code G5): kind must be one of",
    ):
        assert fragment in message
    assert not Grid.objects.exists() and not AuditEvent.objects.exists()


def test_import_grids_of_a_truncated_file_is_an_error(chain, tmp_path):
    path = tmp_path / "cut.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "prop', encoding="utf-8")
    with pytest.raises(GeoError, match="invalid or truncated JSON"):
        import_grid_file(path, actor=None, layer="comprehensive")


def test_import_grids_command_with_an_unknown_layer_lists_the_layers(chain, tmp_path):
    path = write(tmp_path, [grid_feature("G0", square(113.5, 23.8))])
    with pytest.raises(CommandError, match="existing layers: comprehensive"):
        call_command("import_grids", str(path), "--layer", "nope")


def test_export_then_import_round_trips_exactly(chain, tmp_path, capsys):
    odd = Polygon(
        [(113.5, 23.8), (113.5123456789, 23.8), (113.51, 23.8111111111), (113.5, 23.81)],
        holes=[[(113.502, 23.802), (113.503, 23.802), (113.503, 23.803)]],
    )
    create_grid(
        actor=None,
        layer="comprehensive",
        code="G1",
        name="一",
        area=chain["village"],
        geometry=odd,
        households=3,
        population=9,
    )
    create_grid(
        actor=None,
        layer="comprehensive",
        code="S1",
        name="学校",
        area=chain["village"],
        geometry=square(113.6, 23.8),
        kind="dedicated",
        dedicated_type="school",
    )
    out = tmp_path / "out.geojson"
    call_command("export_grids", "--layer", "comprehensive", "-o", str(out))
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [f["properties"]["code"] for f in data["features"]] == ["G1", "S1"]
    assert data["features"][0]["properties"] == {
        "code": "G1",
        "name": "一",
        "kind": "comprehensive",
        "dedicated_type": "",
        "area_code": "441821101201",
        "households": 3,
        "population": 9,
        "synthetic": False,
        "layer": "comprehensive",
    }
    again = import_grid_file(out, actor=None, layer="comprehensive")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)

    # copying into another layer: the features' own layer property has to go (or be changed) first
    layer("copy", "副本")
    for feature in data["features"]:
        del feature["properties"]["layer"]
    out.write_text(json.dumps(data), encoding="utf-8")
    import_grid_file(out, actor=None, layer="copy")
    hashes = {(g.layer.code, g.code): g.geometry_hash for g in Grid.objects.select_related("layer")}
    assert hashes["copy", "G1"] == hashes["comprehensive", "G1"]
    assert Grid.objects.get(layer__code="copy", code="S1").dedicated_type == "school"


def test_export_grids_filters_by_area_subtree_and_skips_retired(chain):
    other_town = make_area("441821102000", "高岗镇", chain["county"])
    make_grid(chain["village"], "A", square(113.5, 23.8))
    make_grid(other_town, "B", square(113.6, 23.8))
    retire_grid(actor=None, grid=make_grid(chain["village"], "C", square(113.7, 23.8)))
    codes = [f["properties"]["code"] for f in export_grids(area=chain["town"])["features"]]
    assert codes == ["A"]
    assert [f["properties"]["code"] for f in export_grids()["features"]] == ["A", "B"]


def test_export_grids_command_writes_geojson_to_stdout(chain, capsys):
    make_grid(chain["village"], "A", square(113.5, 23.8))
    call_command("export_grids", "--area", "441821000000")
    assert json.loads(capsys.readouterr().out)["features"][0]["properties"]["code"] == "A"
    with pytest.raises(CommandError, match="no area with code 449999000000"):
        call_command("export_grids", "--area", "449999000000")


# --- bad input found in review ---------------------------------------------------------------------------


def test_import_grids_command_refuses_a_nan_coordinate_naming_the_feature(chain, tmp_path):
    features = [grid_feature("G0", square(113.5, 23.8)), grid_feature("G1", square(113.6, 23.8))]
    for feature, bad in zip(features, ("NAN", "INF"), strict=True):
        ring = [list(point) for point in feature["geometry"]["coordinates"][0]]
        ring[1][1] = bad
        feature["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    path = write(tmp_path, features)
    path.write_text(path.read_text(encoding="utf-8").replace('"NAN"', "NaN").replace('"INF"', "Infinity"))
    with pytest.raises(CommandError, match=r"grids\.geojson: feature 0: coordinates must be finite numbers"):
        call_command("import_grids", str(path), "--layer", "comprehensive")
    assert not Grid.objects.exists() and not AuditEvent.objects.exists()


def test_import_grids_command_of_a_directory_says_it_cannot_read_it(chain, tmp_path):
    with pytest.raises(CommandError, match=r"cannot read \("):
        call_command("import_grids", str(tmp_path), "--layer", "comprehensive")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("population", 2**40, r"population must be at most 2,147,483,647, got 1099511627776"),
        ("households", 2**31, r"households must be at most 2,147,483,647"),
        ("population", -1, r"population must not be negative, got -1"),
        ("households", "-3", r"households must not be negative, got '-3'"),
        ("population", 2.5, r"population must be a whole number, got 2\.5"),
        ("population", "12.5", r"population must be a whole number, got '12\.5'"),
        ("households", "many", r"households must be a whole number, got 'many'"),
        ("households", True, r"households must be a whole number, got True"),
        ("population", float("inf"), r"population must be a whole number, got inf"),
        ("population", float("nan"), r"population must be a whole number, got nan"),
    ],
)
def test_create_grid_refuses_bad_counts_naming_the_field(chain, field, value, message):
    with pytest.raises(GridError, match=rf"grid G1: {message}"):
        create_grid(
            actor=None,
            layer="comprehensive",
            code="G1",
            name="a",
            area=chain["village"],
            geometry=square(113.5, 23.8),
            **{field: value},
        )
    assert not Grid.objects.exists()


def test_counts_up_to_the_database_maximum_are_accepted(chain):
    grid = create_grid(
        actor=None,
        layer="comprehensive",
        code="G1",
        name="a",
        area=chain["village"],
        geometry=square(113.5, 23.8),
        households="12",
        population=2_147_483_647.0,
    )
    grid.refresh_from_db()
    assert (grid.households, grid.population) == (12, 2_147_483_647)


def test_import_grids_refuses_a_population_too_large_for_the_database(chain, tmp_path):
    features = [
        grid_feature("G0", square(113.5, 23.8), population=2**40),
        grid_feature("G1", square(113.51, 23.8), households=1e400),  # parses as infinity
        grid_feature("G2", square(113.52, 23.8), households=-5),
    ]
    with pytest.raises(GridImportError) as caught:
        import_grid_file(write(tmp_path, features), actor=None, layer="comprehensive")
    message = str(caught.value)
    assert "feature 0 (code G0): population must be at most 2,147,483,647, got 1099511627776" in message
    assert "feature 1 (code G1): households must be a whole number, got inf" in message
    assert "feature 2 (code G2): households must not be negative, got -5" in message
    assert not Grid.objects.exists()


def test_import_refuses_features_of_another_layer_naming_them(chain, tmp_path):
    make_grid(chain["village"], "C1", square(113.5, 23.8))
    make_grid(chain["village"], "F1", square(113.6, 23.8), layer("forest", "林长网格"))
    make_grid(chain["village"], "R1", square(113.7, 23.8), layer("river", "河长网格"))
    out = tmp_path / "all.geojson"
    call_command("export_grids", "-o", str(out))  # every layer
    with pytest.raises(CommandError) as caught:
        call_command("import_grids", str(out), "--layer", "comprehensive")
    message = str(caught.value)
    assert "2 bad feature(s), nothing imported" in message
    assert "(code F1): belongs to layer 'forest' (property 'layer') but this import is into layer 'comprehensive'" in (
        message
    )
    assert "(code R1): belongs to layer 'river'" in message
    assert sorted(Grid.objects.values_list("layer__code", "code")) == [
        ("comprehensive", "C1"),
        ("forest", "F1"),
        ("river", "R1"),
    ]
    assert not AuditEvent.objects.filter(action="grid.import").exists()


def test_export_then_import_keeps_the_synthetic_mark_and_real_data_clears_it(chain, tmp_path):
    make_grid(chain["village"], "D1", square(113.5, 23.8), synthetic=True)
    make_grid(chain["village"], "R1", square(113.6, 23.8))
    exported = export_grids(layer="comprehensive")
    assert [f["properties"]["synthetic"] for f in exported["features"]] == [True, False]

    Grid.objects.all().delete()
    path = write(tmp_path, exported["features"])
    import_grid_file(path, actor=None, layer="comprehensive")
    assert dict(Grid.objects.values_list("code", "synthetic")) == {"D1": True, "R1": False}

    real = [grid_feature("D1", square(113.5, 23.8, 0.02))]  # real data: no synthetic property
    report = import_grid_file(write(tmp_path, real, "real.geojson"), actor=None, layer="comprehensive")
    assert report.updated == 1 and Grid.objects.get(code="D1").synthetic is False

    same_geometry = [grid_feature("D1", square(113.5, 23.8, 0.02), synthetic=True)]
    report = import_grid_file(write(tmp_path, same_geometry, "mark.geojson"), actor=None, layer="comprehensive")
    assert report.updated == 1 and Grid.objects.get(code="D1").synthetic is True


def test_import_grids_refuses_a_synthetic_property_that_is_not_true_or_false(chain, tmp_path):
    path = write(tmp_path, [grid_feature("G0", square(113.5, 23.8), synthetic="maybe")])
    with pytest.raises(GridImportError, match=r"feature 0 \(code G0\): synthetic must be true or false, got 'maybe'"):
        import_grid_file(path, actor=None, layer="comprehensive")


def test_import_grids_names_each_repaired_feature(chain, tmp_path, capsys):
    bowtie = Polygon([(113.5, 23.8), (113.51, 23.81), (113.51, 23.8), (113.5, 23.81)])
    features = [grid_feature("G0", square(113.6, 23.8)), grid_feature("X3", bowtie)]
    report = import_grid_file(write(tmp_path, features), actor=None, layer="comprehensive")
    assert report.repaired == 1
    assert report.repaired_features == ["feature 1 (code X3): self-intersection at 113.505000, 23.805000"]
    event = AuditEvent.objects.get(action="grid.import")
    assert event.data["repaired_features"] == report.repaired_features

    call_command("import_grids", str(write(tmp_path, features, "again.geojson")), "--layer", "comprehensive")
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "repaired: feature 1 (code X3): self-intersection at 113.505000, 23.805000"
    assert lines[-1].endswith("0 created, 0 updated (0 revived), 2 unchanged, 1 repaired")


def test_import_grids_reports_swapped_coordinates(chain, tmp_path):
    path = write(tmp_path, [grid_feature("G0", box(23.8, 113.5, 23.81, 113.51))])
    with pytest.raises(GeoError, match=r"feature 0: lon/lat order looks swapped: longitude comes first"):
        import_grid_file(path, actor=None, layer="comprehensive")


def test_export_grids_command_with_a_malformed_area_code_says_so(chain):
    with pytest.raises(CommandError, match=r"malformed area code: code '44182100' must be 12 digits"):
        call_command("export_grids", "--area", "44182100")


def test_export_grids_command_to_a_directory_says_it_cannot_write(chain, tmp_path):
    with pytest.raises(CommandError, match=r"cannot write \("):
        call_command("export_grids", "-o", str(tmp_path))
