"""The authorisation matrix: every route and action of /api/v1/ (walked from the router, so a new endpoint
fails here until it is added to `EXPECTED`) called by five actors: anonymous, a citizen of the village, staff
of another town, staff of this town, the leader of the county above. Allowed calls answer as declared; denied
calls answer as declared and change nothing (row counts of every model and the audit trail).

Objects named in URLs and bodies belong to "this town" (汤塘镇) or its village.
"""

import datetime

import pytest
from django.apps import apps
from django.urls import resolve

from fengqiao.api import v1
from fengqiao.api.tests.helpers import client_for
from fengqiao.api.tests.world import ACTORS, build_world
from fengqiao.audit.models import AuditEvent
from fengqiao.people.tests.builders import people_world

V1 = "/api/v1"
VIEWSETS = {prefix: viewset for prefix, viewset, _basename in v1.router.registry}
STANDARD = {
    "list": (False, "get"),
    "create": (False, "post"),
    "retrieve": (True, "get"),
    "partial_update": (True, "patch"),
}

# (prefix, action) -> expected status per actor, in the order of ACTORS:
#   anonymous, citizen (village), other town's staff, this town's staff, county leader
EXPECTED = {
    ("api-root", "get"): "401 200 200 200 200",
    ("auth-token", "post"): "400 400 400 400 400",  # no password: nothing issued
    ("locate", "get"): "401 200 200 200 200",
    ("areas", "list"): "401 200 200 200 200",
    ("areas", "retrieve"): "401 200 200 200 200",
    ("areas", "children"): "401 200 200 200 200",
    ("areas", "ancestors"): "401 200 200 200 200",
    ("areas", "boundary"): "401 200 200 200 200",
    ("area-changes", "list"): "401 200 200 200 200",
    ("area-changes", "retrieve"): "401 200 200 200 200",
    ("grid-layers", "list"): "401 200 200 200 200",
    ("grid-layers", "retrieve"): "401 200 200 200 200",
    ("grids", "list"): "401 200 200 200 200",
    ("grids", "retrieve"): "401 200 404 200 200",
    ("grids", "geojson"): "401 200 200 200 200",
    ("departments", "list"): "401 200 200 200 200",
    ("departments", "retrieve"): "401 404 404 200 200",
    ("departments", "responsible"): "401 200 200 200 200",
    ("departments", "create"): "401 403 403 201 403",
    ("departments", "partial_update"): "401 403 404 200 403",
    ("categories", "list"): "401 200 200 200 200",
    ("categories", "retrieve"): "401 200 200 200 200",
    ("categories", "tree"): "401 200 200 200 200",
    ("categories", "create"): "401 403 403 403 403",  # system administrators only
    ("categories", "partial_update"): "401 403 403 403 403",
    ("centres", "list"): "401 200 200 200 200",
    ("centres", "retrieve"): "401 404 404 200 200",
    ("centres", "create"): "401 403 403 201 403",
    ("centres", "partial_update"): "401 403 404 200 403",
    ("space-types", "list"): "401 200 200 200 200",
    ("space-types", "retrieve"): "401 200 200 200 200",
    ("spaces", "list"): "401 200 200 200 200",
    ("spaces", "retrieve"): "401 404 404 200 200",
    ("spaces", "create"): "401 403 400 201 403",  # another town's centre is "no such centre"
    ("spaces", "partial_update"): "401 403 404 200 403",
    ("stationings", "list"): "401 200 200 200 200",
    ("stationings", "retrieve"): "401 404 404 200 200",
    ("stationings", "create"): "401 403 400 201 403",
    ("stationings", "partial_update"): "401 403 404 200 403",
    ("stationings", "end"): "401 403 404 200 403",
    ("receptions", "list"): "401 403 200 200 403",  # personal data: view_reception
    ("receptions", "retrieve"): "401 403 404 200 403",
    ("receptions", "create"): "401 403 400 201 403",
    ("receptions", "partial_update"): "401 403 404 200 403",
    # people registries (ADR 0009, amendment 1): this town's centre staff collect and unmask; the leader reads
    # the base registries masked; households, persons and special care are personal data (view_ needed)
    ("households", "list"): "401 403 200 200 200",
    ("households", "retrieve"): "401 403 404 200 200",
    ("households", "create"): "401 403 403 201 403",
    ("households", "partial_update"): "401 403 404 200 403",
    ("persons", "list"): "401 403 200 200 200",
    ("persons", "retrieve"): "401 403 404 200 200",
    ("persons", "create"): "401 403 403 201 403",
    ("persons", "partial_update"): "401 403 404 200 403",
    ("persons", "unmask"): "401 403 404 200 403",  # needs people.unmask_person: centre staff only
    ("buildings", "list"): "401 403 200 200 200",
    ("buildings", "retrieve"): "401 403 404 200 200",
    ("buildings", "create"): "401 403 403 201 403",
    ("buildings", "partial_update"): "401 403 404 200 403",
    ("places", "list"): "401 403 200 200 200",
    ("places", "retrieve"): "401 403 404 200 200",
    ("places", "create"): "401 403 403 201 403",
    ("places", "partial_update"): "401 403 404 200 403",
    ("organisations", "list"): "401 403 200 200 200",
    ("organisations", "retrieve"): "401 403 404 200 200",
    ("organisations", "create"): "401 403 403 201 403",
    ("organisations", "partial_update"): "401 403 404 200 403",
    ("special-care", "list"): "401 403 200 200 403",  # sensitive: no view_specialcare for the leader
    ("special-care", "retrieve"): "401 403 404 200 403",
    ("special-care", "create"): "401 403 400 201 403",  # another town's person is "no such person"
    ("special-care", "partial_update"): "401 403 404 200 403",
    # the inbox: one's own notifications only (this town's staff owns the one in the world)
    ("inbox", "list"): "401 200 200 200 200",
    ("inbox", "retrieve"): "401 404 404 200 404",
    ("inbox", "read"): "401 404 404 200 404",
    ("inbox", "read_all"): "401 200 200 200 200",
    ("inbox", "unread_count"): "401 200 200 200 200",
    # the closed loop (ADR 0013): the matter lies in this town's village; centre staff take it in and run the
    # centre's steps, the county leader reads and supervises, citizens use the tracking page and /reports/
    ("matters", "list"): "401 403 200 200 200",
    ("matters", "retrieve"): "401 403 404 200 200",
    ("matters", "create"): "401 403 201 201 403",  # any centre takes a report in; it is placed where it lies
    ("matters", "actions"): "401 403 404 200 200",
    ("matters", "transition"): "401 403 404 200 403",  # accept: the centre's step, not the leader's
    ("matters", "photos"): "401 403 404 201 403",
    ("matters", "photo"): "401 403 404 200 200",
    ("matters", "reporter"): "401 403 404 200 403",  # unmask_reporter: centre staff only
    ("matters", "duplicates"): "401 403 404 200 200",  # suggestions among the caller's own matters
    ("matters", "routing"): "401 403 404 200 200",  # the router's advice on one of the caller's matters
    ("supervisions", "list"): "401 403 200 200 200",
    ("supervisions", "retrieve"): "401 403 404 200 200",
    ("supervisions", "close"): "401 403 404 403 200",  # the supervising level only
    ("tasks", "list"): "401 403 200 200 200",
    ("tasks", "retrieve"): "401 403 404 200 200",
    ("tasks", "create"): "401 403 400 201 201",  # another town's staff: "area outside your areas"
    ("tasks", "partial_update"): "401 403 404 403 200",  # set by the county leader for the town's office
    ("tasks", "supervise"): "401 403 404 403 201",
    ("deadline-policies", "list"): "401 200 200 200 200",
    ("deadline-policies", "retrieve"): "401 200 200 200 200",
    ("deadline-policies", "create"): "401 403 403 403 403",  # system administrators only
    ("deadline-policies", "partial_update"): "401 403 403 403 403",
    ("track", "get"): "200 200 200 200 200",  # the tracking code is the key: no account needed
    ("track-rating", "post"): "409 409 409 409 409",  # nothing to rate before the reply
    ("track-supplement", "post"): "409 409 409 409 409",  # the matter is not waiting for the reporter
    ("public-report", "post"): "201 200 200 200 200",  # the same client token: one matter
    ("matter-stats", "list"): "401 403 200 200 200",  # figures over the caller's own areas; view_matter
}
MULTIPART = {("matters", "photos")}


def walk():
    """(key, method, detail, url_path) of every route and action the API serves."""
    out = []
    for prefix, viewset in VIEWSETS.items():
        allowed = set(viewset.http_method_names)
        for action, (detail, method) in STANDARD.items():
            if hasattr(viewset, action) and method in allowed:
                out.append(((prefix, action), method, detail, ""))
        for extra in viewset.get_extra_actions():
            for method in extra.mapping:
                out.append(((prefix, extra.__name__), method, extra.detail, extra.url_path))
    for pattern in v1.urlpatterns:
        name = getattr(pattern, "name", None)
        if name in {"api-root", "auth-token", "locate", "track", "track-rating", "track-supplement", "public-report"}:
            view = pattern.callback
            cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
            methods = [m for m in ("get", "post") if hasattr(cls, m) or (getattr(view, "actions", None) or {}).get(m)]
            out.append(((name, methods[0]), methods[0], False, name))
    unique = {}
    for route in out:  # the API root is served with and without a format suffix
        unique.setdefault(route[0], route)
    return list(unique.values())


ROUTES = walk()


def test_every_route_and_action_is_in_the_matrix_and_nothing_else():
    walked = {key for key, *_ in ROUTES}
    assert sorted(walked - set(EXPECTED)) == [], "add these endpoints to EXPECTED"
    assert sorted(set(EXPECTED) - walked) == [], "these endpoints no longer exist"
    unnamed = [p for p in v1.urlpatterns if getattr(p, "name", None) is None]
    assert unnamed == [], "every /api/v1/ URL has a name the matrix can refer to"


def _key(prefix, w):
    return {
        "areas": w["chain"]["town"].code,
        "area-changes": w["chain"]["village"].changes.get().pk,
        "grid-layers": "comprehensive",
        "grids": w["grid"].pk,
        "departments": w["department"].pk,
        "categories": w["category"].code,
        "centres": w["centre"].pk,
        "space-types": w["space"].space_type.code,
        "spaces": w["space"].pk,
        "stationings": w["stationing"].pk,
        "receptions": w["reception"].pk,
        "households": w["household"].pk,
        "persons": w["person"].pk,
        "buildings": w["building"].pk,
        "places": w["place"].pk,
        "organisations": w["organisation"].pk,
        "special-care": w["special_care"].pk,
        "inbox": w["notification"].pk,
        "matters": w["matter"].pk,
        "supervisions": w["supervision"].pk,
        "tasks": w["task"].pk,
        "deadline-policies": w["policy"].pk,
    }[prefix]


def _body(key, w):
    village = w["chain"]["village"]
    return {
        ("departments", "create"): {"area": village.code, "code": "new", "name": "汤塘村委会"},
        ("categories", "create"): {"code": "T-new", "name": "新类别"},
        ("centres", "create"): {"area": village.code, "name": "汤塘村综治中心"},
        ("spaces", "create"): {"centre": w["centre"].pk, "space_type": "reception-hall", "name": "群众接待厅"},
        ("stationings", "create"): {
            "centre": w["centre"].pk,
            "department": w["department"].pk,
            "staff": w["newcomer"].pk,
            "valid_from": "2025-03-01",
        },
        ("stationings", "partial_update"): {"duty": "调解"},
        ("stationings", "end"): {"valid_to": "2025-12-31"},
        ("spaces", "partial_update"): {"seats": 6},
        ("receptions", "create"): {"centre": w["centre"].pk, "purpose": "咨询"},
        ("receptions", "partial_update"): {"purpose": "改"},
        ("auth-token", "post"): {},
        ("households", "create"): {"area": village.code, "number": "H9", "address": "汤塘村"},
        ("persons", "create"): {"area": village.code, "name": "李四", "residence_type": "resident"},
        ("persons", "unmask"): {"reason": "核实身份"},
        ("buildings", "create"): {"area": village.code, "address": "汤塘村二巷"},
        ("places", "create"): {"area": village.code, "kind": "shop", "name": "汤塘商店"},
        ("organisations", "create"): {"area": village.code, "kind": "other", "name": "汤塘商会"},
        ("special-care", "create"): {"person": w["person"].pk, "category": "left_behind_elderly"},
        ("special-care", "partial_update"): {"details": "改"},
        ("matters", "create"): {"channel": "walk_in", "title": "路灯不亮", "lon": 113.505, "lat": 23.705},
        ("matters", "transition"): {"action": "accept"},
        ("matters", "photos"): {"photo": _jpeg()},
        ("matters", "reporter"): {"reason": "回访核实"},
        ("supervisions", "close"): {"note": "已督办到位"},
        ("tasks", "create"): {
            "area": w["chain"]["town"].code,
            "title": "排查隐患",
            "department": w["department"].pk,
            "due_at": "2099-01-01T00:00:00+08:00",
        },
        ("tasks", "partial_update"): {"progress": 50},
        ("tasks", "supervise"): {"note": "请加快进度"},
        ("deadline-policies", "create"): {"stage": "handle", "channel": "snap", "amount": 3, "unit": "working_days"},
        ("deadline-policies", "partial_update"): {"amount": 4},
        ("track-rating", "post"): {"rating": "satisfied"},
        ("track-supplement", "post"): {"text": "就在村口第三根电线杆旁"},
        ("public-report", "post"): {
            "channel": "snap",
            "title": "垃圾堆积",
            "lon": 113.505,
            "lat": 23.705,
            "client_token": "matrix-0123456789abcdef",
        },
    }.get(key, {"name": "改名"})


def _jpeg():
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 40, 40)).save(buffer, "JPEG")
    buffer.seek(0)
    buffer.name = "photo.jpg"
    return buffer


def _request(key, method, detail, url_path, w):
    prefix, _action = key
    if prefix in {"api-root", "auth-token", "locate"}:
        url = {"api-root": f"{V1}/", "auth-token": f"{V1}/auth/token/", "locate": f"{V1}/locate"}[prefix]
    elif prefix in {"track", "track-rating", "track-supplement", "public-report"}:
        code = w["matter"].tracking_code
        url = {
            "track": f"{V1}/track/{code}/",
            "track-rating": f"{V1}/track/{code}/rating/",
            "track-supplement": f"{V1}/track/{code}/supplement/",
        }.get(prefix, f"{V1}/reports/")
    elif "(?P<photo>" in url_path:
        url = f"{V1}/{prefix}/{_key(prefix, w)}/photos/{w['photo'].pk}/"
    else:
        url = f"{V1}/{prefix}/" + (f"{_key(prefix, w)}/" if detail else "") + (f"{url_path}/" if url_path else "")
    params = {
        ("locate", "get"): {"lon": "113.55", "lat": "23.75"},
        ("departments", "responsible"): {"area": w["chain"]["village"].code, "category": w["category"].code},
    }.get(key, {})
    if method == "get":
        return url, params, None
    return url, None, _body(key, w)


def matters_world(w):
    """A matter in this town's village with a photo, a county supervision of it, a town task, this town's staff's
    notification, and a deadline policy."""
    from django.utils import timezone

    from fengqiao.matters import services as matter_services
    from fengqiao.matters.engine import perform
    from fengqiao.matters.models import DeadlinePolicy
    from fengqiao.matters.tasks import create_task
    from fengqiao.notifications.tests.builders import notify_one

    matter, _created = matter_services.submit(
        actor="test",
        channel="12345",
        title="汤塘村路灯不亮",
        lon=113.505,
        lat=23.705,
        reporter_name="欧阳娜娜",
        reporter_phone="13800138000",
    )
    photo = matter_services.add_photo(matter, actor="test", name="p.jpg", data=_jpeg().read())
    perform(matter, "supervise", actor=w["actors"]["county_leader"], payload={"note": "请尽快处理"})
    from fengqiao.accounts.scope import Scope

    leader = w["actors"]["county_leader"]
    task = create_task(
        actor=leader,
        scope=Scope.for_user(leader),
        area=w["chain"]["town"],
        title="排查路灯",
        department=w["department"].pk,
        due_at=timezone.now() + datetime.timedelta(days=7),
    )
    return {
        "matter": matter,
        "photo": photo,
        "supervision": matter.supervisions.get(),
        "task": task,
        "policy": DeadlinePolicy.objects.order_by("id").first(),
        "notification": notify_one(w["actors"]["this_town"]),
    }


def snapshot():
    models = [m for m in apps.get_models() if m.__module__.startswith("fengqiao.")]
    return {m._meta.label: m.objects.count() for m in models} | {"audit": AuditEvent.objects.count()}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0][0]}:{r[0][1]}")
@pytest.mark.django_db
def test_the_authorisation_matrix(route):
    key, method, detail, url_path = route
    w = build_world()
    w |= people_world(w)
    w |= matters_world(w)
    url, params, body = _request(key, method, detail, url_path, w)
    resolve(url.split("?")[0])  # the URL we built is one the API serves
    expected = dict(zip(ACTORS, (int(code) for code in EXPECTED[key].split()), strict=True))
    # denied actors first, so the one allowed write acts on an untouched world
    for actor in sorted(ACTORS, key=lambda a: expected[a] < 300):
        client = client_for(w["actors"][actor])
        before = snapshot() if method != "get" else None
        if method == "get":
            response = client.get(url, params)
        else:
            if key in MULTIPART:
                body = _body(key, w)  # a fresh file for every call
            fmt = "multipart" if key in MULTIPART else "json"
            response = getattr(client, method)(url, body, format=fmt)
        assert response.status_code == expected[actor], (actor, key, response.status_code, response.content[:300])
        if method != "get" and expected[actor] >= 300:
            assert snapshot() == before, (actor, key, "a refused write changed the database")
        if expected[actor] in {403, 404} and method == "get" and detail:
            assert "汤塘" not in response.content.decode(), (actor, key, "a refusal leaked the object")
