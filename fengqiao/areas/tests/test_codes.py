import pytest

from fengqiao.areas.codes import CodeError, Level, check_parent, level_of, parent_candidates
from fengqiao.areas.services import short_name_of


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("440000000000", Level.PROVINCE),
        ("441800000000", Level.CITY),
        ("441821000000", Level.COUNTY),
        ("441821101000", Level.TOWN),
        ("441900003000", Level.TOWN),  # Dongguan: a town straight under the city
        ("441821101201", Level.VILLAGE),
        ("441821101201001", Level.GROUP),
    ],
)
def test_level_is_implied_by_the_code(code, level):
    assert level_of(code) == level


@pytest.mark.parametrize(
    "code",
    ["44182110120", "4418211012011", "44182110120X", "", None, "000000000000", "441821000201", "441821101201000"],
)
def test_malformed_codes_are_rejected(code):
    with pytest.raises(CodeError):
        level_of(code)


def test_towns_of_cities_without_counties_have_the_city_as_parent():
    assert parent_candidates("441900003000") == ["441900000000"]
    assert parent_candidates("441821101000") == ["441821000000"]
    assert parent_candidates("441821101201") == ["441821101000"]


def test_parent_must_share_the_prefix_and_sit_above():
    check_parent("441821101000", "441821000000")
    with pytest.raises(CodeError, match="prefix"):
        check_parent("441821101000", "441822000000")
    with pytest.raises(CodeError, match="not above"):
        check_parent("441821000000", "441821101000")
    with pytest.raises(CodeError, match="cannot be the parent"):
        check_parent("441821101000", "441800000000")  # skips the county that exists for 佛冈
    with pytest.raises(CodeError, match="needs a parent"):
        check_parent("441821101000", None)


@pytest.mark.parametrize(
    ("name", "level", "short"),
    [
        ("汤塘镇", Level.TOWN, "汤塘"),
        ("荔湾区", Level.COUNTY, "荔湾"),
        ("翠洲社区居民委员会", Level.VILLAGE, "翠洲"),
        ("汤塘村委会", Level.VILLAGE, "汤塘"),
        ("沙面街道", Level.TOWN, "沙面"),
        ("乡", Level.TOWN, "乡"),
    ],
)
def test_short_names_drop_the_administrative_suffix(name, level, short):
    assert short_name_of(name, level) == short
