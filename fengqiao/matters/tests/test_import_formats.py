"""`fengqiao import-matters`: what the hotline files hold — text encodings that GBK would read as mojibake, and
Excel serial dates (ADR 0015)."""

import datetime
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from fengqiao.audit.models import AuditEvent
from fengqiao.matters.importer import FileFormatError, open_table
from fengqiao.matters.importer.reading import SHANGHAI, Rejected, parse_time
from fengqiao.matters.models import Matter
from fengqiao.matters.tests.builders import GRID_POINT, matter_world
from fengqiao.matters.tests.test_importer import HEADER, report_rows, row, run, write_csv

NOW = datetime.datetime(2026, 1, 10, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture
def w(db):
    return matter_world()


def shanghai(*parts):
    return datetime.datetime(*parts, tzinfo=SHANGHAI)


# --- encodings ------------------------------------------------------------------------------------------------

# A Taiwanese-style export in traditional characters (its own headers, given by a mapping).
BIG5_HEADER = ["工單編號", "受理時間", "訴求標題", "訴求內容", "訴求地址", "來電人", "聯繫電話"]
BIG5_MAPPING = {"record_id": "工單編號", "submitted_at": "受理時間", "title": "訴求標題", "content": "訴求內容",
                "address": "訴求地址", "reporter_name": "來電人", "reporter_phone": "聯繫電話", "lon": None,
                "lat": None, "category": None}  # fmt: skip
BIG5_ROWS = [
    ["TW001", "2025-03-04 09:15:00", "路燈不亮", "村口的路燈壞了三天，晚上行人經過很危險，請儘快處理。", "佛岡縣湯塘鎮",
     "陳大文", "13800138000"],
    ["TW002", "2025-03-05 10:00:00", "噪音擾民", "樓下餐廳每天深夜營業，噪音很大，影響休息。", "佛岡縣石角鎮",
     "黃美麗", "13900139000"],
]  # fmt: skip


def test_a_big5_csv_is_refused_naming_the_file_and_the_encoding(w, tmp_path):
    path = write_csv(tmp_path / "taiwan.csv", BIG5_ROWS, header=BIG5_HEADER, encoding="big5")
    assert path.read_bytes().decode("gb18030")  # GBK reads it without an error: the bytes alone do not tell
    before = AuditEvent.objects.count()
    with pytest.raises(FileFormatError) as caught:
        run(path, tmp_path, mapping=BIG5_MAPPING)
    message = str(caught.value)
    assert message.startswith("taiwan.csv: read as GBK the text is garbled")
    assert "it looks like Big5 (traditional Chinese): '工單編號受理時間訴求標題'" in message
    assert message.endswith("Save the CSV as UTF-8 or GBK")
    assert Matter.objects.count() == 0 and AuditEvent.objects.count() == before
    assert not (tmp_path / "report.csv").exists()


def test_the_same_rows_in_utf8_are_imported(w, tmp_path):
    path = write_csv(tmp_path / "taiwan.csv", BIG5_ROWS, header=BIG5_HEADER, encoding="utf-8")
    result = run(path, tmp_path, mapping=BIG5_MAPPING)
    assert result.imported == 2
    assert Matter.objects.get(external_id="TW001").title == "路燈不亮"


def test_a_shift_jis_csv_is_refused_as_such(w, tmp_path):
    path = tmp_path / "japan.csv"
    text = "工単番号,受理時間,件名\n" + "".join(f"J{i},2025-03-04,道路の街灯が点灯しません。至急対応願います\n"
                                           for i in range(3))  # fmt: skip
    path.write_bytes(text.encode("cp932"))
    with pytest.raises(FileFormatError, match=r"japan\.csv: read as GBK the text is garbled.*Shift-JIS"):
        run(path, tmp_path)
    assert Matter.objects.count() == 0


def test_gbk_with_rare_and_traditional_characters_in_names_is_accepted(w, tmp_path):
    names = ["欧阳喆", "王堃", "李玥", "張國榮", "赵昇", "孙淼", "周鑫", "吴喆", "郑堃", "冯玥"]  # not all in GB2312
    rows = [row(f"N{i}", name=name, content=f"{name}反映：村口路灯坏了三天，晚上行人经过很危险。")
            for i, name in enumerate(names)]  # fmt: skip
    result = run(write_csv(tmp_path / "names.csv", rows, encoding="gbk"), tmp_path)
    assert result.imported == len(names)
    assert Matter.objects.get(external_id="N3").reporter_name == "張國榮"


TEDDY = Path(settings.SHARED_DATA_DIR) / "complaints" / "teddy2020c_fj2_sample495.csv"


@pytest.mark.skipif(not TEDDY.is_file(), reason="shared data not present")
def test_real_citizen_messages_saved_as_gbk_pass_the_encoding_check(tmp_path):
    """495 real messages (simplified Chinese, with the odd rare or traditional character) written as GB18030."""
    path = tmp_path / "teddy-gbk.csv"
    path.write_bytes(TEDDY.read_text(encoding="utf-8").encode("gb18030"))
    table = open_table(path)
    assert (table.encoding, table.total) == ("gb18030", 495)


# --- Excel serial dates ---------------------------------------------------------------------------------------


def _workbook(path, times, *, epoch=None):
    book = openpyxl.Workbook()
    if epoch is not None:
        book.epoch = epoch
    sheet = book.active
    sheet.append(HEADER)
    for i, when in enumerate(times):
        sheet.append([f"X{i}", when, "路灯不亮", "", "", GRID_POINT[0], GRID_POINT[1], "", "", ""])
    book.save(path)
    return path


def test_xlsx_number_cells_in_the_time_column_are_excel_serial_dates(w, tmp_path):
    path = _workbook(tmp_path / "serial.xlsx", [46000.5, 45991.385416666664, 46000, 30000.25, 0.5])
    result = run(path, tmp_path, now=NOW)
    assert (result.imported, result.rejected) == (3, 2)
    submitted = dict(Matter.objects.values_list("external_id", "submitted_at"))
    assert submitted["X0"] == shanghai(2025, 12, 9, 12, 0)  # 1900 date system: day 1 is 1900-01-01
    assert submitted["X1"] == shanghai(2025, 11, 30, 9, 15)  # the float's error is rounded away
    assert submitted["X2"] == shanghai(2025, 12, 9)
    reasons = {r["record_id"]: r["reason"] for r in report_rows(result.report) if r["kind"] == "rejected"}
    assert reasons == {
        "X3": "impossible time '30000.25' (an Excel date serial: 1982-02-18 06:00, before 1990)",
        "X4": "impossible time '0.5' (an Excel time of day without a date)",
    }


def test_a_workbook_in_the_1904_date_system_is_read_in_it(w, tmp_path):
    path = _workbook(tmp_path / "mac.xlsx", [44538.5], epoch=CALENDAR_MAC_1904)
    assert open_table(path).epoch == CALENDAR_MAC_1904
    run(path, tmp_path, now=NOW)
    assert Matter.objects.get(external_id="X0").submitted_at == shanghai(2025, 12, 9, 12, 0)


def test_date_cells_are_still_read_as_dates(w, tmp_path):
    path = _workbook(tmp_path / "dates.xlsx", [datetime.datetime(2025, 12, 9, 12, 0), datetime.date(2025, 12, 8)])
    run(path, tmp_path, now=NOW)
    submitted = dict(Matter.objects.values_list("external_id", "submitted_at"))
    assert submitted == {"X0": shanghai(2025, 12, 9, 12, 0), "X1": shanghai(2025, 12, 8)}


def test_a_serial_date_written_to_a_csv_is_read_as_a_date(w, tmp_path):
    rows = [row("C1", when="46000.5"), row("C2", when=" 45991.385416666664 "), row("C3", when="20251209")]
    result = run(write_csv(tmp_path / "serial.csv", rows), tmp_path, now=NOW)
    assert result.imported == 3
    submitted = dict(Matter.objects.values_list("external_id", "submitted_at"))
    assert submitted["C1"] == shanghai(2025, 12, 9, 12, 0)
    assert submitted["C2"] == shanghai(2025, 11, 30, 9, 15)
    assert submitted["C3"] == shanghai(2025, 12, 9)  # eight digits: a compact ISO date, not a serial


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (2958466.0, "impossible time '2958466'"),  # past Excel's last day (9999-12-31): not a serial date
        (True, "impossible time 'True'"),
        ("4600.5", "impossible time '4600.5'"),  # four digits: not a serial of our era
        ("46000.5.1", "impossible time '46000.5.1'"),
    ],
)
def test_numbers_that_are_not_serial_dates_are_rejected(value, reason):
    with pytest.raises(Rejected) as caught:
        parse_time(value, NOW)
    assert str(caught.value) == reason


def test_time_texts_keep_their_forms():
    assert parse_time("2025-03-04 09:15:00", NOW) == shanghai(2025, 3, 4, 9, 15)
    assert parse_time("2025/3/4 9:15", NOW) == shanghai(2025, 3, 4, 9, 15)
    assert parse_time("2025年3月4日 9时15分", NOW) == shanghai(2025, 3, 4, 9, 15)
    assert parse_time("2025年3月4日 9时15分30秒", NOW) == shanghai(2025, 3, 4, 9, 15, 30)
    assert parse_time("2025-03-04T01:15:00+00:00", NOW) == shanghai(2025, 3, 4, 9, 15)
    with pytest.raises(Rejected, match="no time"):
        parse_time("  ", NOW)
