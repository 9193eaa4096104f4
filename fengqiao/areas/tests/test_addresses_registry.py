"""The standard-address registry (标准地址, ADR 0018): import (UTF-8/GBK, all or nothing, idempotent, points located
in grids), resolution to a registered address's grid, relocation after grids change, and the admin."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import reverse

from fengqiao.areas.addresses import AddressImportError, import_address_file, relocate_addresses, resolve
from fengqiao.areas.models import StandardAddress
from fengqiao.areas.tests.address_builders import address_tree
from fengqiao.areas.tests.factories import make_boundary, make_grid, square
from fengqiao.audit.models import AuditEvent
from fengqiao.core.geo import gcj02_to_wgs84, wgs84_to_gcj02

pytestmark = pytest.mark.django_db

ROWS = [
    ("佛冈县汤塘镇人民路12号", 113.505, 23.705, ""),  # in grid G1 (汤塘村委会)
    ("石角镇观山村委会3号楼", 113.605, 23.705, ""),  # in grid G2 (观山村委会)
    ("新村村委会5号", 113.905, 23.905, "441821103201"),  # no grid: placed by area_code (石角镇's 新村)
]


@pytest.fixture
def world(settings):
    settings.LOCATE_REFRESH_SECONDS = 0
    tree = address_tree()
    tree["g1"] = make_grid(tree["tangtang_village"], "G1", square(113.5, 23.7))
    tree["g2"] = make_grid(tree["guanshan"], "G2", square(113.6, 23.7))
    return tree


def write(tmp_path, rows, *, header="address,lon,lat,area_code", encoding="utf-8", name="addresses.csv"):
    path = tmp_path / name
    lines = [header, *(",".join(str(v) for v in row) for row in rows)]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def test_import_locates_each_point_and_resolution_gives_the_registered_grid(world, tmp_path):
    report = import_address_file(write(tmp_path, ROWS), actor="test")
    assert (report.rows, report.created, report.updated, report.unchanged, report.in_grid) == (3, 3, 0, 0, 2)
    first = StandardAddress.objects.get(address="佛冈县汤塘镇人民路12号")
    assert first.grid == world["g1"] and first.area == world["tangtang_village"] and first.key == "人民路12"
    assert StandardAddress.objects.get(key="3楼").grid == world["g2"]
    assert AuditEvent.objects.filter(action="standard_address.import", event_type="import").count() == 1

    result = resolve("汤塘镇人民路12号附近")
    assert result.grid_id == world["g1"].pk and result.address_id == first.pk and result.address_key == "人民路12"
    assert result.area_id == world["tangtang_village"].pk and result.method == "registry"
    assert (result.lon, result.lat) == (113.505, 23.705)
    assert "standard address '人民路12'" in result.explain()
    assert resolve("人民路１２號").grid_id == world["g1"].pk  # full-width digits, 號, no division named


def test_a_registered_address_must_agree_with_the_places_the_text_names(world, tmp_path):
    import_address_file(write(tmp_path, ROWS), actor="test")
    elsewhere = resolve("佛冈县石角镇人民路12号")
    assert elsewhere.grid_id is None and elsewhere.area_id == world["shijiao"].pk
    assert resolve("人民路12号", within=world["shijiao"]).grid_id is None


def test_a_registered_address_settles_a_tie_between_namesakes(world, tmp_path):
    assert resolve("新村村委会门口").ambiguous
    import_address_file(write(tmp_path, ROWS), actor="test")
    result = resolve("新村村委会5号门口")
    assert result.area_id == world["xincun_shijiao"].pk and not result.ambiguous and result.grid_id is None


def test_importing_the_same_file_again_changes_nothing_and_a_moved_point_updates_its_row(world, tmp_path):
    path = write(tmp_path, ROWS)
    import_address_file(path, actor="test")
    before = dict(StandardAddress.objects.values_list("pk", "updated_at"))
    again = import_address_file(path, actor="test")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert dict(StandardAddress.objects.values_list("pk", "updated_at")) == before
    moved = [("佛冈县汤塘镇人民路１２號", 113.605, 23.705, ""), *ROWS[1:]]  # the same address, written differently
    report = import_address_file(write(tmp_path, moved, name="moved.csv"), actor="test")
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    row = StandardAddress.objects.get(normalised="佛冈县汤塘镇人民路12")
    assert row.grid == world["g2"] and row.area == world["guanshan"] and row.source == "moved.csv"
    assert StandardAddress.objects.count() == 3


def test_gbk_files_with_chinese_headers_and_gcj02_points(world, tmp_path):
    lon, lat = 113.505, 23.705
    glon, glat = (float(v) for v in wgs84_to_gcj02(lon, lat))
    path = write(tmp_path, [("汤塘镇人民路12号", glon, glat)], header="地址,经度,纬度", encoding="gbk")
    import_address_file(path, actor="test", crs="gcj02")
    row = StandardAddress.objects.get()
    assert row.lon == pytest.approx(lon, abs=1e-7) and row.lat == pytest.approx(lat, abs=1e-7)
    assert row.grid == world["g1"]
    assert (row.lon, row.lat) == tuple(float(v) for v in gcj02_to_wgs84(glon, glat))


def test_bad_rows_are_all_reported_and_nothing_is_written(world, tmp_path):
    rows = [
        ROWS[0],
        ("", 113.5, 23.7, ""),
        ("汤塘镇建设路1号", "abc", 23.7, ""),
        ("汤塘镇建设路2号", 23.7, 113.5, ""),
        ("佛冈县汤塘镇人民路１２號", 113.505, 23.705, ""),
        ("汤塘镇建设路3号", 113.505, 23.705, "441899999999"),
        ("汤塘镇建设路4号", 113.505, 23.705, "441821103000"),
    ]
    with pytest.raises(AddressImportError) as caught:
        import_address_file(write(tmp_path, rows), actor="test")
    message = str(caught.value)
    assert "7 problem(s)" not in message and "6 problem(s), nothing imported" in message
    for expected in (
        "line 3: the address is empty",
        "line 4: lon/lat must be numbers",
        "line 5: lon=23.7 lat=113.5 looks swapped",
        "line 6: '佛冈县汤塘镇人民路１２號' is the same address as line 2",
        "line 7: area_code 441899999999: no current area",
        "line 8: the point lies in grid G1 of 汤塘村委会 (441821102214), not in area_code 441821103000 石角镇",
    ):
        assert expected in message, message
    assert not StandardAddress.objects.exists() and not AuditEvent.objects.filter(action__startswith="standard")


def test_an_address_nothing_places_is_refused_and_one_the_boundary_or_text_places_is_kept(world, tmp_path):
    nowhere = [("建设路1号", 120.0, 30.0, "")]
    with pytest.raises(AddressImportError, match="line 2: the point lies in no grid or area boundary"):
        import_address_file(write(tmp_path, nowhere), actor="test")
    make_boundary(world["shijiao"], square(119.9, 29.9, 0.2))
    text_places = [
        ("建设路1号", 120.0, 30.0, ""),
        ("观山村委会2号", 119.95, 29.95, ""),
        ("汤塘镇大道9号", 121.0, 31.0, ""),
    ]
    import_address_file(write(tmp_path, text_places), actor="test")
    placed = dict(StandardAddress.objects.values_list("address", "area"))
    assert placed["建设路1号"] == world["shijiao"].pk  # the boundary
    assert placed["观山村委会2号"] == world["guanshan"].pk  # the boundary, refined by the text
    assert placed["汤塘镇大道9号"] == world["tangtang"].pk  # the text alone


@pytest.mark.parametrize(
    "content,expected",
    [
        (b"", "no data rows"),
        ("名称,经度,纬度\n汤塘,113.5,23.7\n".encode(), "missing column(s) address (or 地址 / 标准地址)"),
        (b"PK\x03\x04xlsx", "this is a spreadsheet"),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(world, tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(AddressImportError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        import_address_file(path, actor="test")


def test_the_command_prints_the_summary_and_turns_errors_into_command_errors(world, tmp_path, capsys):
    call_command("import_addresses", str(write(tmp_path, ROWS)))
    assert "3 standard addresses, 2 in a grid; 3 created" in capsys.readouterr().out
    with pytest.raises(CommandError, match="unknown grid layer 'nope'"):
        call_command("import_addresses", str(write(tmp_path, ROWS)), "--layer", "nope")


def test_relocation_follows_a_new_grid_and_is_audited(world, tmp_path):
    import_address_file(write(tmp_path, ROWS), actor="test")
    assert relocate_addresses(actor="test", addresses=StandardAddress.objects.all()) == 0
    grid = make_grid(world["xincun_shijiao"], "G3", square(113.9, 23.9))
    assert relocate_addresses(actor="test", addresses=StandardAddress.objects.all()) == 1
    row = StandardAddress.objects.get(key="新村村委会5")
    assert row.grid == grid and row.area == world["xincun_shijiao"]
    event = AuditEvent.objects.get(action="standard_address.update")
    assert event.before == {"grid": None, "area": "441821103201"} and event.after["grid"] == grid.pk


def test_the_admin_lists_refuses_adding_and_relocates_with_the_change_permission(world, tmp_path, client):
    from fengqiao.departments.tests.builders import make_user

    import_address_file(write(tmp_path, ROWS), actor="test")
    root = make_user("root", superuser=True)
    client.force_login(root)
    changelist = reverse("admin:areas_standardaddress_changelist")
    page = client.get(changelist)
    assert page.status_code == 200 and "佛冈县汤塘镇人民路12号" in page.content.decode()
    assert client.get(reverse("admin:areas_standardaddress_add")).status_code == 403
    make_grid(world["xincun_shijiao"], "G3", square(113.9, 23.9))
    pks = list(StandardAddress.objects.values_list("pk", flat=True))
    response = client.post(changelist, {"action": "relocate", "_selected_action": pks}, follow=True)
    assert "1 个地址已移到其他网格或区域。" in response.content.decode()
    assert StandardAddress.objects.filter(grid__code="G3").count() == 1
    viewer = make_user("viewer")
    viewer.is_staff = True
    viewer.save(update_fields=["is_staff"])
    viewer.user_permissions.add(Permission.objects.get(codename="view_standardaddress"))
    model_admin = admin.site._registry[StandardAddress]
    for user, allowed in ((root, True), (viewer, False)):  # relocating needs the change permission
        request = RequestFactory().get(changelist)
        request.user = user
        assert ("relocate" in model_admin.get_actions(request)) is allowed
