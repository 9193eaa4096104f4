"""`fengqiao people export`: the actor's scope only, masked unless permitted, special groups only when explicitly
permitted, one EXPORT audit event with the counts."""

import csv

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from fengqiao.accounts.models import Role
from fengqiao.api.tests.world import build_world, grant
from fengqiao.audit.models import AuditEvent, EventType
from fengqiao.departments.tests.builders import make_user
from fengqiao.people import exports
from fengqiao.people.importers import import_xlsx
from fengqiao.people.models import Person
from fengqiao.people.tests.builders import ID_NUMBER, PHONE, make_person, people_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    w = build_world()
    w |= people_world(w)
    other_village = w["other_town"].children.get()
    w["outsider"] = make_person(other_village, name="王五", id_number="", phone="13700001111")
    return w


def exporter(w, *perms, username="exporter", area=None):
    """A user over the town holding exactly `perms` (the mediator's role group has no people permission)."""
    return grant(make_user(username, perms=["people.view_person", *perms]), area or w["chain"]["town"], Role.MEDIATOR)


def read_csv(path):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def export(path, user, area, *args):
    call_command("people", "export", "--user", user.username, "--area", area.code, "--out", str(path), *args)


def test_a_masked_export_holds_the_scope_only_with_masked_personal_data(w, tmp_path):
    user = exporter(w)
    out = tmp_path / "persons.csv"
    export(out, user, w["chain"]["town"])
    rows = read_csv(out)
    assert [int(r["编号"]) for r in rows] == [w["person"].pk]
    row = rows[0]
    assert row["姓名"] == "张*" and row["身份证号"] == "110105********002X" and row["联系电话"] == "139****5678"
    assert row["出生日期"] == "1949-**-**" and row["性别"] == "女" and row["与户主关系"] == "户主"
    assert not any(column.startswith(("特殊", "风险", "关怀", "情况")) for column in rows[0])
    text = out.read_text(encoding="utf-8-sig")
    assert "张三" not in text and ID_NUMBER not in text and PHONE not in text and "王五" not in text
    event = AuditEvent.objects.get(action="people.person.export")
    assert event.event_type == EventType.EXPORT and event.actor == user and event.area == w["chain"]["town"].code
    assert event.data | {"reason": ""} == {
        "area": w["chain"]["town"].code,
        "format": "csv",
        "persons": 1,
        "special_care_records": 0,
        "include_special_care": False,
        "unmasked": False,
        "reason": "",
    }


def test_an_area_outside_the_scope_is_refused_and_nothing_is_written(w, tmp_path):
    user = exporter(w)
    out = tmp_path / "persons.xlsx"
    events = AuditEvent.objects.count()
    for area in (w["other_town"], w["chain"]["county"]):
        with pytest.raises(CommandError, match=area.code):  # "area … is outside the areas you hold a role over"
            export(out, user, area)
    assert not out.exists() and AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("args", "perms", "message"),
    [
        (["--unmasked", "--reason", "核对"], [], "people.unmask_person"),
        (["--unmasked"], ["people.unmask_person"], "--reason"),
        (["--include-special-care"], ["people.view_specialcare"], "people.export_specialcare"),
        (["--include-special-care"], ["people.export_specialcare"], "people.view_specialcare"),
    ],
)
def test_unmasking_or_special_care_without_the_permission_or_reason_is_refused(w, tmp_path, args, perms, message):
    user = exporter(w, *perms)
    out = tmp_path / "persons.csv"
    events = AuditEvent.objects.count()
    with pytest.raises(CommandError, match=message):
        export(out, user, w["chain"]["town"], *args)
    assert not out.exists() and AuditEvent.objects.count() == events


def test_no_role_may_export_special_care_by_default():
    from fengqiao.accounts.roles import ROLE_PERMISSIONS

    assert not any("people.export_specialcare" in perms for perms in ROLE_PERMISSIONS.values())


def test_centre_staff_export_masked_but_not_special_care(w, tmp_path):
    """Centre staff hold view and unmask through their role group, but not export_specialcare."""
    staff = w["actors"]["this_town"]
    with pytest.raises(PermissionDenied, match=r"people\.export_specialcare"):
        exports.export_people(actor=staff, area=w["chain"]["town"], include_special_care=True)
    result = exports.export_people(actor=staff, area=w["chain"]["village"])
    assert result.persons == 1 and result.masked


def test_special_care_columns_with_both_permissions_and_an_unmasked_export_that_reads_back_in(w, tmp_path):
    user = exporter(
        w, "people.view_specialcare", "people.export_specialcare", "people.unmask_person", username="care-exporter"
    )
    out = tmp_path / "persons.xlsx"
    export(out, user, w["chain"]["village"], "--include-special-care", "--unmasked", "--reason", "来电13912345678")
    sheet = openpyxl.load_workbook(out).active
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    row = dict(zip(header, rows[0], strict=True))
    assert row["姓名"] == "张三" and row["身份证号"] == ID_NUMBER and row["联系电话"] == PHONE
    assert row["特殊人群类别"] == "严重精神障碍患者" and row["风险等级"] == 2 and row["情况说明"] == "每月随访"
    event = AuditEvent.objects.get(action="people.person.export")
    assert event.data["unmasked"] and event.data["include_special_care"] and event.data["special_care_records"] == 1
    assert event.data["reason"] == "来电139****5678" and "13912345678" not in event.summary
    # the plaintext export has the import's columns: importing it again changes nothing
    w["identity_conflict"].person.delete()  # the world's twin at the city would make the ID number ambiguous
    report = import_xlsx(out, kind="persons", actor="test")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 1)
    assert Person.objects.filter(id_number_hash=w["person"].id_number_hash).count() == 1


def test_bad_command_input_is_named(w, tmp_path):
    user = exporter(w)
    town = w["chain"]["town"]
    for args, message in [
        (["--user", "nobody", "--area", town.code, "--out", str(tmp_path / "a.csv")], "--user"),
        (["--user", user.username, "--area", "999999999999", "--out", str(tmp_path / "a.csv")], "--area"),
        (["--user", user.username, "--area", town.code, "--out", str(tmp_path / "a.txt")], "xlsx"),
        (["--user", user.username, "--area", town.code, "--out", str(tmp_path / "no" / "a.csv")], "--out"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("people", "export", *args)
    inactive = exporter(w, username="gone")
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    with pytest.raises(CommandError, match=r"--user: .*gone"):
        export(tmp_path / "a.csv", inactive, town)
    assert list(tmp_path.iterdir()) == []


def test_a_value_a_spreadsheet_would_run_is_quoted(w, tmp_path):
    make_person(w["chain"]["village"], name="=HYPERLINK(1)", id_number="", phone="")
    user = exporter(w, "people.unmask_person")
    out = tmp_path / "persons.csv"
    export(out, user, w["chain"]["village"], "--unmasked", "--reason", "核对")
    assert "'=HYPERLINK(1)" in [r["姓名"] for r in read_csv(out)]
