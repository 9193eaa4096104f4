"""The closed loop through the admin: the step form on a matter's page (engine.perform), intake through
`services.submit`, tasks and deadline policies through their services; scoping, masking and photos."""

import io

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import ERROR, SUCCESS
from django.urls import reverse
from django.utils import translation
from PIL import Image

from fengqiao.accounts.models import User
from fengqiao.audit.models import AuditEvent
from fengqiao.departments.tests.builders import make_department
from fengqiao.matters import engine, services
from fengqiao.matters.models import Attachment, DeadlinePolicy, Dispatch, Matter, MatterEvent, Supervision, Task
from fengqiao.matters.tests.builders import GRID_POINT, matter_world, now_plus, submit


@pytest.fixture
def w(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    world = matter_world()
    staff = ("centre", "other_centre", "worker", "town_worker", "leader")
    User.objects.filter(pk__in=[world[k].pk for k in staff]).update(is_staff=True)
    return world


def url(name, *args):
    with translation.override("en"):  # English pages: the assertions read the engine's messages
        return reverse(f"admin:matters_{name}", args=args)


def as_user(client, user):
    client.force_login(user)
    return client


def take(client, matter, action, **fields):
    return client.post(url("matter_step", matter.pk), {"action": action, **fields})


def messages_of(response):
    return [(m.level, m.message) for m in response.context["messages"]] if response.context else []


def management_forms(response):
    """The inline formsets' management data a browser sends back with an admin change form."""
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        form = inline.formset.management_form
        data.update({form.add_prefix(name): form[name].value() for name in form.fields})
    return data


def jpeg():
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def snapshot(matter):
    return (
        Matter.objects.get(pk=matter.pk).state,
        MatterEvent.objects.filter(matter=matter).count(),
        Dispatch.objects.filter(matter=matter).count(),
        AuditEvent.objects.count(),
    )


def test_a_town_centre_user_takes_a_matter_round_the_loop_in_the_admin(client, w):
    matter = submit(w)
    centre = as_user(client, w["centre"])
    page = centre.get(url("matter_change", matter.pk))
    offered = [value for value, _label in page.context["step_form"].fields["action"].widget.choices]
    assert {"accept", "decline", "merge", "escalate"} <= set(offered) and "handle" not in offered

    response = take(centre, matter, "accept", category="M-road", complexity="simple")
    assert response.status_code == 302 and response.url == url("matter_change", matter.pk)
    matter.refresh_from_db()
    assert matter.state == "accepted" and matter.category == w["category"]

    lead, assist = f"d{w['dept'].pk}", f"d{w['assist_dept'].pk}"
    assert take(centre, matter, "dispatch", lead=lead, assisting=[assist], reason="请处理").status_code == 302
    dispatches = {(d.department, d.role) for d in Dispatch.objects.filter(matter=matter)}
    assert dispatches == {(w["dept"], "lead"), (w["assist_dept"], "assist")}

    worker = as_user(client, w["worker"])
    assert take(worker, matter, "acknowledge").status_code == 302
    assert take(worker, matter, "handle", result="已更换灯泡").status_code == 302
    centre = as_user(client, w["centre"])
    assert take(centre, matter, "verify").status_code == 302
    assert take(centre, matter, "reply", reply="已修复，感谢反映").status_code == 302
    followed = centre.post(url("matter_step", matter.pk), {"action": "revisit", "rating": "satisfied"}, follow=True)
    assert (SUCCESS, "record the revisit: done. The matter is now closed.") in messages_of(followed)

    matter.refresh_from_db()
    assert matter.state == "closed" and matter.rating == "satisfied" and matter.result == "已更换灯泡"
    timeline = list(MatterEvent.objects.filter(matter=matter).values_list("action", "actor__username"))
    assert timeline == [
        ("submit", "citizen"),
        ("accept", "town-centre"),
        ("dispatch", "town-centre"),
        ("acknowledge", "zjj-staff"),
        ("handle", "zjj-staff"),
        ("verify", "town-centre"),
        ("reply", "town-centre"),
        ("revisit", "town-centre"),
    ]
    assert AuditEvent.objects.filter(action="matter.revisit", actor=w["centre"]).exists()


def test_a_refused_step_shows_the_engines_reason_and_changes_nothing(client, w):
    matter = submit(w)
    before = snapshot(matter)
    centre = as_user(client, w["centre"])
    response = take(centre, matter, "handle", result="x")  # not offered: the engine refuses it
    assert response.status_code == 200
    assert (ERROR, "Cannot handle a matter that is submitted.") in messages_of(response)
    assert response.context["step_form"].data["result"] == "x"  # the page keeps what was entered
    response = take(centre, matter, "decline")  # the reason is required
    assert (ERROR, "reason is required to decline.") in messages_of(response)
    engine.perform(matter, "accept", actor=w["centre"])
    engine.perform(matter, "dispatch", actor=w["centre"], payload={"targets": [{"department": w["dept"].pk}]})
    before = snapshot(matter)
    town_worker = as_user(client, w["town_worker"])  # sees the matter, but it went to a county department
    response = take(town_worker, matter, "acknowledge")
    message = "This matter is not dispatched to you or your department as the lead unit."
    assert (ERROR, message) in messages_of(response)
    assert snapshot(matter) == before


def test_payload_fields_are_checked_by_the_form_and_nothing_is_written(client, w):
    other_town_dept = make_department(w["other_town"], "ot", "另一镇办")
    matter = submit(w)
    engine.perform(matter, "accept", actor=w["centre"])
    before = snapshot(matter)
    centre = as_user(client, w["centre"])
    form = centre.get(url("matter_change", matter.pk)).context["step_form"]
    units = dict(form.fields["lead"].choices)
    # the town's own departments and those above it (吹哨报到), never another town's
    assert {f"d{w['dept'].pk}", f"d{w['town_dept'].pk}", f"u{w['gridder'].pk}"} <= set(units)
    assert f"d{other_town_dept.pk}" not in units
    response = take(centre, matter, "dispatch", lead=f"d{other_town_dept.pk}")
    assert "lead" in response.context["step_form"].errors
    lead = f"d{w['dept'].pk}"
    response = take(centre, matter, "dispatch", lead=lead, assisting=[lead])
    assert "assisting" in response.context["step_form"].errors
    assert (ERROR, "The step was not taken: correct the fields below.") in messages_of(response)
    assert snapshot(matter) == before


def test_an_out_of_scope_matter_is_not_found(client, w):
    matter = submit(w)
    before = snapshot(matter)
    other = as_user(client, w["other_centre"])
    response = other.get(url("matter_change", matter.pk), follow=True)
    with translation.override("en"):
        assert response.redirect_chain[-1][0] == reverse("admin:index")
    assert any("doesn’t exist" in text or "不存在" in text for _level, text in messages_of(response))
    assert take(other, matter, "accept").status_code == 302
    assert snapshot(matter) == before
    assert list(other.get(url("matter_changelist")).context["cl"].result_list) == []


def test_the_reporter_is_masked_on_every_page(client, w):
    matter = submit(w)
    centre = as_user(client, w["centre"])
    for page in (url("matter_change", matter.pk), url("matter_changelist")):
        content = centre.get(page).content.decode()
        assert "欧阳娜娜" not in content and "13800138000" not in content
    change = centre.get(url("matter_change", matter.pk)).content.decode()
    assert "欧***" in change and "138****8000" in change


def test_the_list_filters_and_finds_matters_by_code_and_phone(client, w):
    matter = submit(w)
    other = submit(w, title="井盖缺失", reporter_phone="13900139000")
    engine.perform(other, "accept", actor=w["centre"], payload={"category": "M-road"})
    centre = as_user(client, w["centre"])

    def found(**query):
        return list(centre.get(url("matter_changelist"), query).context["cl"].result_list)

    assert found(q=matter.tracking_code.lower()) == [matter]
    assert found(q="138 0013 8000") == [matter]
    assert found(state="accepted") == [other]
    assert found(category="M-road") == [other]
    assert set(found(needs_triage__exact="0")) == {matter, other}


def test_photos_are_served_as_thumbnails_only_in_scope(client, w):
    matter = submit(w, photos=[("lamp.jpg", jpeg())])
    photo = Attachment.objects.get(matter=matter)
    centre = as_user(client, w["centre"])
    assert url("attachment_thumbnail", photo.pk) in centre.get(url("matter_change", matter.pk)).content.decode()
    thumbnail = centre.get(url("attachment_thumbnail", photo.pk))
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == photo.thumbnail_type
    assert Image.open(io.BytesIO(thumbnail.content)).size[0] <= 64
    full = centre.get(url("attachment_image", photo.pk))
    assert full.status_code == 200 and Image.open(io.BytesIO(full.content)).size == (64, 48)
    other = as_user(client, w["other_centre"])
    assert other.get(url("attachment_thumbnail", photo.pk)).status_code == 404
    assert other.get(url("attachment_image", photo.pk)).status_code == 404


def test_intake_in_the_admin_goes_through_submit_and_a_second_click_is_the_same_matter(client, w):
    centre = as_user(client, w["centre"])
    token = centre.get(url("matter_add")).context["adminform"].form["client_token"].value()
    data = {
        "channel": "walk_in",
        "title": "邻里噪音",
        "description": "",
        "lon": GRID_POINT[0],
        "lat": GRID_POINT[1],
        "reporter_name": "张三",
        "reporter_phone": "139 0000 0000",
        "urgency": "normal",
        "complexity": "simple",
        "client_token": token,
        "photos": [io.BytesIO(jpeg())],
    }
    data["photos"][0].name = "noise.jpg"
    response = centre.post(url("matter_add"), data)
    matter = Matter.objects.get(title="邻里噪音")
    assert response.status_code == 302 and response.url == url("matter_change", matter.pk)
    assert matter.channel == "walk_in" and matter.entered_by == w["centre"] and matter.grid == w["grid"]
    assert matter.reporter_phone == "13900000000" and matter.attachments.count() == 1
    assert AuditEvent.objects.filter(action="matter.submit", actor=w["centre"]).count() == 1
    data["photos"] = []
    assert centre.post(url("matter_add"), data).status_code == 302
    assert Matter.objects.filter(title="邻里噪音").count() == 1


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"anonymous": "on"}, "anonymous"),  # anonymous, yet with a name
        ({"lon": "113.5", "lat": ""}, "lon"),
        ({"area_code": "441821102000"}, "area_code"),  # another town: outside the user's areas
        ({"channel": "snap"}, "channel"),
    ],
)
def test_bad_intake_is_a_form_error_and_writes_nothing(client, w, bad, field):
    centre = as_user(client, w["centre"])
    data = {"channel": "visit", "title": "x", "reporter_name": "张三", "urgency": "normal", "complexity": "simple"}
    events = AuditEvent.objects.count()
    response = centre.post(url("matter_add"), data | bad)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors or any(field in message for message in errors.get("__all__", [])), errors
    assert not Matter.objects.exists() and AuditEvent.objects.count() == events


def test_deadline_policies_are_edited_through_save_policy(client, w):
    root = as_user(client, User.objects.create_superuser("root", password=None))
    policy = DeadlinePolicy.objects.get(stage="handle", complexity="simple", channel="", category=None)
    data = {
        "workflow": "matter",
        "stage": "handle",
        "category": "",
        "complexity": "simple",
        "channel": "",
        "amount": "4",
        "unit": "working_days",
        "warn_fraction": "0.75",
        "note": "本地规定",
    }
    assert root.post(url("deadlinepolicy_change", policy.pk), data).status_code == 302
    policy.refresh_from_db()
    assert (policy.amount, policy.warn_fraction) == (4, 0.75)
    assert AuditEvent.objects.get(action="deadline_policy.update").after["amount"] == 4
    response = root.post(url("deadlinepolicy_change", policy.pk), data | {"warn_fraction": "1.5"})
    assert response.status_code == 200 and response.context["adminform"].form.errors
    response = root.post(url("deadlinepolicy_add"), data)  # the same key twice
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert DeadlinePolicy.objects.filter(stage="handle", complexity="simple", channel="").count() == 1


def test_tasks_are_created_and_updated_through_the_task_services(client, w):
    task_perms = ("add_task", "change_task", "view_task")
    w["centre"].user_permissions.add(
        *Permission.objects.filter(content_type__app_label="matters", codename__in=task_perms)
    )
    centre = as_user(client, w["centre"])
    data = {
        "area_code": w["chain"]["town"].code,
        "title": "排查路灯",
        "description": "",
        "department": w["town_dept"].pk,
        "due_at_0": now_plus(days=10).date().isoformat(),
        "due_at_1": "18:00:00",
    }
    response = centre.post(url("task_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    task = Task.objects.get()
    assert task.created_by == w["centre"] and AuditEvent.objects.filter(action="task.create").exists()
    response = centre.post(url("task_add"), data | {"area_code": w["other_town"].code})
    assert response.status_code == 200 and "area_code" in response.context["adminform"].form.errors
    change = {
        "progress": "60",
        "progress_note": "已排查一半",
        "state": "open",
        "due_at_0": data["due_at_0"],
        "due_at_1": data["due_at_1"],
    }
    change |= management_forms(centre.get(url("task_change", task.pk)))
    response = centre.post(url("task_change", task.pk), change)
    assert response.status_code == 302, response.context["adminform"].form.errors
    task.refresh_from_db()
    assert task.progress == 60 and AuditEvent.objects.get(action="task.update").after["progress"] == 60


def test_the_supervising_level_closes_a_supervision_in_the_admin(client, w):
    matter = submit(w)
    engine.perform(matter, "supervise", actor=w["leader"], payload={"note": "尽快办理"})
    supervision = Supervision.objects.get()
    centre = as_user(client, w["centre"])  # sees it (the matter is theirs) but does not supervise
    post = {"action": "close", "_selected_action": [supervision.pk]}
    centre.post(url("supervision_changelist"), post)
    supervision.refresh_from_db()
    assert supervision.state == "open"
    leader = as_user(client, w["leader"])
    assert leader.post(url("supervision_changelist"), post).status_code == 302
    supervision.refresh_from_db()
    matter.refresh_from_db()
    assert supervision.state == "done" and not matter.supervised
    assert AuditEvent.objects.filter(action="supervision.close", actor=w["leader"]).exists()


def test_a_submit_service_call_outside_the_admin_still_shows_in_it(client, w):
    """A matter the API took in for the citizen appears in the town centre's list with its timeline."""
    matter, _created = services.submit(
        actor=w["citizen"], channel="snap", title="路面塌陷", lon=GRID_POINT[0], lat=GRID_POINT[1]
    )
    centre = as_user(client, w["centre"])
    page = centre.get(url("matter_change", matter.pk))
    assert page.status_code == 200
    assert [f.instance.action for f in page.context["inline_admin_formsets"][0].formset.forms] == ["submit"]
