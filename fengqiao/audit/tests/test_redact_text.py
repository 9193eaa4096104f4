"""Free text bound for the audit trail (a reason, a note) is masked wherever it looks like a phone or ID number."""

import pytest

from fengqiao.audit.redact import redact_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("核实身份，电话13912345678", "核实身份，电话139****5678"),
        ("请回电 +86 139-1234-5678。", "请回电 139****5678。"),
        ("0086 13912345678", "139****5678"),
        ("139 1234 5678 本人", "139****5678 本人"),
        ("身份证11010519491231002x号", "身份证110105********002X号"),
        ("ID 11010519491231002X, phone 13800001111", "ID 110105********002X, phone 138****1111"),
        ("座机020-87654321", "座机020*****4321"),
        ("座机(0763)4212345", "座机076****2345"),
    ],
)
def test_phone_and_id_numbers_in_free_text_are_masked(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "上门走访，了解情况",
        "案件编号 20261125123045",  # 14 digits: neither a phone nor an ID number
        "2026-11-25 10:00",
        "区划 441821101201",
        "订单 1391234567890",  # 13 digits
    ],
)
def test_text_without_such_numbers_is_left_alone(text):
    assert redact_text(text) == text


def test_non_text_passes_through():
    assert redact_text(None) is None
