"""Every endpoint declares its permission, goes through the scoping base class, refuses anonymous users,
refuses writes without the model permission and reads of personal data without the view permission (and
changes nothing when it refuses)."""

import datetime
import io

import pytest
from django.core.management import call_command
from rest_framework.views import APIView

from fengqiao.api import v1
from fengqiao.api.base import BaseViewSet, ServiceViewSet
from fengqiao.api.centres import CentreViewSet, SpaceTypeViewSet
from fengqiao.api.tests.helpers import client_for, reader, results, writer
from fengqiao.api.v1 import router
from fengqiao.areas.tests.factories import make_chain
from fengqiao.audit.models import AuditEvent
from fengqiao.centres import services
from fengqiao.centres.models import Reception
from fengqiao.centres.tests.builders import make_centre, make_space, station
from fengqiao.departments.tests.builders import make_category, make_department, make_user
from fengqiao.people.tests.builders import people_world

V1 = "/api/v1"
VIEWSETS = {prefix: viewset for prefix, viewset, _basename in router.registry}


@pytest.mark.parametrize("prefix", sorted(VIEWSETS))
def test_every_viewset_declares_its_permission_and_uses_the_scoping_base(prefix):
    viewset = VIEWSETS[prefix]
    assert "permission_classes" in vars(viewset), f"{viewset.__name__} must state permission_classes itself"
    assert issubclass(viewset, BaseViewSet)
    assert viewset.get_queryset is BaseViewSet.get_queryset, "querysets go through BaseViewSet.scope_queryset"


def _view_class(callback):
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def test_every_api_url_declares_its_permission():
    for pattern in v1.urlpatterns:
        view = _view_class(pattern.callback)
        if view is None or view.__module__.startswith("rest_framework.routers"):
            continue  # the router's API root
        declared = [k for k in view.__mro__ if k is not APIView and "permission_classes" in vars(k)]
        assert declared and declared[0].__module__ != "rest_framework.views", pattern


@pytest.fixture
def world(db):
    chain = make_chain()
    centre = make_centre(chain["town"])
    space = make_space(centre)
    department = make_department(chain["county"], "sfj")
    stationing = station(centre, department, make_user("li"), space=space)
    category = make_category("T-x")
    reception = services.log_reception(actor="t", centre=centre, purpose="x", visitor_phone="13800138000")
    people = people_world({"chain": chain})
    loop = closed_loop_world(chain)
    return {
        "areas": chain["town"].code,
        "area-changes": None,
        "grid-layers": "comprehensive",
        "grids": None,
        "departments": department.pk,
        "categories": category.code,
        "centres": centre.pk,
        "space-types": space.space_type.code,
        "spaces": space.pk,
        "stationings": stationing.pk,
        "receptions": reception.pk,
        "households": people["household"].pk,
        "persons": people["person"].pk,
        "buildings": people["building"].pk,
        "places": people["place"].pk,
        "organisations": people["organisation"].pk,
        "special-care": people["special_care"].pk,
        "inbox": None,  # one's own notifications only: tested in fengqiao/notifications
        "matters": loop["matter"].pk,
        "supervisions": loop["supervision"].pk,
        "tasks": loop["task"].pk,
        "deadline-policies": loop["policy"].pk,
        "matter-stats": None,
    }


def closed_loop_world(chain):
    """A matter with a supervision, a task and the seeded deadline policies (no role holder needed)."""
    from fengqiao.matters import services as matter_services
    from fengqiao.matters.models import DeadlinePolicy, Supervision, Task

    matter, _created = matter_services.submit(actor="t", channel="12345", title="路灯不亮", area=chain["village"])
    supervision = Supervision.objects.create(matter=matter, area=chain["county"], note="督办")
    task = Task.objects.create(
        area=chain["town"], title="排查", due_at=matter.submitted_at + datetime.timedelta(days=3)
    )
    return {"matter": matter, "supervision": supervision, "task": task, "policy": DeadlinePolicy.objects.first()}


@pytest.mark.parametrize("prefix", sorted(VIEWSETS))
def test_anonymous_users_are_refused_everywhere_with_401(world, prefix):
    client = client_for(None)
    response = client.get(f"{V1}/{prefix}/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    if world[prefix] is not None:
        assert client.get(f"{V1}/{prefix}/{world[prefix]}/").status_code == 401
    if issubclass(VIEWSETS[prefix], ServiceViewSet):
        assert client.post(f"{V1}/{prefix}/", {}).status_code == 401


PERSONAL = sorted(p for p, v in VIEWSETS.items() if getattr(v, "personal_data", False))
PUBLIC = sorted(p for p in VIEWSETS if p not in PERSONAL)


def test_the_registries_holding_personal_data_are_marked():
    assert PERSONAL == [
        "buildings",
        "households",
        "matter-stats",
        "matters",
        "organisations",
        "persons",
        "places",
        "receptions",
        "special-care",
        "supervisions",
        "tasks",
    ]


def _view_permission(prefix):
    model = VIEWSETS[prefix].queryset.model
    return f"{model._meta.app_label}.view_{model._meta.model_name}"


@pytest.mark.parametrize("prefix", PUBLIC)
def test_an_authenticated_user_without_permissions_can_read_registries_without_personal_data(world, prefix):
    client = reader()
    assert client.get(f"{V1}/{prefix}/").status_code == 200
    if world[prefix] is not None:
        assert client.get(f"{V1}/{prefix}/{world[prefix]}/").status_code == 200


def _reads(prefix, key):
    urls = [f"{V1}/{prefix}/"] + ([f"{V1}/{prefix}/{key}/"] if key is not None else [])
    for url in urls:
        for method in ("get", "head", "options"):
            yield method, url


@pytest.mark.parametrize("prefix", PERSONAL)
def test_reading_personal_data_needs_the_view_permission_and_a_refusal_changes_nothing(world, prefix):
    client = reader()
    model = VIEWSETS[prefix].queryset.model
    before = (AuditEvent.objects.count(), model.objects.count())
    for method, url in _reads(prefix, world[prefix]):
        response = getattr(client, method)(url)
        assert response.status_code == 403, (method, url)
        assert "purpose" not in response.content.decode(), (method, url)
    assert (AuditEvent.objects.count(), model.objects.count()) == before
    viewer = writer(_view_permission(prefix), username="viewer")
    for method, url in _reads(prefix, world[prefix]):
        assert getattr(viewer, method)(url).status_code == 200, (method, url)


def test_the_phone_lookup_is_no_oracle_for_users_who_may_not_read_receptions(world):
    url = f"{V1}/receptions/"
    for phone in ("13800138000", "13900000000"):
        response = reader().get(url, {"phone": phone})
        assert response.status_code == 403 and "results" not in response.json()
    viewer = writer("centres.view_reception", username="viewer")
    assert [r["id"] for r in results(viewer.get(url, {"phone": "13800138000"}))] == [world["receptions"]]
    assert results(viewer.get(url, {"phone": "13900000000"})) == []


@pytest.mark.parametrize("viewset", [SpaceTypeViewSet, CentreViewSet], ids=["read-only", "writable"])
def test_any_registry_opts_in_to_the_personal_data_rule_with_one_attribute(world, viewset, monkeypatch):
    monkeypatch.setattr(viewset, "personal_data", True)
    prefix = next(p for p, v in VIEWSETS.items() if v is viewset)
    assert reader().get(f"{V1}/{prefix}/").status_code == 403
    assert reader().get(f"{V1}/{prefix}/{world[prefix]}/").status_code == 403
    viewer = writer(_view_permission(prefix), username="viewer")
    assert viewer.get(f"{V1}/{prefix}/").status_code == 200
    assert viewer.get(f"{V1}/{prefix}/{world[prefix]}/").status_code == 200


def test_logging_a_visit_needs_only_the_add_permission(world):
    client = writer("centres.add_reception", username="clerk")
    response = client.post(f"{V1}/receptions/", {"centre": world["centres"], "purpose": "y"}, format="json")
    assert response.status_code == 201, response.content
    assert Reception.objects.count() == 2


def test_the_browsable_api_renders_every_endpoint_without_leaking_visitor_details(world):
    client = client_for(make_user("root", superuser=True))
    for prefix, key in world.items():
        pages = [f"{V1}/{prefix}/"] + ([f"{V1}/{prefix}/{key}/"] if key is not None else [])
        for url in pages:
            response = client.get(url, HTTP_ACCEPT="text/html")
            assert response.status_code == 200, url
            assert "13800138000" not in response.content.decode(), url


WRITABLE = sorted(p for p, v in VIEWSETS.items() if issubclass(v, ServiceViewSet))


def test_the_writable_resources_are_exactly_the_ones_with_services():
    assert WRITABLE == [
        "buildings",
        "categories",
        "centres",
        "deadline-policies",
        "departments",
        "households",
        "organisations",
        "persons",
        "places",
        "receptions",
        "spaces",
        "special-care",
        "stationings",
        "tasks",
    ]


@pytest.mark.parametrize("prefix", WRITABLE)
def test_writes_without_the_model_permission_are_refused_and_change_nothing(world, prefix):
    client = reader()
    before = AuditEvent.objects.count()
    model = VIEWSETS[prefix].queryset.model
    rows = model.objects.count()
    assert client.post(f"{V1}/{prefix}/", {"name": "x"}, format="json").status_code == 403
    assert client.patch(f"{V1}/{prefix}/{world[prefix]}/", {"name": "x"}, format="json").status_code == 403
    assert (AuditEvent.objects.count(), model.objects.count()) == (before, rows)


def test_scope_queryset_restricts_every_list_and_detail(world, monkeypatch):
    monkeypatch.setattr(BaseViewSet, "scope_queryset", lambda self, queryset: queryset.none())
    client = writer(*(_view_permission(p) for p in PERSONAL), username="viewer")
    for prefix, key in world.items():
        if prefix == "matter-stats":
            continue  # figures, not rows: scoped by stats.roots_for (fengqiao/matters/tests/test_stats.py)
        assert results(client.get(f"{V1}/{prefix}/")) == [], prefix
        if key is not None:
            assert client.get(f"{V1}/{prefix}/{key}/").status_code == 404, prefix


# --- tokens ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_token_from_fengqiao_token_create_authenticates_and_drf_tokens_no_longer_do():
    make_user("api-user")
    out = io.StringIO()
    call_command("token", "create", "api-user", stdout=out)
    key = next(word for word in out.getvalue().split() if word.startswith("fq_"))
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(f"{V1}/areas/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")  # a DRF-style key
    assert client.get(f"{V1}/areas/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert client.get(f"{V1}/areas/").status_code == 401
