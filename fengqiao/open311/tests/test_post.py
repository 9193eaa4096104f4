"""POST /requests: a FixMyStreet-like client flow, idempotent retries, and bad input that writes nothing."""

from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest
from django.db import connection

from fengqiao.audit.models import AuditEvent
from fengqiao.matters.models import Matter
from fengqiao.matters.tests.builders import GRID_POINT, OUTSIDE_POINT
from fengqiao.open311 import services
from fengqiao.open311.models import ServiceRequest
from fengqiao.open311.tests.builders import BASE
from fengqiao.open311.tests.wire import both, check_json, check_xml

FORM = "application/x-www-form-urlencoded; charset=utf-8"


def fms_fields(w, **extra):
    """What FixMyStreet's Open311.pm sends (jurisdiction_id always; several media_url; its own attributes)."""
    return {
        "jurisdiction_id": "fengqiao.example.org",
        "api_key": w["key"],
        "service_code": "E-lamp",
        "lat": GRID_POINT[1],
        "long": GRID_POINT[0],
        "description": "村口路灯坏了三天",
        "first_name": "娜娜",
        "last_name": "欧阳",
        "email": "nana@example.org",
        "phone": "13800138000",
        "attribute[fixmystreet_id]": "1234",
        "attribute[title]": "村口路灯不亮",
        "media_url": ["https://fms.example.org/photo/1234.0.jpeg", "https://fms.example.org/photo/1234.1.jpeg"],
        **extra,
    }


def post(client, fmt, fields, **headers):
    return client.post(f"{BASE}/requests.{fmt}", urlencode(fields, doseq=True), content_type=FORM, **headers)


def written():
    return (Matter.objects.count(), ServiceRequest.objects.count(), AuditEvent.objects.count())


def test_a_fixmystreet_like_client_posts_in_xml_polls_the_token_and_reads_the_request(client, w, schemas):
    answer = post(client, "xml", fms_fields(w))
    assert answer.status_code == 200, answer.content
    created = check_xml(answer, schemas, "token.json")[0]
    # the client parses service_requests/request with XML only
    root = ET.fromstring(answer.content)
    assert root.find("request/token").text == created["token"]
    polled = check_xml(
        client.get(f"{BASE}/tokens/{created['token']}.xml", {"jurisdiction_id": "x"}), schemas, "token.json"
    )
    assert polled[0]["service_request_id"] == created["service_request_id"]
    got = check_xml(client.get(f"{BASE}/requests/{polled[0]['service_request_id']}.xml"), schemas, "requests.json")
    assert got[0]["status"] == "open" and got[0]["service_code"] == "E-lamp"
    assert got[0]["media_url"] == "https://fms.example.org/photo/1234.0.jpeg"

    matter = Matter.objects.get(pk=created["service_request_id"])
    assert matter.channel == "open311" and matter.title == "村口路灯不亮" and matter.grid == w["grid"]
    assert matter.reporter_name == "欧阳娜娜" and matter.reporter_phone == "13800138000"
    extra = matter.open311_request
    assert extra.email == "nana@example.org" and len(extra.media_urls) == 2
    assert extra.attributes["fixmystreet_id"] == "1234" and extra.api_key == w["api_key"]
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT email FROM open311_servicerequest WHERE id = %s", [extra.pk])
        assert "nana" not in cursor.fetchone()[0]
    event = AuditEvent.objects.get(action="matter.submit", object_id=str(matter.pk))
    assert event.actor_label == f"open311 client fixmystreet ({w['api_key'].prefix})"
    w["api_key"].refresh_from_db()
    assert w["api_key"].last_used_at is not None


def test_the_same_post_again_is_the_same_request(client, w, schemas):
    first = check_json(post(client, "json", fms_fields(w)), schemas, "token.json")
    before = written()
    again = check_json(post(client, "json", fms_fields(w)), schemas, "token.json")
    assert again == first and written() == before
    other = check_json(post(client, "json", fms_fields(w, description="另一盏灯")), schemas, "token.json")
    assert other[0]["service_request_id"] != first[0]["service_request_id"]


def test_the_account_id_comes_back_from_the_post_only(client, w, schemas):
    body = check_json(post(client, "json", fms_fields(w, account_id="account-42")), schemas, "token.json")
    assert body[0]["account_id"] == "account-42"
    code = body[0]["service_request_id"]
    assert "account-42" not in client.get(f"{BASE}/requests/{code}.json", {"extensions": "true"}).content.decode()


@pytest.mark.parametrize(
    "location",
    [
        {"lat": OUTSIDE_POINT[1], "long": OUTSIDE_POINT[0]},
        {"lat": "", "long": "", "address_string": "汤塘镇汤塘村村口"},
        {"lat": "", "long": "", "address_id": "#NOTPINPOINTED#"},
    ],
    ids=["outside every grid", "address only", "address id only"],
)
def test_a_location_outside_every_grid_or_without_coordinates_is_taken_and_flagged(client, w, schemas, location):
    body = check_json(post(client, "json", fms_fields(w, **location)), schemas, "token.json")
    matter = Matter.objects.get(pk=body[0]["service_request_id"])
    assert matter.needs_triage and matter.grid is None


def test_a_required_list_attribute_and_a_number(client, w, schemas):
    fields = fms_fields(w, service_code="E-waste", **{"attribute[kind]": "building", "attribute[count]": "3"})
    body = check_json(post(client, "json", fields), schemas, "token.json")
    extra = ServiceRequest.objects.get(matter_id=body[0]["service_request_id"])
    assert extra.attributes["kind"] == "building" and extra.attributes["count"] == "3"


def revoke(w):
    services.revoke_key(actor="test", api_key=w["api_key"])
    return {}


BAD = [
    ("no key", lambda w: {"api_key": ""}, 403, "api_key"),
    ("wrong key", lambda w: {"api_key": "o311_deadbeef_nothing"}, 403, "invalid"),
    ("revoked key", revoke, 403, "revoked"),
    ("unknown service", lambda w: {"service_code": "nothing"}, 404, "nothing"),
    ("inactive service", lambda w: {"service_code": "E-old"}, 404, "E-old"),
    ("no service", lambda w: {"service_code": ""}, 400, "service_code"),
    ("no location", lambda w: {"lat": "", "long": ""}, 400, "location"),
    ("lat without long", lambda w: {"long": ""}, 400, "both lat and long"),
    ("lat not a number", lambda w: {"lat": "north"}, 400, "numbers"),
    ("lat out of range", lambda w: {"lat": "123"}, 400, "from -90 to 90"),
    ("lat and long swapped", lambda w: {"lat": "80.1", "long": "40.2"}, 400, "swapped"),  # Kashgar
    ("outside China", lambda w: {"lat": "51.5", "long": "-0.12"}, 400, "outside China"),
    ("missing required attribute", lambda w: {"service_code": "E-waste"}, 400, "attribute[kind]"),
    ("unknown list key", lambda w: {"service_code": "E-waste", "attribute[kind]": "gold"}, 400, "gold"),
    ("not a number", lambda w: {"attribute[count]": "many"}, 400, "attribute[count]"),
    ("media_url not http", lambda w: {"media_url": "javascript:alert(1)"}, 400, "media_url"),
    ("bad e-mail", lambda w: {"email": "nana at example"}, 400, "email"),
    ("bad phone", lambda w: {"phone": "12"}, 400, "phone"),
    ("description too long", lambda w: {"description": "长" * 4001}, 400, "description"),
    ("jurisdiction", lambda w: {"jurisdiction_id": "other.example.org"}, 404, "jurisdiction_id"),
]


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("name,change,status,words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_in_the_error_format_and_writes_nothing(
    client, w, schemas, settings, fmt, name, change, status, words
):
    settings.OPEN311_JURISDICTION_ID = "fengqiao.example.org"
    fields = fms_fields(w) | change(w)
    before = written()
    answer = post(client, fmt, fields, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == status, answer.content.decode()
    body = (check_xml if fmt == "xml" else check_json)(answer, schemas, "errors.json")
    assert body[0]["code"] == status and words in " ".join(e["description"] for e in body), body
    assert written() == before


def test_too_large_a_body_is_413_and_writes_nothing(client, w, schemas, settings):
    settings.OPEN311_MAX_BODY_BYTES = 2048
    before = written()
    answer = post(client, "xml", fms_fields(w, description="长" * 1000))
    assert answer.status_code == 413
    assert check_xml(answer, schemas, "errors.json")[0]["code"] == 413
    assert written() == before


def test_a_json_body_is_refused(client, w, schemas):
    before = written()
    answer = client.post(f"{BASE}/requests.json", {"api_key": w["key"]}, content_type="application/json")
    assert (
        answer.status_code == 400
        and "x-www-form-urlencoded" in check_json(answer, schemas, "errors.json")[0]["description"]
    )
    assert written() == before


def test_too_many_posts_with_one_key_is_429_and_writes_nothing(client, w, schemas, settings):
    settings.OPEN311_RATE_PER_KEY = 2
    for i in range(2):
        assert post(client, "json", fms_fields(w, description=f"第{i}盏")).status_code == 200
    before = written()
    answer = post(client, "json", fms_fields(w, description="第三盏"))
    assert answer.status_code == 429 and answer["Retry-After"] == "60"
    assert check_json(answer, schemas, "errors.json")[0]["code"] == 429
    assert written() == before
    other_key = services.create_key(actor="test", name="other")[1]
    assert post(client, "json", fms_fields(w, api_key=other_key, description="第三盏")).status_code == 200


def test_too_many_requests_from_one_address_is_429(client, w, schemas, settings):
    settings.OPEN311_RATE_PER_ADDRESS = 3
    for _i in range(3):
        assert client.get(f"{BASE}/services.xml").status_code == 200
    both(client, schemas, f"{BASE}/services", "errors.json", status=429)
    before = written()
    assert post(client, "xml", fms_fields(w)).status_code == 429
    assert written() == before
    assert client.get(f"{BASE}/services.xml", REMOTE_ADDR="10.0.0.9").status_code == 200


def test_personal_data_is_in_no_get_body(client, w):
    created = post(client, "json", fms_fields(w, device_id="device-77", account_id="account-42")).json()[0]
    code, token = created["service_request_id"], created["token"]
    urls = [
        "requests",
        f"requests/{code}",
        f"tokens/{token}",
        "servicerequestupdates",
        "services",
        "services/E-lamp",
        "discovery",
    ]
    for url in urls:
        for fmt in ("xml", "json"):
            text = client.get(f"{BASE}/{url}.{fmt}", {"extensions": "true"}).content.decode()
            for value in ("欧阳", "娜娜", "13800138000", "nana@example.org", "device-77", "account-42"):
                assert value not in text, (url, fmt, value)
