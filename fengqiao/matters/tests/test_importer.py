"""`fengqiao import-matters`: hotline and 110 exports in, matters out, by the loop's rules (ADR 0015)."""

import csv
import datetime
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from fengqiao.audit.models import AuditEvent
from fengqiao.core.crypto import lookup_hash
from fengqiao.departments.models import Category
from fengqiao.matters.importer import FileFormatError, MatterImportError, import_matters
from fengqiao.matters.models import Clock, Matter, MatterEvent
from fengqiao.matters.tests.builders import GRID_POINT, OUTSIDE_POINT, matter_world

HEADER = ["工单编号", "受理时间", "诉求标题", "诉求内容", "诉求地址", "经度", "纬度", "来电人", "联系电话", "诉求类型"]
LAST_LINE = re.compile(r"^imported (\d+), duplicates (\d+), rejected (\d+) \(report: (.+)\)$")


@pytest.fixture
def w(db):
    return matter_world()


def row(record, when="2025-03-04 09:15:00", title="路灯不亮", content="村口路灯坏了三天", address="", lon="", lat="",
        name="欧阳娜娜", phone="13800138000", category=""):  # fmt: skip
    return [record, when, title, content, address, lon, lat, name, phone, category]


def write_csv(path, rows, *, header=HEADER, encoding="gbk"):
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def report_rows(path):
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def run(path, tmp_path, **options):
    options.setdefault("source", "12345")
    options.setdefault("actor", "test-import")
    return import_matters(path, report_path=tmp_path / "report.csv", **options)


# --- a GBK export with every kind of row ---------------------------------------------------------------------

MIXED = [
    row("GD001", lon=GRID_POINT[0], lat=GRID_POINT[1], category="城乡建设"),  # row 2: in the grid, by name
    row("GD002", lon=OUTSIDE_POINT[0], lat=OUTSIDE_POINT[1], category="M-road"),  # 3: outside every area, by code
    row("GD003", address="佛冈县汤塘镇汤塘村委会旁", phone="12345", category="不存在的类型"),  # 4: address; bad phone
    row("GD001", title="重复"),  # 5: the same id as row 2
    row("", title="没有编号"),  # 6: no record id
    row("GD006", when="2023-02-30 10:00:00"),  # 7: no such day
    row("GD007", when="明天上午"),  # 8: not a time
    row("GD008", title="", content=""),  # 9: nothing to act on
    row("GD009", when="2999-01-01 00:00:00"),  # 10: in the future
    row("GD010", when="2024/1/5 8:03", title="", content="只有内容没有标题的诉求", name="", phone=""),  # 11
]


def test_gbk_export_imports_valid_rows_and_reports_the_rest(w, tmp_path):
    path = write_csv(tmp_path / "export.csv", MIXED)
    result = run(path, tmp_path)

    assert (result.imported, result.duplicates, result.rejected) == (4, 1, 5)
    assert Matter.objects.filter(source="12345").count() == 4
    report = [(r["row"], r["record_id"], r["kind"], r["reason"]) for r in report_rows(result.report)]
    assert ("5", "GD001", "duplicate", "same record id as row 2") in report
    assert ("6", "", "rejected", "no record id") in report
    assert ("7", "GD006", "rejected", "impossible time '2023-02-30 10:00:00'") in report
    assert ("8", "GD007", "rejected", "impossible time '明天上午'") in report
    assert ("9", "GD008", "rejected", "neither title nor content") in report
    assert ("10", "GD009", "rejected", "impossible time '2999-01-01 00:00:00' (in the future)") in report
    assert ("4", "GD003", "warning", "invalid phone number; dropped") in report
    assert ("3", "GD002", "warning", "the point is outside every area: imported for triage at the top level") in report
    assert ("11", "GD010", "warning", "no location given: imported for triage at the top level") in report
    assert (
        "4",
        "GD003",
        "warning",
        "category '不存在的类型' is not in the category tree; imported without a category",
    ) in report
    assert len(report) == 10
    assert not any("13800138000" in r[3] or "欧阳娜娜" in r[3] for r in report)  # no personal data


def test_imported_matters_follow_the_intake_rules(w, tmp_path):
    run(write_csv(tmp_path / "export.csv", MIXED), tmp_path)
    in_grid = Matter.objects.get(source="12345", external_id="GD001")
    assert in_grid.state == "submitted" and in_grid.workflow == "matter" and in_grid.channel == "12345"
    assert in_grid.grid == w["grid"] and in_grid.area == w["chain"]["village"] and not in_grid.needs_triage
    assert in_grid.handling_area == w["chain"]["town"]  # the lowest centre above, as `submit` decides
    assert in_grid.category == Category.objects.get(code="H01")
    assert in_grid.submitted_at == datetime.datetime(2025, 3, 4, 1, 15, tzinfo=datetime.UTC)  # 09:15 in Shanghai
    assert re.fullmatch(r"FQ[0-9A-HJKMNP-TV-Z]{10}", in_grid.tracking_code)
    assert (in_grid.reporter_name, in_grid.reporter_phone) == ("欧阳娜娜", "13800138000")
    assert in_grid.reporter_phone_hash == lookup_hash("13800138000")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter_name, reporter_phone FROM matters_matter WHERE id = %s", [in_grid.pk])
        stored = cursor.fetchone()
    assert all(value.startswith("enc1:") for value in stored)  # encrypted by the model field
    clock = Clock.objects.get(matter=in_grid)
    assert clock.stage == "accept" and clock.stopped_at is None and clock.due_at > clock.started_at
    event = MatterEvent.objects.get(matter=in_grid)
    assert (event.action, event.public, event.to_state, event.actor_label) == (
        "import",
        True,
        "submitted",
        "test-import",
    )

    outside = Matter.objects.get(external_id="GD002")
    assert outside.needs_triage and outside.location_method == "none" and outside.grid is None
    assert outside.area == w["chain"]["county"]  # the top area, for triage
    assert outside.category == w["category"]  # matched by code

    by_address = Matter.objects.get(external_id="GD003")
    assert by_address.area == w["chain"]["village"] and by_address.location_method == "address"
    assert by_address.reporter_phone == "" and by_address.reporter_phone_hash == ""  # the bad phone is dropped
    assert by_address.category is None  # unknown category: no category, not a rejection

    content_only = Matter.objects.get(external_id="GD010")
    assert content_only.title == "只有内容没有标题的诉求" and content_only.needs_triage
    assert content_only.submitted_at == datetime.datetime(2024, 1, 5, 0, 3, tzinfo=datetime.UTC)


def test_one_audit_event_per_run_without_personal_data(w, tmp_path):
    before = AuditEvent.objects.count()
    run(write_csv(tmp_path / "export.csv", MIXED), tmp_path)
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.get(action="matter.import")
    assert event.event_type == "import" and event.actor_label == "test-import"
    assert event.data["imported"] == 4 and event.data["duplicates"] == 1 and event.data["rejected"] == 5
    assert event.data["source"] == "12345" and len(event.data["file_sha256"]) == 64
    assert "欧阳娜娜" not in json.dumps(event.data, ensure_ascii=False)


def test_a_rerun_imports_nothing_twice(w, tmp_path):
    path = write_csv(tmp_path / "export.csv", MIXED)
    run(path, tmp_path)
    counts = (Matter.objects.count(), Clock.objects.count(), MatterEvent.objects.count())
    again = run(path, tmp_path)
    assert (again.imported, again.duplicates, again.rejected) == (0, 5, 5)
    assert (Matter.objects.count(), Clock.objects.count(), MatterEvent.objects.count()) == counts


def test_the_same_record_from_another_source_is_another_matter(w, tmp_path):
    path = write_csv(tmp_path / "export.csv", [row("A1", lon=GRID_POINT[0], lat=GRID_POINT[1])])
    run(path, tmp_path)
    police = run(path, tmp_path, source="110")
    assert police.imported == 1
    assert Matter.objects.get(source="110").channel == "110"


def test_utf8_csv_with_bom_and_swapped_coordinates(w, tmp_path):
    path = write_csv(tmp_path / "export.csv", [row("U1", lon=GRID_POINT[1], lat=GRID_POINT[0])], encoding="utf-8-sig")
    result = run(path, tmp_path)
    assert result.imported == 1
    assert Matter.objects.get(external_id="U1").grid == w["grid"]
    assert any("swapped" in r["reason"] for r in report_rows(result.report))


# --- xlsx and mappings --------------------------------------------------------------------------------------


def test_xlsx_with_typed_cells(w, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append([20250304001, datetime.datetime(2025, 3, 4, 9, 15), "井盖缺失", "", "", GRID_POINT[0],
                  GRID_POINT[1], "李四", 13900139000, "城乡建设"])  # fmt: skip
    sheet.append([None, None, None, None, None, None, None, None, None, None])  # empty: skipped
    sheet.append([20250304002, "not a time", "x", "", "", None, None, None, None, None])
    book.save(tmp_path / "export.xlsx")
    result = run(tmp_path / "export.xlsx", tmp_path)
    assert (result.imported, result.rejected) == (1, 1)
    matter = Matter.objects.get(external_id="20250304001")  # a number cell read as the id's digits
    assert matter.reporter_phone == "13900139000" and matter.grid == w["grid"]
    assert report_rows(result.report)[0]["row"] == "4"


def test_mapping_file_reads_another_layout(w, tmp_path):
    header = ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "一级分类"]
    path = write_csv(
        tmp_path / "messages.csv",
        [["m1", "A0001", "小区噪音扰民", "2019/11/10 18:59:24", "\n\t晚上施工噪音很大\n", "环境保护"]],
        header=header,
        encoding="utf-8",
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {"record_id": "留言编号", "submitted_at": "留言时间", "title": "留言主题", "content": "留言详情",
             "reporter_name": "留言用户", "category": "一级分类"},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )  # fmt: skip
    result = run(path, tmp_path, mapping=mapping)
    assert result.imported == 1
    matter = Matter.objects.get(external_id="m1")
    assert matter.description == "晚上施工噪音很大" and matter.category.code == "H02"
    assert matter.needs_triage  # no place given at all


def test_bad_mapping_file_is_refused(w, tmp_path):
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"record": "编号"}', encoding="utf-8")
    with pytest.raises(MatterImportError, match="unknown field"):
        run(write_csv(tmp_path / "e.csv", [row("X")]), tmp_path, mapping=mapping)
    mapping.write_text("{not json", encoding="utf-8")
    with pytest.raises(MatterImportError, match="not a JSON file"):
        run(write_csv(tmp_path / "e.csv", [row("X")]), tmp_path, mapping=mapping)


# --- files that cannot be read: a clear error and nothing written ------------------------------------------


def _nothing_written(before):
    assert Matter.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_csv_in_an_unexpected_encoding_writes_nothing(w, tmp_path):
    before = AuditEvent.objects.count()
    utf16 = write_csv(tmp_path / "utf16.csv", [row("A")], encoding="utf-16")
    with pytest.raises(FileFormatError, match="UTF-16"):
        run(utf16, tmp_path)
    good = [row(f"R{i}") for i in range(50)]
    broken = tmp_path / "broken.csv"
    broken.write_bytes(write_csv(tmp_path / "ok.csv", good).read_bytes() + b"R99,\xff\xff,\xff\r\n")
    with pytest.raises(FileFormatError, match="neither UTF-8 nor GBK"):
        run(broken, tmp_path)  # the bad bytes at the very end: the first 50 rows are not imported either
    _nothing_written(before)


def test_an_xlsx_that_is_not_an_xlsx_writes_nothing(w, tmp_path):
    before = AuditEvent.objects.count()
    fake = tmp_path / "export.xlsx"
    fake.write_text("工单编号,受理时间\n1,2025-01-01\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"not an Excel \.xlsx workbook"):
        run(fake, tmp_path)
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    with pytest.raises(FileFormatError, match="xlsx"):
        run(damaged, tmp_path)
    _nothing_written(before)


def test_missing_column_names_it(w, tmp_path):
    path = write_csv(tmp_path / "e.csv", [["1", "x"]], header=["编号", "标题"])
    with pytest.raises(FileFormatError, match=r"missing column.*工单编号.*受理时间"):
        run(path, tmp_path)


# --- the command ----------------------------------------------------------------------------------------------


def test_command_prints_progress_and_the_last_line(w, tmp_path):
    path = write_csv(tmp_path / "export.csv", MIXED)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_matters", str(path), "--source", "12345", "--report", str(tmp_path / "r.csv"),
                 stdout=out, stderr=err)  # fmt: skip
    last = out.getvalue().strip().splitlines()[-1]
    match = LAST_LINE.match(last)
    assert match and match.groups()[:3] == ("4", "1", "5") and Path(match.group(4)) == tmp_path / "r.csv"
    assert re.search(r"10/10 rows \(100%\), [\d,]+ rows/s, ETA 0:00:00", err.getvalue())


def test_command_dry_run_writes_nothing(w, tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    path = write_csv(tmp_path / "export.csv", MIXED)
    out = io.StringIO()
    call_command("import_matters", str(path), "--source", "110", "--dry-run", stdout=out, stderr=io.StringIO())
    lines = out.getvalue().strip().splitlines()
    assert "dry run: nothing written (would import 4)" in lines
    match = LAST_LINE.match(lines[-1])
    assert match.groups()[:3] == ("0", "1", "5")
    assert Path(match.group(4)).parent == tmp_path / "data" / "imports" and Path(match.group(4)).is_file()
    assert Matter.objects.count() == 0 and not AuditEvent.objects.filter(action="matter.import").exists()


def test_command_refuses_an_unreadable_file(w, tmp_path):
    with pytest.raises(CommandError, match=r"file not found.*nothing imported"):
        call_command("import_matters", str(tmp_path / "none.csv"), "--source", "12345", stderr=io.StringIO())


# --- real data ----------------------------------------------------------------------------------------------

TEDDY = Path(settings.SHARED_DATA_DIR) / "complaints" / "teddy2020c_fj2_sample495.csv"


@pytest.mark.slow
@pytest.mark.skipif(not TEDDY.is_file(), reason="shared data not present")
def test_real_citizen_messages(w, tmp_path):
    """495 real messages (2020 Teddy Cup sample; 留言编号 repeats in the source, times in two formats)."""
    mapping = {"record_id": "留言编号", "submitted_at": "留言时间", "title": "留言主题", "content": "留言详情",
               "reporter_name": "留言用户", "category": "一级分类", "address": None}  # fmt: skip
    with TEDDY.open(encoding="utf-8", newline="") as fh:
        records = [r["留言编号"] for r in csv.DictReader(fh)]
    result = run(TEDDY, tmp_path, mapping=mapping)
    assert result.read == len(records) == 495
    assert result.imported == len(set(records)) - result.rejected
    assert result.imported + result.duplicates + result.rejected == 495
    assert Matter.objects.filter(category__code__startswith="H").count() > 400  # 城乡建设… by name
    again = run(TEDDY, tmp_path, mapping=mapping)
    assert again.imported == 0


def test_an_xlsx_whose_sheet_breaks_half_way_writes_nothing(w, tmp_path):
    import zipfile

    before = AuditEvent.objects.count()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for i in range(300):
        sheet.append([f"X{i}", "2025-03-04 09:15:00", "路灯不亮", "", "", "", "", "", "", ""])
    good = tmp_path / "good.xlsx"
    book.save(good)
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():  # a sound zip whose worksheet XML stops in the middle of a row
            data = src.read(item.filename)
            if item.filename.endswith("sheet1.xml"):
                data = data[: len(data) * 2 // 3]
            dst.writestr(item, data)
    with pytest.raises(FileFormatError, match="damaged worksheet"):
        run(broken, tmp_path)
    _nothing_written(before)


def test_a_point_outside_every_area_is_flagged_even_when_the_address_matches_a_name(w, tmp_path):
    export = write_csv(
        tmp_path / "outside.csv", [row("OUT1", address="佛冈县汤塘镇", lon=OUTSIDE_POINT[0], lat=OUTSIDE_POINT[1])]
    )
    result = run(export, tmp_path)
    assert result.imported == 1
    matter = Matter.objects.get(external_id="OUT1")
    assert matter.needs_triage is True
    assert any("outside every area" in r["reason"] for r in report_rows(result.report))
