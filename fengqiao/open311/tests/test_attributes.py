"""The answers to a service's questions (attributes): checked on POST by datatype, list and requirement, stored
as plain text, and returned by the extended GET of the request (the defined ones only, redacted)."""

import pytest

from fengqiao.open311.models import ServiceAttribute
from fengqiao.open311.tests.builders import BASE, post_request
from fengqiao.open311.tests.wire import both


@pytest.fixture
def asks(w):
    """路灯 asks more: which parts (several of a list), since when (datetime), details (text), the pole number
    (string) and shows a notice (informational)."""
    lamp = w["lamp"]
    rows = [
        ("parts", "multivaluelist", {"options": "bulb=灯泡\npole=灯杆\nwire=电线"}),
        ("since", "datetime", {}),
        ("details", "text", {}),
        ("pole", "string", {}),
        ("notice", "string", {"variable": False}),
    ]
    for order, (code, datatype, extra) in enumerate(rows, start=10):
        ServiceAttribute.objects.create(
            category=lamp, code=code, datatype=datatype, description=f"问题 {code}", order=order, **extra
        )
    return w


def attribute_fields(**values):
    return {f"attribute[{code}]": value for code, value in values.items()}


def test_every_datatype_is_checked_and_stored_clean(asks):
    request = post_request(
        asks,
        **attribute_fields(
            parts=["bulb", "wire", "bulb"],
            since="2026-11-20T19:00:00+08:00",
            details="第一行\n第二行",
            pole="  杆\n017  ",
            notice="ignored",
            fixmystreet_id="1234",
        ),
    )
    assert request.attributes == {
        "parts": ["bulb", "wire"],
        "since": "2026-11-20T19:00:00+08:00",
        "details": "第一行\n第二行",
        "pole": "杆 017",
        "fixmystreet_id": "1234",
    }


@pytest.mark.parametrize(
    "values,problem",
    [
        ({"parts": ["bulb", "gold"]}, "attribute[parts]: unknown key gold"),
        ({"since": "last week"}, "attribute[since] must be an ISO 8601 date and time"),
        ({"count": "3", "pole": ["1", "2"]}, "attribute[pole] takes one value"),
        ({"title": "长" * 201}, "attribute[title] is too long (at most 200 characters)"),
        ({"urgency": "whenever"}, "attribute[urgency]: unknown key whenever"),
        ({"details": "<b"}, "attribute[details] contains markup that cannot be removed; send plain text"),
    ],
)
def test_a_wrong_answer_is_refused_naming_the_attribute(asks, values, problem):
    from django.utils import translation

    from fengqiao.open311.services import Refused

    with translation.override("en"), pytest.raises(Refused) as refused:
        post_request(asks, **attribute_fields(**values))
    assert refused.value.status == 400 and problem in refused.value.messages


def test_the_extended_get_returns_the_answers_to_the_defined_questions(client, w, schemas):
    request = post_request(
        w,
        service_code="E-waste",
        **attribute_fields(
            title="垃圾堆在路口，联系 13800138000", kind="building", count="3", fixmystreet_id="1234", last_name="欧阳"
        ),
    )
    url = f"{BASE}/requests/{request.matter.pk}"
    body = both(client, schemas, url, "requests.json", {"extensions": "true"})[0]
    assert body["attributes"] == [
        {"code": "title", "label": "问题的简短标题", "value": "垃圾堆在路口，联系 138****8000",
         "name": "垃圾堆在路口，联系 138****8000"},
        {"code": "kind", "label": "什么垃圾？", "value": "building", "name": "建筑垃圾"},
        {"code": "count", "label": "几处？", "value": "3", "name": "3"},
    ]  # fmt: skip
    assert "attributes" not in both(client, schemas, url, "requests.json")[0]
    listed = both(client, schemas, f"{BASE}/requests", "requests.json", {"extensions": "true"})
    assert listed[0]["attributes"] == body["attributes"]
