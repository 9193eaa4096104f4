"""The GET endpoints, each in JSON and XML, validated against the official schemas (tests/wire.py)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fengqiao.matters import engine
from fengqiao.matters.tests.builders import OUTSIDE_POINT, PATHS, run_steps, submit
from fengqiao.open311.tests.builders import BASE, post_request
from fengqiao.open311.tests.wire import both, check_json, check_xml

PERSONAL = ("欧阳", "娜娜", "13800138000", "nana@example.org", "device-77", "account-42")


def assert_nothing_personal(response):
    text = response.content.decode("utf-8")
    for value in PERSONAL:
        assert value not in text, f"{value} in {response.request['PATH_INFO']}"


def test_discovery_in_both_formats(client, w, schemas):
    body = both(client, schemas, f"{BASE}/discovery", "discovery.json")
    endpoint = body["endpoints"][0]
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]


def test_services_are_the_active_public_leaves_of_the_category_tree(client, w, schemas):
    body = both(client, schemas, f"{BASE}/services", "services.json")
    ours = {s["service_code"]: s for s in body if s["service_code"][:2] in {"E", "E-", "M-", "D-"}}
    assert list(ours) == ["E-lamp", "E-waste", "M-road"]  # not the group E, the inactive E-old, the dispute D-1
    lamp = ours["E-lamp"]
    assert lamp["group"] == "环境卫生" and lamp["service_name"] == "路灯不亮"
    assert lamp["metadata"] is True and lamp["type"] == "realtime"
    assert ours["M-road"]["group"] is None


def test_service_definitions_have_the_common_and_the_inherited_attributes(client, w, schemas):
    waste = both(client, schemas, f"{BASE}/services/E-waste", "service-definition.json")
    assert [a["code"] for a in waste["attributes"]] == ["title", "urgency", "kind", "count"]
    assert [a["order"] for a in waste["attributes"]] == [1, 2, 3, 4]
    kind = waste["attributes"][2]
    assert kind["required"] is True and kind["datatype"] == "singlevaluelist"
    assert kind["values"] == [{"key": "household", "name": "生活垃圾"}, {"key": "building", "name": "建筑垃圾"}]
    lamp = both(client, schemas, f"{BASE}/services/E-lamp", "service-definition.json")
    assert [a["code"] for a in lamp["attributes"]] == ["title", "urgency", "count"]


@pytest.mark.parametrize("code", ["E", "E-old", "D-1", "nothing"])
def test_a_code_that_is_not_a_service_is_404_in_the_error_format(client, w, schemas, code):
    body = both(client, schemas, f"{BASE}/services/{code}", "errors.json", status=404)
    assert body[0]["code"] == 404 and code in body[0]["description"]


def test_requests_list_only_published_matters_without_personal_data(client, w, schemas):
    first = post_request(w, device_id="device-77", account_id="account-42")
    second = post_request(w, service_code="M-road", description="路面塌陷", lat=OUTSIDE_POINT[1], long=OUTSIDE_POINT[0])
    submit(w, title="12345 record")  # another channel: not published
    body = both(client, schemas, f"{BASE}/requests", "requests.json")
    assert [r["service_request_id"] for r in body] == [str(second.matter.pk), str(first.matter.pk)]
    request = body[1]
    assert request["status"] == "open" and request["service_code"] == "E-lamp"
    assert request["lat"] == pytest.approx(23.705) and request["long"] == pytest.approx(113.505)
    assert request["expected_datetime"] is not None
    for url in (f"{BASE}/requests.json", f"{BASE}/requests.xml"):
        assert_nothing_personal(client.get(url, {"extensions": "true"}))


def test_one_request_is_a_one_element_array(client, w, schemas):
    code = str(post_request(w).matter.pk)
    body = both(client, schemas, f"{BASE}/requests/{code}", "requests.json")
    assert len(body) == 1 and body[0]["service_request_id"] == code
    assert both(client, schemas, f"{BASE}/requests/{code.lower()}", "requests.json") == body
    both(client, schemas, f"{BASE}/requests/FQ0000000000", "errors.json", status=404)
    other = submit(w)  # not published: as if it did not exist
    both(client, schemas, f"{BASE}/requests/{other.pk!s}", "errors.json", status=404)


def test_extensions_add_the_richer_state_and_the_public_timeline(client, w, schemas):
    matter = post_request(w, media_url=["https://img.example.org/1.jpg", "https://img.example.org/2.jpg"]).matter
    run_steps(w, matter, PATHS["dispatched"])
    body = both(client, schemas, f"{BASE}/requests/{matter.pk!s}", "requests.json", {"extensions": "true"})
    request = body[0]
    assert request["status"] == "open" and request["media_url"] == "https://img.example.org/1.jpg"
    extended = request["extended_attributes"]
    assert extended["state"] == "dispatched" and extended["extended_status"] == "ACTION_SCHEDULED"
    assert extended["channel"] == "open311" and len(extended["photos"]) == 2
    assert [n["type"] for n in request["notes"]] == ["submit", "accept", "dispatch"]
    assert "extended_attributes" not in both(client, schemas, f"{BASE}/requests/{matter.pk!s}", "requests.json")[0]


def test_a_terminal_matter_is_closed(client, w, schemas):
    matter = post_request(w).matter
    engine.perform(matter, "decline", actor=w["centre"], payload={"reason": "不属于受理范围"})
    body = both(client, schemas, f"{BASE}/requests/{matter.pk!s}", "requests.json", {"extensions": "true"})
    assert body[0]["status"] == "closed" and body[0]["expected_datetime"] is None
    assert body[0]["extended_attributes"]["extended_status"] == "NO_FURTHER_ACTION"


def test_request_filters(client, w, schemas):
    lamp = post_request(w).matter
    road = post_request(w, service_code="M-road", description="路面塌陷").matter
    engine.perform(road, "decline", actor=w["centre"], payload={"reason": "重复"})

    def codes(**params):
        return [r["service_request_id"] for r in both(client, schemas, f"{BASE}/requests", "requests.json", params)]

    assert codes(service_code="E-lamp") == [str(lamp.pk)]
    assert codes(service_code="E-lamp,M-road") == [str(road.pk), str(lamp.pk)]
    assert codes(status="open") == [str(lamp.pk)]
    assert codes(status="closed") == [str(road.pk)]
    assert codes(status="open,closed", service_code="") == [str(road.pk), str(lamp.pk)]
    # service_request_id overrides every other filter
    assert codes(service_request_id=f"{lamp.pk!s}, {road.pk!s}", status="closed") == [
        str(road.pk),
        str(lamp.pk),
    ]
    now = timezone.localtime()
    day = datetime.timedelta(days=1)
    assert codes(start_date=(now - day).isoformat(), end_date=(now + day).isoformat()) == codes()
    assert codes(start_date=(now + day).isoformat()) == []
    assert codes(end_date=(now - day).isoformat()) == []
    assert codes(page_size="1") == [str(road.pk)]
    assert codes(page_size="1", page="2") == [str(lamp.pk)]
    assert codes(page_size="1", page="3") == []


@pytest.mark.parametrize(
    "params,status,words",
    [
        ({"start_date": "2024-01-01T00:00:00+08:00", "end_date": "2024-06-01T00:00:00+08:00"}, 400, "90 days"),
        ({"start_date": "2024-02-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"}, 400, "before"),
        ({"start_date": "yesterday"}, 400, "start_date"),
        ({"status": "pending"}, 400, "status"),
        ({"service_code": "nothing"}, 404, "nothing"),
        ({"page_size": "1001"}, 400, "page_size"),
        ({"page": "0"}, 400, "page"),
        ({"extensions": "maybe"}, 400, "extensions"),
    ],
)
def test_bad_request_filters_are_named(client, w, schemas, params, status, words):
    body = both(client, schemas, f"{BASE}/requests", "errors.json", params, status=status, HTTP_ACCEPT_LANGUAGE="en")
    assert body[0]["code"] == status and words in body[0]["description"]


def test_an_unencoded_plus_of_a_timezone_still_parses(client, w, schemas):
    post_request(w)
    start = (timezone.localtime() - datetime.timedelta(days=1)).replace(microsecond=0).isoformat()
    answer = client.get(f"{BASE}/requests.json?start_date={start}")  # "+08:00" arrives as " 08:00"
    assert len(check_json(answer, schemas, "requests.json")) == 1


def test_a_token_gives_the_request_id(client, w, schemas):
    request = post_request(w)
    body = both(client, schemas, f"{BASE}/tokens/{request.token}", "token.json")
    assert body == [{"service_request_id": str(request.matter.pk), "token": request.token}]
    both(client, schemas, f"{BASE}/tokens/nope", "errors.json", status=404)


def test_service_request_updates_follow_the_public_timeline(client, w, schemas):
    matter = post_request(w).matter
    run_steps(w, matter, PATHS["in_progress"])
    engine.perform(matter, "note", actor=w["centre"], reason="内部备注：联系了施工队")  # not public
    body = both(client, schemas, f"{BASE}/servicerequestupdates", "updates.json")
    assert [u["status"] for u in body] == ["OPEN", "INVESTIGATING", "ACTION_SCHEDULED", "IN_PROGRESS"]
    assert {u["service_request_id"] for u in body} == {str(matter.pk)}
    assert all("内部备注" not in u["description"] for u in body)
    later = (timezone.localtime() + datetime.timedelta(days=1)).isoformat()
    assert both(client, schemas, f"{BASE}/servicerequestupdates", "updates.json", {"start_date": later}) == []
    both(client, schemas, f"{BASE}/servicerequestupdates", "errors.json", {"end_date": "x"}, status=400)


def test_unknown_urls_and_methods_answer_in_the_error_format(client, w, schemas):
    check_xml(client.get(f"{BASE}/nothing.xml"), schemas, "errors.json")
    assert client.get(f"{BASE}/services.csv").status_code == 404
    assert check_json(client.get(f"{BASE}/nothing.json"), schemas, "errors.json")[0]["code"] == 404
    answer = client.delete(f"{BASE}/services.json")
    assert answer.status_code == 405 and check_json(answer, schemas, "errors.json")


def test_the_request_list_costs_the_same_queries_for_one_or_many(client, w):
    post_request(w)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"{BASE}/requests.json", {"extensions": "true"}).status_code == 200
        return len(queries)

    one = count()
    for i in range(4):
        post_request(w, description=f"第{i}盏灯")
    assert count() == one


@pytest.mark.parametrize("code", ["²", "١٢"])  # digits to str.isdigit, but no ASCII number
def test_a_request_id_of_other_digits_is_404_not_a_server_error(client, w, schemas, code):
    body = both(client, schemas, f"{BASE}/requests/{code}", "errors.json", status=404)
    assert body[0]["code"] == 404
