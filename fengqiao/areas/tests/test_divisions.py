import datetime

import pytest
from django.core.management import CommandError, call_command

from fengqiao.areas.codes import Level
from fengqiao.areas.divisions import DivisionImportError, import_division_files
from fengqiao.areas.models import Area, AreaChange, DivisionEdition
from fengqiao.audit.models import AuditEvent

HEADER = (
    "province_code,province_name,city_code,city_name,county_code,county_name,town_code,town_name,"
    "village_code,village_name,urban_rural_code\n"
)
P = "440000000000,广东省,441800000000,清远市,441821000000,佛冈县"


def write(tmp_path, text, name="divisions_2022.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes((HEADER + text).encode(encoding))
    return path


SMALL = (
    f"{P},441821101000,汤塘镇,441821101201,汤塘村委会,220\n"
    f"{P},441821101000,汤塘镇,441821101202,新塘村委会,220\n"
    f"{P},441821102000,石角镇,441821102001,石角社区居委会,121\n"
)


@pytest.mark.django_db
def test_small_edition_builds_the_tree_with_paths_and_history(tmp_path):
    report = import_division_files([write(tmp_path, SMALL)], actor="test", edition="2022")
    assert report.created == 8
    village = Area.objects.get(code="441821101201")
    assert village.level == Level.VILLAGE
    assert village.short_name == "汤塘"
    assert village.urban_rural_code == "220"
    assert village.valid_from == datetime.date(2022, 6, 30)
    assert village.path == "440000000000/441800000000/441821000000/441821101000/441821101201/"
    assert [a.code for a in village.ancestors()] == village.ancestor_codes()
    assert AreaChange.objects.filter(kind="created").count() == 8
    assert AuditEvent.objects.filter(action="areas.import_divisions").count() == 1


@pytest.mark.django_db
def test_gbk_encoded_csv_is_read(tmp_path):
    import_division_files([write(tmp_path, SMALL, encoding="gbk")], actor="test", edition="2022")
    assert Area.objects.get(code="441821101000").name == "汤塘镇"


@pytest.mark.django_db
def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_written(tmp_path):
    bad = (
        f"{P},441821101000,汤塘镇,441821101201,汤塘村委会,220\n"
        f"{P},441821101000,汤塘镇,44182110120,短代码,220\n"  # line 3: 11 digits
        f"{P},441822101000,错前缀镇,441822101201,某村,220\n"  # line 4: town prefix is another county's
        f"{P},441821101000,汤塘镇,441821101202,,220\n"  # line 5: empty name
        f"{P},441821101000,汤塘镇,441821101203,某村,999\n"  # line 6: bad urban-rural code
        f"{P},441821101000,唐塘镇,441821101204,某村,220\n"  # line 7: same code, other name
        f"{P},441821101201,汤塘村委会,441821101205,某村,220\n"  # line 8: a village code in the town column
    )
    with pytest.raises(DivisionImportError) as exc:
        import_division_files([write(tmp_path, bad)], actor="test", edition="2022")
    message = str(exc.value)
    for line in (3, 4, 5, 6, 7, 8):
        assert f"line {line}:" in message
    assert "line 2:" not in message
    assert Area.objects.count() == 0
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_a_file_in_neither_utf8_nor_gbk_is_refused(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(HEADER.encode() + b"\xff\xfe\xfa\x80\x81 broken\n")
    with pytest.raises(DivisionImportError, match=r"broken.csv: line 2: neither UTF-8 nor GBK"):
        import_division_files([path], actor="test", edition="2022")


@pytest.mark.django_db
def test_a_spreadsheet_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "divisions.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(DivisionImportError, match="spreadsheet, not CSV"):
        import_division_files([path], actor="test", edition="2022")


@pytest.mark.django_db
def test_reimport_is_idempotent(tmp_path):
    path = write(tmp_path, SMALL)
    import_division_files([path], actor="test", edition="2022")
    report = import_division_files([path], actor="test", edition="2022")
    assert (report.created, report.changed, report.retired, report.unchanged) == (0, 0, 0, 8)
    assert AreaChange.objects.count() == 8


@pytest.mark.django_db
def test_next_edition_retires_renames_and_revives(tmp_path):
    import_division_files([write(tmp_path, SMALL)], actor="test", edition="2022")
    group = Area.objects.create(
        code="441821101201001",
        name="第一村民小组",
        level=Level.GROUP,
        parent=Area.objects.get(code="441821101201"),
        path="440000000000/441800000000/441821000000/441821101000/441821101201/441821101201001/",
        valid_from=datetime.date(2022, 6, 30),
        edition="manual",
    )
    edition_2023 = f"{P},441821102000,石角镇,441821101201,汤塘村委会,220\n"  # not allowed: prefix — see below
    with pytest.raises(DivisionImportError, match="prefix"):
        import_division_files([write(tmp_path, edition_2023, "d2023.csv")], actor="test", edition="2023")

    edition_2023 = (
        f"{P},441821101000,汤塘镇,441821101201,汤塘村民委员会,220\n"  # renamed
        f"{P},441821102000,石角镇,441821102001,石角社区居委会,111\n"  # reclassified
    )  # 441821101202 vanished
    report = import_division_files([write(tmp_path, edition_2023, "d2023.csv")], actor="test", edition="2023")
    assert (report.changed, report.retired, report.unchanged) == (2, 1, 5)
    gone = Area.objects.get(code="441821101202")
    assert gone.valid_to == datetime.date(2023, 6, 30)
    assert Area.objects.current().filter(code="441821101202").count() == 0
    assert Area.objects.get(code="441821101201").name == "汤塘村民委员会"
    assert Area.objects.get(code="441821102001").urban_rural_code == "111"
    group.refresh_from_db()
    assert group.valid_to is None, "villager groups are not part of statistical editions"
    change = AreaChange.objects.get(area__code="441821101201", kind="changed")
    assert change.before == {"name": "汤塘村委会"} and change.after == {"name": "汤塘村民委员会"}

    report = import_division_files([write(tmp_path, SMALL, "d2024.csv")], actor="test", edition="2024")
    assert report.revived == 1
    assert Area.objects.get(code="441821101202").valid_to is None
    assert AreaChange.objects.filter(area__code="441821101202").values_list("kind", flat=True).count() == 3


@pytest.mark.django_db
def test_importing_one_city_does_not_retire_another(tmp_path):
    import_division_files([write(tmp_path, SMALL)], actor="test", edition="2022")
    other = "440000000000,广东省,441900000000,东莞市,,,441900003000,东城街道,,,\n"
    report = import_division_files([write(tmp_path, other, "dg.csv")], actor="test", edition="2022")
    assert report.retired == 0
    assert Area.objects.current().count() == 10
    assert Area.objects.get(code="441900003000").parent.code == "441900000000"


@pytest.mark.django_db
def test_command_takes_the_edition_from_the_file_name(tmp_path, capsys):
    call_command("import_divisions", str(write(tmp_path, SMALL, "villages_2021.csv")))
    assert "divisions edition 2021: 8 areas" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--edition"):
        call_command("import_divisions", str(write(tmp_path, SMALL, "villages.csv")))


@pytest.mark.django_db
@pytest.mark.slow
def test_the_real_guangdong_files_load_completely_and_idempotently(shared_data):
    files = [
        shared_data / "divisions" / "guangdong_villages_2022.csv",
        shared_data / "divisions" / "guangdong_dongguan_zhongshan_towns_2022.csv",
    ]
    report = import_division_files(files, actor="test", edition="2022")
    counts = {Level(k).name: v for k, v in report.by_level.items()}
    assert counts == {"PROVINCE": 1, "CITY": 21, "COUNTY": 122, "TOWN": 1759, "VILLAGE": 25902}
    assert report.created == Area.objects.count() == 27805
    assert Area.objects.get(code="441900003000").parent.code == "441900000000"  # 东莞 东城街道
    assert Area.objects.filter(code__startswith="4418", level=Level.COUNTY).count() == 8  # 清远's counties
    again = import_division_files(files, actor="test", edition="2022")
    assert (again.created, again.changed, again.retired, again.unchanged) == (0, 0, 0, 27805)


OTHER_COUNTY = "440000000000,广东省,441800000000,清远市,441802000000,清城区"


@pytest.mark.django_db
def test_importing_one_county_does_not_retire_the_rest_of_its_city(tmp_path):
    both = SMALL + f"{OTHER_COUNTY},441802001000,凤城街道,441802001001,某社区居委会,111\n"
    import_division_files([write(tmp_path, both)], actor="test", edition="2022")
    report = import_division_files([write(tmp_path, SMALL, "fogang_2022.csv")], actor="test", edition="2022")
    assert report.retired == 0
    assert Area.objects.get(code="441802001001").valid_to is None


@pytest.mark.django_db
def test_retire_within_the_province_retires_a_vanished_county(tmp_path):
    both = SMALL + f"{OTHER_COUNTY},441802001000,凤城街道,441802001001,某社区居委会,111\n"
    import_division_files([write(tmp_path, both)], actor="test", edition="2022")
    report = import_division_files(
        [write(tmp_path, SMALL, "d2023.csv")], actor="test", edition="2023", retire_within=["440000000000"]
    )
    assert report.retired == 3  # 清城区, its street and its community
    assert Area.objects.current().filter(code__startswith="441802").count() == 0
    assert Area.objects.get(code="440000000000").valid_to is None
    with pytest.raises(DivisionImportError, match="--retire-within 449999000000: no such area"):
        import_division_files([write(tmp_path, SMALL)], actor="test", edition="2024", retire_within=["449999000000"])


@pytest.mark.django_db
def test_villager_groups_are_retired_with_their_village(tmp_path):
    import_division_files([write(tmp_path, SMALL)], actor="test", edition="2022")
    village = Area.objects.get(code="441821101202")
    group = Area.objects.create(
        code="441821101202001",
        name="第一村民小组",
        level=Level.GROUP,
        parent=village,
        path=village.path + "441821101202001/",
        valid_from=datetime.date(2022, 7, 1),
        edition="manual",
    )
    without = SMALL.replace(f"{P},441821101000,汤塘镇,441821101202,新塘村委会,220\n", "")
    report = import_division_files([write(tmp_path, without, "d2023.csv")], actor="test", edition="2023")
    assert report.retired == 2
    group.refresh_from_db()
    assert group.valid_to == datetime.date(2023, 6, 30)


@pytest.mark.django_db
def test_an_older_edition_is_refused_unless_forced_and_never_ends_before_it_began(tmp_path):
    newer = SMALL + f"{P},441821102000,石角镇,441821102999,新设社区居委会,111\n"
    import_division_files([write(tmp_path, newer, "d2025.csv")], actor="test", edition="2025")
    with pytest.raises(DivisionImportError, match="older than edition 2025"):
        import_division_files([write(tmp_path, SMALL, "d2022.csv")], actor="test", edition="2022")
    assert Area.objects.current().count() == 9

    report = import_division_files([write(tmp_path, SMALL, "d2022.csv")], actor="test", edition="2022", force=True)
    assert report.retired == 1
    gone = Area.objects.get(code="441821102999")
    assert gone.valid_to >= gone.valid_from == datetime.date(2025, 6, 30)
    editions = list(DivisionEdition.objects.order_by("id").values_list("label", "forced"))
    assert editions == [("2025", False), ("2022", True)]


@pytest.mark.django_db
def test_each_area_is_counted_once_when_revived_and_renamed(tmp_path):
    import_division_files([write(tmp_path, SMALL)], actor="test", edition="2022")
    without = SMALL.replace(f"{P},441821101000,汤塘镇,441821101202,新塘村委会,220\n", "")
    import_division_files([write(tmp_path, without, "d2023.csv")], actor="test", edition="2023")
    renamed_back = SMALL.replace("新塘村委会", "新塘村民委员会")
    report = import_division_files([write(tmp_path, renamed_back, "d2024.csv")], actor="test", edition="2024")
    assert (report.revived, report.changed, report.unchanged, report.retired) == (1, 0, 7, 0)
    assert report.revived + report.changed + report.unchanged == report.total
    kinds = sorted(AreaChange.objects.filter(area__code="441821101202", edition="2024").values_list("kind", flat=True))
    assert kinds == ["changed", "revived"]


@pytest.mark.django_db
def test_an_empty_file_and_a_file_without_code_columns_are_explained(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER)
    with pytest.raises(DivisionImportError, match=r"empty\.csv: no data rows"):
        import_division_files([empty], actor="test", edition="2022")
    other = tmp_path / "other.csv"
    other.write_text("id,title\n1,x\n")
    with pytest.raises(
        DivisionImportError, match=r"other\.csv: line 1: no division code columns; expected .*province_code"
    ):
        import_division_files([other], actor="test", edition="2022")
    assert Area.objects.count() == 0
