"""The loop through /api/v1/: intake (JSON, photos, idempotent tokens), transitions and their refusals, photos,
the reporter's contact, and the citizen's tracking page and rating."""

import io

import pytest
from PIL import Image

from fengqiao.api.tests.helpers import client_for
from fengqiao.audit.models import AuditEvent
from fengqiao.matters.models import Attachment, Matter, MatterEvent
from fengqiao.matters.tests.builders import GRID_POINT, OUTSIDE_POINT, matter_world

URL = "/api/v1/matters/"


@pytest.fixture
def w(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return matter_world() | {"media": tmp_path}


def jpeg(color=(200, 30, 30), size=(64, 48)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    buffer.seek(0)
    buffer.name = "photo.jpg"
    return buffer


def intake(client, **extra):
    body = {"channel": "patrol", "title": "井盖缺失", "lon": GRID_POINT[0], "lat": GRID_POINT[1], **extra}
    return client.post(URL, body, format="json")


def step(client, matter_id, action, **payload):
    return client.post(f"{URL}{matter_id}/transition/", {"action": action, **payload}, format="json")


def test_intake_places_the_matter_and_a_token_makes_it_idempotent(w):
    client = client_for(w["gridder"])
    first = intake(client, client_token="abc-123")
    assert first.status_code == 201, first.content
    assert first.data["grid"] == w["grid"].pk
    assert first.data["handling_area"] == w["chain"]["town"].code
    again = intake(client, client_token="abc-123")
    assert again.status_code == 200 and again.data["id"] == first.data["id"]
    assert Matter.objects.count() == 1


def test_a_point_outside_every_grid_is_accepted_for_triage(w):
    response = intake(client_for(w["gridder"]), lon=OUTSIDE_POINT[0], lat=OUTSIDE_POINT[1])
    assert response.status_code == 201, response.content
    assert response.data["needs_triage"] is True


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"category": "NOPE"}, "category"),
        ({"lon": 113.5, "lat": None}, "location"),
        ({"title": "", "description": ""}, "title"),
        ({"channel": "fax"}, "channel"),
        ({"anonymous": True, "reporter_phone": "13800138000"}, "anonymous"),
        ({"reporter_phone": "12345"}, "reporter_phone"),
    ],
)
def test_bad_intake_is_a_400_naming_the_field_and_writes_nothing(w, extra, field):
    audit = AuditEvent.objects.count()
    response = intake(client_for(w["gridder"]), **extra)
    assert response.status_code == 400, response.content
    assert field in response.data
    assert Matter.objects.count() == 0 and AuditEvent.objects.count() == audit


def test_photos_are_checked_by_content(w):
    client = client_for(w["gridder"])
    fake = io.BytesIO(b"<html>not a photo</html>")
    fake.name = "photo.jpg"
    response = client.post(URL, {"channel": "patrol", "title": "x", "photos": [fake]}, format="multipart")
    assert response.status_code == 400 and "photos" in response.data
    body = {"channel": "patrol", "title": "x", "lon": GRID_POINT[0], "lat": GRID_POINT[1], "photos": [jpeg()]}
    response = client.post(URL, body, format="multipart")
    assert response.status_code == 201, response.content
    photo = Attachment.objects.get()
    served = client.get(f"{URL}{response.data['id']}/photos/{photo.pk}/")
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert served.content[:2] == b"\xff\xd8"
    stored = (w["media"] / photo.blob).read_bytes()
    assert stored[:2] != b"\xff\xd8" and served.content not in stored  # encrypted at rest


def test_the_loop_through_the_api_and_the_citizen_rates_it(w):
    matter_id = intake(client_for(w["gridder"]), reporter_name="欧阳娜娜", reporter_phone="13800138000").data["id"]
    centre, worker = client_for(w["centre"]), client_for(w["worker"])
    assert step(centre, matter_id, "accept").status_code == 200
    assert step(worker, matter_id, "acknowledge").status_code == 409  # not dispatched yet
    response = step(centre, matter_id, "dispatch", targets=[{"department": w["dept"].pk}])
    assert response.status_code == 200, response.content
    actions = {a["action"] for a in worker.get(f"{URL}{matter_id}/actions/").data}
    assert {"acknowledge", "return"} <= actions
    assert step(client_for(w["town_worker"]), matter_id, "acknowledge").status_code == 403
    assert step(worker, matter_id, "acknowledge").status_code == 200
    refused = step(worker, matter_id, "handle")
    assert refused.status_code == 400 and refused.data["field"] == "result"
    assert step(worker, matter_id, "handle", result="已补装井盖").status_code == 200
    assert step(centre, matter_id, "verify").status_code == 200
    assert step(centre, matter_id, "reply", reply="已处理").status_code == 200
    detail = centre.get(f"{URL}{matter_id}/").data
    assert detail["reporter_phone"] == "138****8000"
    code = detail["tracking_code"]
    public = client_for()
    tracking = public.get(f"/api/v1/track/{code}/")
    assert tracking.status_code == 200 and tracking.data["can_rate"] is True
    assert "13800138000" not in tracking.content.decode()
    reopened = public.post(
        f"/api/v1/track/{code}/rating/", {"rating": "unsatisfied", "comment": "没修好"}, format="json"
    )
    assert reopened.status_code == 200 and reopened.data["state"] == "accepted"
    assert Matter.objects.get(pk=matter_id).reopened == 1


def test_reporter_contact_needs_a_reason_and_is_audited(w):
    matter_id = intake(client_for(w["gridder"]), reporter_name="欧阳娜娜", reporter_phone="13800138000").data["id"]
    centre = client_for(w["centre"])
    assert centre.post(f"{URL}{matter_id}/reporter/", {"reason": ""}, format="json").status_code == 400
    response = centre.post(f"{URL}{matter_id}/reporter/", {"reason": "回访核实"}, format="json")
    assert response.status_code == 200 and response.data["phone"] == "13800138000"
    assert AuditEvent.objects.filter(action="matter.reporter.unmask").count() == 1
    assert (
        client_for(w["worker"]).post(f"{URL}{matter_id}/reporter/", {"reason": "x"}, format="json").status_code == 403
    )


def test_out_of_scope_matters_are_not_found(w):
    matter_id = intake(client_for(w["gridder"])).data["id"]
    other = client_for(w["other_centre"])
    assert other.get(f"{URL}{matter_id}/").status_code == 404
    assert step(other, matter_id, "accept").status_code == 404
    assert MatterEvent.objects.filter(matter_id=matter_id).count() == 1


def test_the_intake_answer_has_the_shape_of_a_list_row(w):
    from fengqiao.api.matters import MatterListSerializer

    client = client_for(w["gridder"])
    created = intake(client, client_token="shape-1").data
    listed = next(row for row in client.get(URL).data["results"] if row["id"] == created["id"])
    assert created == dict(MatterListSerializer(Matter.objects.get(pk=created["id"])).data) == listed


def test_rotating_the_keys_re_encrypts_the_photos(w, monkeypatch, capsys):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from fengqiao.core import crypto
    from fengqiao.matters import attachments

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    crypto.reset_key_cache()
    monkeypatch.setenv("FENGQIAO_FIELD_KEYS", old)
    try:
        body = {"channel": "patrol", "title": "x", "lon": GRID_POINT[0], "lat": GRID_POINT[1], "photos": [jpeg()]}
        assert client_for(w["gridder"]).post(URL, body, format="multipart").status_code == 201
        photo = Attachment.objects.get()
        original = attachments.load(photo)
        crypto.reset_key_cache()
        monkeypatch.setenv("FENGQIAO_FIELD_KEYS", f"{new},{old}")
        call_command("rotate_keys")
        assert "encrypted files: 2" in capsys.readouterr().out
        crypto.reset_key_cache()
        monkeypatch.setenv("FENGQIAO_FIELD_KEYS", new)  # the old key is gone
        assert attachments.load(photo) == original
        assert attachments.load(photo, thumbnail=True)[:2] == b"\xff\xd8"
    finally:
        crypto.reset_key_cache()


def test_a_location_contradicting_the_given_area_is_refused(w):
    from fengqiao.areas.tests.factories import make_area

    neighbour = make_area("441821101299", "邻村", parent=w["chain"]["town"])
    response = intake(client_for(w["centre"]), area=neighbour.code)  # the point lies in the grid of another village
    assert response.status_code == 400 and "area" in response.data
    assert Matter.objects.count() == 0


def test_only_the_unit_at_work_or_the_centre_adds_photos(w):
    from fengqiao.matters.engine import perform

    matter_id = intake(client_for(w["gridder"])).data["id"]
    matter = Matter.objects.get(pk=matter_id)
    perform(matter, "accept", actor=w["centre"])
    perform(matter, "dispatch", actor=w["centre"], payload={"targets": [{"department": w["town_dept"].pk}]})
    url = f"{URL}{matter_id}/photos/"
    assert client_for(w["worker"]).post(url, {"photo": jpeg()}, format="multipart").status_code == 403
    assert Attachment.objects.count() == 0
    assert client_for(w["town_worker"]).post(url, {"photo": jpeg()}, format="multipart").status_code == 201
    assert client_for(w["centre"]).post(url, {"photo": jpeg()}, format="multipart").status_code == 201


def test_a_task_is_changed_by_its_unit_or_manager_and_its_deadline_by_the_manager_only(w):
    import datetime

    from django.core.exceptions import PermissionDenied
    from django.utils import timezone

    from fengqiao.accounts.scope import Scope
    from fengqiao.matters.tasks import create_task, update_task

    task = create_task(
        actor=w["centre"],
        scope=Scope.for_user(w["centre"]),
        area=w["chain"]["town"],
        title="排查",
        department=w["town_dept"].pk,
        due_at=timezone.now() + datetime.timedelta(days=5),
    )
    with pytest.raises(PermissionDenied):
        update_task(task, actor=w["worker"], progress=50)  # another department
    update_task(task, actor=w["town_worker"], progress=50)
    with pytest.raises(PermissionDenied):
        update_task(task, actor=w["town_worker"], due_at=timezone.now() + datetime.timedelta(days=30))
    update_task(task, actor=w["centre"], due_at=timezone.now() + datetime.timedelta(days=30))
