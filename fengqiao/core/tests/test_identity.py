import datetime

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from fengqiao.core.identity import IdentityError, check_digit, normalise_phone, parse_id_number


def make_id(region="441821", birth="19800101", seq="123"):
    first = region + birth + seq
    return first + check_digit(first)


def test_a_valid_number_gives_birth_date_and_sex():
    info = parse_id_number(make_id(seq="123"))
    assert info.birth_date == datetime.date(1980, 1, 1)
    assert info.sex == "male"
    assert info.region_code == "441821"
    assert parse_id_number(make_id(seq="124")).sex == "female"


def test_the_published_example_number_validates():
    # GB 11643 example: 11010519491231002X
    info = parse_id_number("11010519491231002x")
    assert info.number == "11010519491231002X"
    assert info.birth_date == datetime.date(1949, 12, 31)
    assert info.sex == "female"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("4418211980010112", "18 characters"),
        ("44182119800230123X", "not a date"),
        (make_id(birth="20991231"), "impossible"),
        ("001821198001011234", "not a Chinese division code"),
        (make_id()[:-1] + ("0" if make_id()[-1] != "0" else "1"), "check digit"),
        ("", "18 characters"),
        (None, "18 characters"),
    ],
)
def test_invalid_numbers_are_refused_with_the_reason(value, message):
    with translation.override("en"), pytest.raises(IdentityError, match=message):
        parse_id_number(value)


@given(st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2020, 12, 31)), st.integers(0, 999))
def test_any_single_digit_typo_is_caught(birth, seq):
    number = make_id(birth=birth.strftime("%Y%m%d"), seq=f"{seq:03d}")
    assert parse_id_number(number).birth_date == birth
    for pos in range(17):
        digit = (int(number[pos]) + 1) % 10
        typo = number[:pos] + str(digit) + number[pos + 1 :]
        with pytest.raises(IdentityError):
            parse_id_number(typo)


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("138 1234 5678", "13812345678"),
        ("+86 13812345678", "13812345678"),
        ("0086-138-1234-5678", "13812345678"),
        ("0763-4212345", "0763-4212345"),
        ("(020)83001234", "02083001234"),
    ],
)
def test_phone_numbers_are_normalised(value, normal):
    assert normalise_phone(value) == normal


@pytest.mark.parametrize("value", ["12812345678", "1381234567", "110", "abc", ""])
def test_impossible_phone_numbers_are_refused(value):
    with translation.override("en"), pytest.raises(IdentityError, match="neither a mobile"):
        normalise_phone(value)


def test_the_reasons_are_given_in_chinese_by_default():
    with translation.override("zh-hans"), pytest.raises(IdentityError, match="校验位"):
        parse_id_number(make_id()[:-1] + ("0" if make_id()[-1] != "0" else "1"))


def test_errors_never_repeat_the_value():
    for func, value in [(normalise_phone, "12812345678"), (parse_id_number, "44182120990101123X")]:
        with pytest.raises(IdentityError) as exc:
            func(value)
        assert value not in str(exc.value) and value[6:14] not in str(exc.value)
