"""Import of persons, households and places from .xlsx workbooks built in the tests with openpyxl."""

import datetime

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from fengqiao.areas.tests.factories import make_chain
from fengqiao.audit.models import AuditEvent
from fengqiao.core.crypto import lookup_hash
from fengqiao.core.identity import check_digit
from fengqiao.people.importers import PeopleImportError, import_xlsx
from fengqiao.people.models import Household, Person, Place

pytestmark = pytest.mark.django_db

VILLAGE = "441821101201"
HEAD_ID = "11010519491231002X"


def id_number(first17):
    return first17 + check_digit(first17)


CHILD_ID = id_number("44182119800101995")


def workbook(path, header, rows):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


HOUSEHOLDS = ["户号", "区划代码", "地址"]
PERSONS = ["姓名", "身份证号", "联系电话", "区划代码", "户号", "与户主关系", "居住类型"]
PLACES = ["名称", "类型", "区划代码", "地址", "安全认证状态", "认证日期"]


@pytest.fixture
def village():
    return make_chain()["village"]


@pytest.fixture
def households_file(tmp_path, village):
    return workbook(
        tmp_path / "households.xlsx", HOUSEHOLDS, [["H001", VILLAGE, "汤塘村一巷8号"], ["H002", VILLAGE, ""]]
    )


def test_households_then_persons_are_imported_encrypted_and_linked(tmp_path, village, households_file):
    report = import_xlsx(households_file, kind="households", actor="test")
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    persons = workbook(
        tmp_path / "persons.xlsx",
        PERSONS,
        [
            ["张三", HEAD_ID, "139 1234 5678", VILLAGE, "H001", "户主", "常住"],
            ["张小明", CHILD_ID, None, int(VILLAGE), "H001", "子女", "户籍"],
        ],
    )
    report = import_xlsx(persons, kind="persons", actor="test")
    assert report.created == 2
    head = Person.objects.get(id_number_hash=lookup_hash(HEAD_ID))
    assert head.household.number == "H001" and head.relationship == "head" and head.residence_type == "resident"
    assert head.birth_date == datetime.date(1949, 12, 31) and head.phone == "13912345678"
    child = Person.objects.get(id_number_hash=lookup_hash(CHILD_ID))
    assert child.sex == "male" and child.residence_type == "registered"
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, id_number FROM people_person WHERE id = %s", [head.pk])
        assert all(v.startswith("enc1:") for v in cursor.fetchone())


def test_importing_the_same_file_again_writes_nothing_and_a_changed_row_is_updated(tmp_path, village, households_file):
    import_xlsx(households_file, kind="households", actor="test")
    events = AuditEvent.objects.count()
    report = import_xlsx(households_file, kind="households", actor="test")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
    assert AuditEvent.objects.count() == events and Household.objects.count() == 2
    changed = workbook(tmp_path / "changed.xlsx", HOUSEHOLDS, [["H001", VILLAGE, "汤塘村二巷1号"]])
    report = import_xlsx(changed, kind="households", actor="test")
    assert report.updated == 1
    assert Household.objects.get(number="H001").address == "汤塘村二巷1号"


def test_every_bad_row_is_reported_with_its_row_number_and_nothing_is_written(tmp_path, village, households_file):
    import_xlsx(households_file, kind="households", actor="test")
    events = AuditEvent.objects.count()
    path = workbook(
        tmp_path / "bad.xlsx",
        PERSONS,
        [
            ["张三", HEAD_ID, "13912345678", VILLAGE, "H001", "户主", "常住"],  # good
            ["李四", "110105194912310021", "", VILLAGE, "", "", "常住"],  # check digit
            ["王五", CHILD_ID, "12345", VILLAGE, "", "", "常住"],  # phone
            [None, None, None, None, None, None, None],  # empty row: skipped, still counted
            ["赵六", id_number("44182119900202991"), "", "999999999999", "", "", "常住"],  # area
            ["钱七", id_number("44182119900303993"), "", VILLAGE, "H999", "户主", "常住"],  # household
            ["孙八", id_number("44182119900404995"), "", VILLAGE, "", "叔叔", "暂住"],  # choices
            ["张三", HEAD_ID, "", VILLAGE, "", "", "常住"],  # duplicate of row 2
        ],
    )
    with pytest.raises(PeopleImportError) as exc:
        import_xlsx(path, kind="persons", actor="test")
    rows = [e.split(": ")[1] for e in exc.value.errors]
    assert rows == ["row 3", "row 4", "row 6", "row 7", "row 8", "row 9"], exc.value.errors
    assert all(e.startswith("bad.xlsx: row ") for e in exc.value.errors)
    assert "校验位" in exc.value.errors[0] and "row 2" in exc.value.errors[-1]  # the reason, in Chinese
    assert Person.objects.count() == 0 and AuditEvent.objects.count() == events


def test_an_id_number_typed_as_a_number_is_refused(tmp_path, village):
    path = workbook(tmp_path / "p.xlsx", PERSONS, [["张三", 441821198001019950, "", VILLAGE, "", "", "常住"]])
    with pytest.raises(PeopleImportError, match="row 2: 身份证号 is stored as a number"):
        import_xlsx(path, kind="persons", actor="test")


def test_places_with_safety_certification(tmp_path, village):
    path = workbook(
        tmp_path / "places.xlsx",
        PLACES,
        [
            ["汤塘小卖部", "商铺", VILLAGE, "汤塘村一巷1号", "", None],
            ["陈氏出租屋", "出租屋", VILLAGE, "", "已认证", datetime.datetime(2024, 3, 1)],
            ["汤塘竹木厂", "企业", VILLAGE, "", "已申请", "2024-05-06"],
        ],
    )
    assert import_xlsx(path, kind="places", actor="test").created == 3
    rental = Place.objects.get(name="陈氏出租屋")
    assert rental.kind == "rental_house" and rental.safety_status == "certified"
    assert rental.safety_date == datetime.date(2024, 3, 1)
    assert import_xlsx(path, kind="places", actor="test").unchanged == 3

    bad = workbook(
        tmp_path / "bad.xlsx", PLACES, [["无日期", "出租屋", VILLAGE, "", "已认证", None], ["x", "工厂", VILLAGE]]
    )
    with pytest.raises(PeopleImportError) as exc:
        import_xlsx(bad, kind="places", actor="test")
    assert [e.split(": ")[1] for e in exc.value.errors] == ["row 2", "row 3"]
    assert Place.objects.count() == 3


def test_a_household_outside_a_village_is_reported_by_the_service(tmp_path, village):
    path = workbook(tmp_path / "h.xlsx", HOUSEHOLDS, [["H001", VILLAGE, ""], ["H002", "441821101000", ""]])
    with pytest.raises(PeopleImportError) as exc:
        import_xlsx(path, kind="households", actor="test")
    assert len(exc.value.errors) == 1 and exc.value.errors[0].startswith("h.xlsx: row 3: area")
    assert Household.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xe5\xa7\x93\xe5\x90\x8d,\n", "not an Excel .xlsx workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Excel 97"),
        (b"PK\x03\x04garbage", "not a readable Excel .xlsx workbook"),
    ],
)
def test_a_file_that_is_not_xlsx_is_a_clear_error(tmp_path, village, content, message):
    path = tmp_path / "persons.xlsx"
    path.write_bytes(content)
    with pytest.raises(PeopleImportError, match=message):
        import_xlsx(path, kind="persons", actor="test")


def test_missing_columns_and_missing_file(tmp_path, village):
    path = workbook(tmp_path / "p.xlsx", ["姓名", "区划代码"], [["张三", VILLAGE]])
    with pytest.raises(PeopleImportError, match="row 1: missing column\\(s\\) 身份证号, 居住类型"):
        import_xlsx(path, kind="persons", actor="test")
    with pytest.raises(PeopleImportError, match="file not found"):
        import_xlsx(tmp_path / "absent.xlsx", kind="persons", actor="test")


def test_the_people_import_command(tmp_path, village, households_file, capsys):
    call_command("people", "import", str(households_file), "--kind", "households")
    assert "created 2" in capsys.readouterr().out
    bad = workbook(tmp_path / "bad.xlsx", HOUSEHOLDS, [["", VILLAGE, ""]])
    with pytest.raises(CommandError, match=r"bad\.xlsx: row 2: 户号 is empty"):
        call_command("people", "import", str(bad), "--kind", "households")
