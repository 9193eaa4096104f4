"""The checker itself refuses what a careless server would send (so a green test means something)."""

import json

import pytest
from django.http import HttpResponse

from fengqiao.open311.formats import to_xml
from fengqiao.open311.tests.wire import check_json, check_xml

GOOD = {
    "service_request_id": "FQ1",
    "status": "open",
    "service_code": "001",
    "requested_datetime": "2024-01-01T08:00:00+08:00",
}


def xml(text):
    return HttpResponse(text.encode(), content_type="text/xml; charset=utf-8")


def json_(text):
    return HttpResponse(text.encode(), content_type="application/json; charset=utf-8")


def test_a_valid_request_passes_in_both_formats(schemas):
    check_json(
        json_(
            '[{"service_request_id": "FQ1", "status": "open", "service_code": "001", '
            '"requested_datetime": "2024-01-01T08:00:00+08:00", "lat": 23.7}]'
        ),
        schemas,
        "requests.json",
    )
    body = check_xml(xml(to_xml("service_requests", [GOOD | {"lat": 23.7}])), schemas, "requests.json")
    assert body == [GOOD | {"lat": 23.7}]


@pytest.mark.parametrize(
    "body",
    [
        [GOOD | {"service_request_id": 1}],
        [GOOD | {"status": "OPEN"}],
        [GOOD | {"requested_datetime": "2024-01-01 00:00"}],
        [{k: v for k, v in GOOD.items() if k != "requested_datetime"}],
        GOOD,
    ],
    ids=["numeric id", "upper-case status", "no timezone", "no requested_datetime", "not an array"],
)
def test_json_the_schema_refuses(schemas, body):
    with pytest.raises(AssertionError):
        check_json(json_(json.dumps(body)), schemas, "requests.json")


@pytest.mark.parametrize(
    "text",
    [
        "<service_requests><request><service_request_id>1</service_request_id></request></service_requests>",
        '<?xml version="1.0" encoding="utf-8"?><services xmlns="urn:x"><service/></services>',
        '<?xml version="1.0" encoding="utf-8"?><services><service><service_code>1</service_code>'
        "<service_name>a</service_name><metadata>True</metadata><type>realtime</type></service></services>",
        '<?xml version="1.0" encoding="utf-8"?><services><item><service_code>1</service_code></item></services>',
    ],
    ids=["no declaration", "namespace", "boolean spelt True", "wrong item element"],
)
def test_xml_the_checker_refuses(schemas, text):
    with pytest.raises(AssertionError):
        check_xml(xml(text), schemas, "services.json")
