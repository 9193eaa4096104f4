"""FixMyStreet's servicerequestupdates: a client's POSTed update is a step of the engine (supplement or reopen),
retries are safe, personal data stays out of every GET, and bad updates are refused in the error format."""

import datetime
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest
from django.db import connection
from django.utils import timezone

from fengqiao.audit.models import AuditEvent
from fengqiao.matters.models import MatterEvent
from fengqiao.matters.tests.builders import PATHS, run_steps, submit
from fengqiao.notifications.models import Notification
from fengqiao.open311 import services, updates
from fengqiao.open311.models import ServiceRequestUpdate
from fengqiao.open311.tests.builders import BASE, form, post_request
from fengqiao.open311.tests.wire import both, check_json, check_xml

FORM = "application/x-www-form-urlencoded; charset=utf-8"
PERSONAL = ("王小明", "xiaoming@example.org", "13900139000")


def update_fields(w, matter, **extra):
    """What FixMyStreet's Open311.pm posts for a comment (jurisdiction_id and api_key always)."""
    return {
        "jurisdiction_id": "fengqiao.example.org",
        "api_key": w["key"],
        "update_id": "fms-comment-7",
        "service_request_id": str(matter.pk),
        "status": "OPEN",
        "updated_datetime": "2026-11-25T10:00:00+08:00",
        "description": "灯杆在村口第三根，编号 017",
        "first_name": "小明",
        "last_name": "王",
        "email": "xiaoming@example.org",
        "phone": "13900139000",
        "media_url": "https://fms.example.org/photo/c/7.0.jpeg",
        **extra,
    }


def post_update(client, fmt, fields, **headers):
    url = f"{BASE}/servicerequestupdates.{fmt}"
    return client.post(url, urlencode(fields, doseq=True), content_type=FORM, **headers)


def request_in(w, state):
    return run_steps(w, post_request(w).matter, PATHS[state])


def written():
    return (ServiceRequestUpdate.objects.count(), MatterEvent.objects.count(), AuditEvent.objects.count())


def test_an_answer_to_a_request_waiting_for_the_reporter_is_the_engines_supplement_step(client, w, schemas):
    matter = request_in(w, "waiting")
    answer = post_update(client, "xml", update_fields(w, matter))
    assert answer.status_code == 200, answer.content.decode()
    body = check_xml(answer, schemas, "update-posted.json")
    # FixMyStreet reads service_request_updates/request_update[0]/update_id
    assert ET.fromstring(answer.content).find("request_update/update_id").text == body[0]["update_id"]

    matter.refresh_from_db()
    assert matter.state == "in_progress"
    event = MatterEvent.objects.get(pk=body[0]["update_id"])
    assert event.matter == matter and event.action == "supplement" and event.public
    assert event.reason == "灯杆在村口第三根，编号 017" and event.actor_label == "reporter"
    update = ServiceRequestUpdate.objects.get(event=event)
    assert update.update_id == "fms-comment-7" and update.status == "OPEN" and update.api_key == w["api_key"]
    assert update.author_name == "王小明" and update.email == "xiaoming@example.org" and update.phone == "13900139000"
    assert update.client_updated_at == datetime.datetime(2026, 11, 25, 2, 0, tzinfo=datetime.UTC)
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT author_name, email, phone FROM open311_servicerequestupdate WHERE id = %s", [update.pk])
        assert not any(value in str(cursor.fetchone()) for value in PERSONAL)
    assert AuditEvent.objects.filter(action="matter.supplement", object_id=str(matter.pk)).count() == 1
    received = AuditEvent.objects.get(action="open311.update_received")
    assert received.actor_label == f"open311 client fixmystreet ({w['api_key'].prefix})"
    assert not any(value in str(received.data) for value in PERSONAL)


def test_a_posted_update_is_listed_by_get_without_its_text_or_author(client, w, schemas):
    matter = request_in(w, "waiting")
    posted = check_json(post_update(client, "json", update_fields(w, matter)), schemas, "update-posted.json")
    listed = both(client, schemas, f"{BASE}/servicerequestupdates", "updates.json")
    mine = [u for u in listed if u["update_id"] == posted[0]["update_id"]]
    assert len(mine) == 1 and mine[0]["status"] == "IN_PROGRESS" and mine[0]["service_request_id"] == str(matter.pk)
    for url in ("servicerequestupdates", f"requests/{matter.pk}", "requests"):
        for fmt in ("xml", "json"):
            text = client.get(f"{BASE}/{url}.{fmt}", {"extensions": "true"}).content.decode()
            for value in (*PERSONAL, "编号 017", "7.0.jpeg"):
                assert value not in text, (url, fmt, value)


def test_the_same_update_again_answers_the_first_and_writes_nothing(client, w, schemas):
    matter = request_in(w, "waiting")
    first = check_json(post_update(client, "json", update_fields(w, matter)), schemas, "update-posted.json")
    before = written()
    again = check_xml(post_update(client, "xml", update_fields(w, matter)), schemas, "update-posted.json")
    assert again == first and written() == before


def test_an_unsatisfied_update_after_the_reply_reopens_the_request(client, w, schemas):
    matter = request_in(w, "replied")
    fields = update_fields(w, matter, status="reopen", description="灯还是不亮")
    body = check_json(post_update(client, "json", fields), schemas, "update-posted.json")
    matter.refresh_from_db()
    assert matter.state == "accepted" and matter.reopened == 1 and matter.rating == "unsatisfied"
    assert MatterEvent.objects.get(pk=body[0]["update_id"]).action == "reopen"
    listed = both(client, schemas, f"{BASE}/servicerequestupdates", "updates.json")
    assert listed[-1]["status"] == "REOPEN"


def test_the_engines_reopen_limit_holds_for_updates_too(client, w, schemas, settings):
    settings.FENGQIAO_MAX_REOPEN = 0
    matter = request_in(w, "replied")
    before = written()
    answer = post_update(client, "json", update_fields(w, matter, status="OPEN"), HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400
    assert "reopened 0 times already" in check_json(answer, schemas, "errors.json")[0]["description"]
    assert written() == before
    matter.refresh_from_db()
    assert matter.state == "replied"


def other_key(w):
    return {"api_key": services.create_key(actor="test", name="another-app")[1]}


def closed_request(w):
    closing = PATHS["replied"] + [("revisit", "centre", {"rating": "satisfied"})]  # no signed-in reporter to rate
    matter = run_steps(w, post_request(w, description="另一盏灯").matter, closing)
    return {"service_request_id": str(matter.pk)}


def used_update_id(w):
    """The same update_id was posted (through the service) for another request first."""
    other = run_steps(w, post_request(w, description="另一盏灯").matter, PATHS["waiting"])
    fields = update_fields(w, other, update_id="fms-comment-7")
    updates.post_update(api_key=w["api_key"], data=form(**fields))
    return {}


BAD = [
    ("no key", lambda w: {"api_key": ""}, 403, "api_key"),
    ("another client's key", other_key, 403, "not submitted with this api_key"),
    ("no request id", lambda w: {"service_request_id": ""}, 400, "service_request_id"),
    ("unknown request", lambda w: {"service_request_id": "999999"}, 404, "999999"),
    ("not published", lambda w: {"service_request_id": str(submit(w).pk)}, 404, "no service request"),
    ("no update id", lambda w: {"update_id": ""}, 400, "update_id"),
    ("update id too long", lambda w: {"update_id": "x" * 101}, 400, "update_id"),
    ("update id of another request", used_update_id, 400, "already used"),
    ("no status", lambda w: {"status": ""}, 400, "status"),
    ("unknown status", lambda w: {"status": "DONE"}, 400, "REOPEN"),
    ("no time", lambda w: {"updated_datetime": ""}, 400, "updated_datetime"),
    ("not a time", lambda w: {"updated_datetime": "yesterday"}, 400, "updated_datetime"),
    ("no description", lambda w: {"description": ""}, 400, "description"),
    ("only markup", lambda w: {"description": "<p><br></p>"}, 400, "description"),
    ("markup left", lambda w: {"description": "灯<b"}, 400, "markup"),
    ("description too long", lambda w: {"description": "长" * 4001}, 400, "description"),
    ("media_url not http", lambda w: {"media_url": "javascript:alert(1)"}, 400, "media_url"),
    ("bad e-mail", lambda w: {"email": "xiaoming at example"}, 400, "email"),
    ("bad phone", lambda w: {"phone": "12"}, 400, "phone"),
    ("jurisdiction", lambda w: {"jurisdiction_id": "other.example.org"}, 404, "jurisdiction_id"),
    ("closed", closed_request, 400, "takes no update now"),
]


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("name,change,status,words", BAD, ids=[b[0] for b in BAD])
def test_a_bad_update_is_refused_in_the_error_format_and_writes_nothing(
    client, w, schemas, settings, fmt, name, change, status, words
):
    settings.OPEN311_JURISDICTION_ID = "fengqiao.example.org"
    matter = request_in(w, "waiting")
    fields = update_fields(w, matter) | change(w)
    before = written()
    answer = post_update(client, fmt, fields, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == status, answer.content.decode()
    body = (check_xml if fmt == "xml" else check_json)(answer, schemas, "errors.json")
    assert body[0]["code"] == status and words in " ".join(e["description"] for e in body), body
    assert written() == before
    matter.refresh_from_db()
    assert matter.state == "waiting"


@pytest.mark.parametrize(("state", "status"), [("replied", "FIXED"), ("in_progress", "OPEN"), ("submitted", "OPEN")])
def test_a_plain_comment_is_the_engines_comment_step_and_changes_no_state(client, w, schemas, state, status):
    matter = request_in(w, state)
    notified = Notification.objects.count()
    answer = post_update(client, "json", update_fields(w, matter, status=status), HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 200, answer.content.decode()
    check_json(answer, schemas, "update-posted.json")
    matter.refresh_from_db()
    assert matter.state == state
    event = matter.events.order_by("-id").first()
    assert event.action == "comment" and event.actor is None and event.public
    assert Notification.objects.count() > notified  # the unit (or the centre) is told


def test_updates_since_a_time_in_both_formats(client, w, schemas):
    matter = request_in(w, "in_progress")
    now = timezone.localtime()
    since = both(client, schemas, f"{BASE}/servicerequestupdates", "updates.json", {"start_date": now.isoformat()})
    assert since == []
    earlier = (now - datetime.timedelta(hours=1)).isoformat()
    later = (now + datetime.timedelta(hours=1)).isoformat()
    body = both(
        client,
        schemas,
        f"{BASE}/servicerequestupdates",
        "updates.json",
        {"start_date": earlier, "end_date": later, "api_key": w["key"], "jurisdiction_id": "x"},
    )
    assert [u["external_status_code"] for u in body] == ["submitted", "accepted", "dispatched", "in_progress"]
    assert {u["service_request_id"] for u in body} == {str(matter.pk)}
