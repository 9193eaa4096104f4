"""Every kind of refusal of the door answers in the standard error format (JSON and XML) with its status, and its
description is wholly in the client's language: Chinese by default, English with Accept-Language: en."""

import re
from urllib.parse import urlencode

import pytest

from fengqiao.audit.models import AuditEvent
from fengqiao.matters.models import Matter, MatterEvent
from fengqiao.matters.tests.builders import PATHS, run_steps
from fengqiao.open311.models import ServiceRequest, ServiceRequestUpdate
from fengqiao.open311.tests.builders import BASE, post_request
from fengqiao.open311.tests.wire import check_json, check_xml

FORM = "application/x-www-form-urlencoded; charset=utf-8"
CJK = re.compile("[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def written():
    models = (Matter, MatterEvent, ServiceRequest, ServiceRequestUpdate, AuditEvent)
    return [model.objects.count() for model in models]


def get(path, params=None):
    return lambda client, w, fmt, headers: client.get(f"{BASE}/{path}.{fmt}", params or {}, **headers)


def post(path, fields):
    def send(client, w, fmt, headers):
        return client.post(f"{BASE}/{path}.{fmt}", urlencode(fields(w), doseq=True), content_type=FORM, **headers)

    send.prepare = fields  # builds what the fields refer to (before the test counts the rows)
    return send


def lamp(w, **extra):
    return {"api_key": w["key"], "service_code": "E-lamp", "lat": "23.705", "long": "113.505", **extra}


# Closed by the centre's revisit: a request made through a key has no signed-in reporter to rate it.
STEPS = {"closed": PATHS["replied"] + [("revisit", "centre", {"rating": "satisfied"})]}


def update(state, **extra):
    """The fields of an update to a request in `state` (made on the first call)."""

    def fields(w):
        if ("matter", state) not in w:
            w["matter", state] = run_steps(w, post_request(w).matter, STEPS.get(state) or PATHS[state])
        matter = w["matter", state]
        return {
            "api_key": w["key"],
            "service_request_id": str(matter.pk),
            "update_id": "c-1",
            "status": "OPEN",
            "updated_datetime": "2026-11-25T10:00:00Z",
            "description": "still broken",
            **extra,
        }

    return fields


def json_body(client, w, fmt, headers):
    body = '{"service_code": "E-lamp"}'
    return client.post(f"{BASE}/requests.{fmt}", body, content_type="application/json", **headers)


def many_fields_post(client, w, fmt, headers):
    body = urlencode(lamp(w) | {f"attribute[a{i}]": "x" for i in range(20)})
    return client.post(f"{BASE}/requests.{fmt}", body, content_type=FORM, **headers)


CASES = [
    ("method", lambda c, w, fmt, h: c.delete(f"{BASE}/services.{fmt}", **h), 405, {}),
    ("unknown endpoint", get("nothing"), 404, {}),
    ("unknown service", get("services/nothing"), 404, {}),
    ("jurisdiction", get("services", {"jurisdiction_id": "other.example.org"}), 404, {}),
    ("bad start_date", get("requests", {"start_date": "yesterday"}), 400, {}),
    ("range over 90 days", get("requests", {"start_date": "2024-01-01", "end_date": "2024-06-01"}), 400, {}),
    ("bad flag", get("requests", {"extensions": "maybe"}), 400, {}),
    ("bad page", get("requests", {"page": "0"}), 400, {}),
    ("unknown request", get("requests/999999"), 404, {}),
    ("unknown token", get("tokens/nothing"), 404, {}),
    ("bad update range", get("servicerequestupdates", {"end_date": "x"}), 400, {}),
    ("no key", post("requests", lambda w: lamp(w, api_key="")), 403, {}),
    ("invalid key", post("requests", lambda w: lamp(w, api_key="o311_dead_beef")), 403, {}),
    ("json body", json_body, 400, {}),
    ("no service_code", post("requests", lambda w: lamp(w, service_code="")), 400, {}),
    ("missing attribute", post("requests", lambda w: lamp(w, service_code="E-waste")), 400, {}),
    ("bad phone (the loop's check)", post("requests", lambda w: lamp(w, phone="12")), 400, {}),
    ("outside China", post("requests", lambda w: lamp(w, lat="51.5", long="-0.1")), 400, {}),
    ("markup left", post("requests", lambda w: lamp(w, description="x <b")), 400, {}),
    ("update not taken now", post("servicerequestupdates", update("closed")), 400, {}),
    ("update of an unknown status", post("servicerequestupdates", update("waiting", status="DONE")), 400, {}),
    (
        "reopen limit (the engine's refusal)",
        post("servicerequestupdates", update("replied")),
        400,
        {"FENGQIAO_MAX_REOPEN": 0},
    ),
    ("body too large", post("requests", lambda w: lamp(w, description="x" * 3000)), 413, {}),
    ("too many parameters (query)", get("requests", {f"p{i}": "1" for i in range(20)}), 400, {}),
    ("too many parameters (form)", many_fields_post, 400, {}),
]


@pytest.mark.parametrize("name,call,status,extra_settings", CASES, ids=[c[0] for c in CASES])
def test_every_refusal_is_in_the_error_format_and_in_one_language(
    client, w, schemas, settings, name, call, status, extra_settings
):
    settings.OPEN311_JURISDICTION_ID = "fengqiao.example.org"
    settings.OPEN311_MAX_BODY_BYTES = 2048
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 15
    for key, value in extra_settings.items():
        setattr(settings, key, value)
    if hasattr(call, "prepare"):
        call.prepare(w)
    before = written()
    for fmt in ("xml", "json"):
        chinese = call(client, w, fmt, {})
        english = call(client, w, fmt, {"HTTP_ACCEPT_LANGUAGE": "en"})
        for answer, language in ((chinese, "zh-hans"), (english, "en")):
            assert answer.status_code == status, (fmt, language, answer.content.decode())
            assert answer["Content-Language"] == language
            body = (check_xml if fmt == "xml" else check_json)(answer, schemas, "errors.json")
            assert all(e["code"] == status for e in body)
            text = " ".join(e["description"] for e in body)
            if language == "en":
                assert not CJK.search(text), text
            else:
                assert CJK.search(text) and not re.search(r"\b(is|are|must|the|not|no|too)\b", text), text
    assert written() == before


def test_the_body_limit_is_named_in_the_413(client, w, schemas, settings):
    settings.OPEN311_MAX_BODY_BYTES = 1024
    fields = lamp(w, description="x" * 2000)
    answer = client.post(f"{BASE}/requests.json", urlencode(fields), content_type=FORM, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 413
    description = check_json(answer, schemas, "errors.json")[0]["description"]
    assert "at most 1024 bytes (1 KiB)" in description and str(len(urlencode(fields))) in description


def test_the_parameter_limit_is_named(client, w, schemas, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 15
    answer = client.get(f"{BASE}/requests.xml", {f"p{i}": "1" for i in range(20)}, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400
    assert "at most 15" in check_xml(answer, schemas, "errors.json")[0]["description"]


def test_too_many_requests_is_429_in_both_languages(client, w, schemas, settings):
    settings.OPEN311_RATE_PER_ADDRESS = 1
    assert client.get(f"{BASE}/services.json").status_code == 200
    chinese = client.get(f"{BASE}/services.xml")
    english = client.get(f"{BASE}/services.json", HTTP_ACCEPT_LANGUAGE="en")
    assert chinese.status_code == english.status_code == 429 and chinese["Retry-After"] == "60"
    assert CJK.search(check_xml(chinese, schemas, "errors.json")[0]["description"])
    assert "too many requests" in check_json(english, schemas, "errors.json")[0]["description"]


def test_several_problems_come_back_as_several_errors(client, w, schemas):
    fields = lamp(w, service_code="E-waste", **{"attribute[count]": "many"})
    answer = client.post(f"{BASE}/requests.xml", urlencode(fields), content_type=FORM, HTTP_ACCEPT_LANGUAGE="en")
    body = check_xml(answer, schemas, "errors.json")
    assert answer.status_code == 400 and len(body) == 2
    assert {e["description"] for e in body} == {"attribute[kind] is required", "attribute[count] must be a number"}
