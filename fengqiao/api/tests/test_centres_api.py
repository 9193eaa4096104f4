import datetime

import pytest
from django.utils import timezone

from fengqiao.api.tests.helpers import count_queries, reader, reception_reader, results, rows_of, writer
from fengqiao.areas.tests.factories import make_area, make_chain
from fengqiao.audit.models import AuditEvent
from fengqiao.centres import services
from fengqiao.centres.models import Centre, Reception, Stationing
from fengqiao.centres.tests.builders import make_centre, make_space, space_type, station
from fengqiao.departments.tests.builders import make_department, make_user

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
D = datetime.date


@pytest.fixture
def chain():
    return make_chain()


@pytest.fixture
def centre(chain):
    return make_centre(chain["town"], "汤塘镇综治中心")


# --- centres ---------------------------------------------------------------------------------------------


def test_centre_list_and_filters(chain, centre):
    make_space(centre)
    make_centre(chain["county"], "佛冈县综治中心")
    client = reader()
    rows = results(client.get(f"{V1}/centres/"))
    assert [r["name"] for r in rows] == ["佛冈县综治中心", "汤塘镇综治中心"]
    town = rows[1]
    assert town["area"] == chain["town"].code and town["level"] == 4
    assert [s["space_type"] for s in town["spaces"]] == ["t-mediation"]
    assert [r["name"] for r in results(client.get(f"{V1}/centres/", {"level": 3}))] == ["佛冈县综治中心"]
    assert [r["name"] for r in results(client.get(f"{V1}/centres/", {"within": chain["town"].code}))] == [
        "汤塘镇综治中心"
    ]
    assert results(client.get(f"{V1}/centres/", {"area": chain["village"].code})) == []


def test_create_centre_goes_through_the_service_and_refuses_a_province(chain):
    client = writer("centres.add_centre")
    response = client.post(f"{V1}/centres/", {"area": chain["village"].code, "name": "汤塘村综治中心"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["level"] == 5 and response.json()["active"] is True
    assert AuditEvent.objects.filter(action="centre.create").count() == 1
    response = client.post(f"{V1}/centres/", {"area": chain["province"].code, "name": "省"})
    assert response.status_code == 400 and "area" in response.json()


def test_patch_centre(centre):
    client = writer("centres.change_centre")
    response = client.patch(f"{V1}/centres/{centre.pk}/", {"floor_area_m2": 300}, format="json")
    assert response.status_code == 200 and response.json()["floor_area_m2"] == 300


# --- spaces ----------------------------------------------------------------------------------------------


def test_spaces_create_list_filter_and_one_hall(centre):
    space_type("t-hall", "群众接待厅")
    client = writer("centres.add_servicespace", "centres.change_servicespace")
    response = client.post(f"{V1}/spaces/", {"centre": centre.pk, "space_type": "t-hall"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "群众接待厅" and response.json()["is_hall"] is True
    again = client.post(f"{V1}/spaces/", {"centre": centre.pk, "space_type": "t-hall", "name": "二厅"}, format="json")
    assert again.status_code == 400 and "space_type" in again.json()
    make_space(centre)
    assert [r["space_type"] for r in results(reader().get(f"{V1}/spaces/", {"is_hall": "true"}))] == ["t-hall"]
    assert len(results(reader().get(f"{V1}/spaces/", {"centre": centre.pk}))) == 2
    hall = response.json()["id"]
    response = client.patch(f"{V1}/spaces/{hall}/", {"seats": 20}, format="json")
    assert response.status_code == 200 and response.json()["seats"] == 20


def test_space_types_are_listed():
    space_type("t-hall", "群众接待厅")
    assert "t-hall" in [r["code"] for r in results(reader().get(f"{V1}/space-types/"))]
    assert reader().get(f"{V1}/space-types/t-hall/").json()["is_hall"] is True


# --- roster ----------------------------------------------------------------------------------------------


@pytest.fixture
def roster(chain, centre):
    return centre, make_department(chain["county"], "sfj", "司法局"), make_user("li", first_name="李")


def test_stationing_create_and_overlap_refusal(roster):
    centre, department, staff = roster
    client = writer("centres.add_stationing")
    body = {"centre": centre.pk, "department": department.pk, "staff": staff.pk, "valid_from": "2025-01-01"}
    response = client.post(f"{V1}/stationings/", body)
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["staff_username"] == "li" and row["staff_name"] == "李" and row["valid_to"] is None
    again = client.post(f"{V1}/stationings/", body | {"valid_from": "2025-03-01"})
    assert again.status_code == 400 and "valid_from" in again.json()
    assert Stationing.objects.count() == 1


def test_current_and_on_filters(roster):
    centre, department, staff = roster
    today = timezone.localdate()
    station(centre, department, staff, today - datetime.timedelta(days=30), today - datetime.timedelta(days=1))
    station(centre, department, make_user("wang"), today - datetime.timedelta(days=10))
    client = reader()
    assert [r["staff_username"] for r in results(client.get(f"{V1}/stationings/", {"current": "true"}))] == ["wang"]
    assert [r["staff_username"] for r in results(client.get(f"{V1}/stationings/", {"current": "false"}))] == ["li"]
    on = (today - datetime.timedelta(days=5)).isoformat()
    assert len(results(client.get(f"{V1}/stationings/", {"on": on, "centre": centre.pk}))) == 2
    assert len(results(client.get(f"{V1}/stationings/", {"department": department.pk}))) == 2


def test_ending_a_stationing_needs_the_change_permission(roster):
    centre, department, staff = roster
    stationing = station(centre, department, staff, D(2025, 1, 1))
    url = f"{V1}/stationings/{stationing.pk}/end/"
    assert writer("centres.add_stationing").post(url, {"valid_to": "2025-06-30"}).status_code == 403
    client = writer("centres.change_stationing", username="changer")
    response = client.post(url, {"valid_to": "2025-06-30"})
    assert response.status_code == 200 and response.json()["valid_to"] == "2025-06-30"
    later = client.post(url, {"valid_to": "2025-12-31"})
    assert later.status_code == 400 and "valid_to" in later.json()


def test_patch_stationing_changes_duty_and_space(roster):
    centre, department, staff = roster
    stationing = station(centre, department, staff)
    room = make_space(centre)
    client = writer("centres.change_stationing")
    response = client.patch(f"{V1}/stationings/{stationing.pk}/", {"duty": "值班", "space": room.pk}, format="json")
    assert response.status_code == 200 and (response.json()["duty"], response.json()["space"]) == ("值班", room.pk)
    response = client.patch(f"{V1}/stationings/{stationing.pk}/", {"space": None}, format="json")
    assert response.json()["space"] is None
    response = client.patch(f"{V1}/stationings/{stationing.pk}/", {"valid_from": "2020-01-01"}, format="json")
    stationing.refresh_from_db()
    assert stationing.valid_from == D(2025, 1, 1)  # the period is not writable here


# --- reception log ---------------------------------------------------------------------------------------

PHONE, NAME = "13800138000", "欧阳娜娜"


def test_logging_a_visit_returns_masked_visitor_details_only(centre):
    client = writer("centres.add_reception")
    body = {"centre": centre.pk, "purpose": "宅基地纠纷咨询", "visitor_name": NAME, "visitor_phone": PHONE}
    response = client.post(f"{V1}/receptions/", body)
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["visitor_name"] == "欧***" and row["visitor_phone"] == "138****8000"
    assert row["received_by"] == "writer"
    assert PHONE not in response.content.decode() and NAME not in response.content.decode()
    reception = Reception.objects.get()
    assert reception.visitor_phone == PHONE


def test_reception_list_and_detail_never_show_plaintext_and_phone_filter_uses_the_hash(chain, centre):
    services.log_reception(actor="t", centre=centre, purpose="a", visitor_name=NAME, visitor_phone=PHONE)
    services.log_reception(actor="t", centre=centre, purpose="b", visitor_name="张三", visitor_phone="13900000000")
    client = reception_reader()
    response = client.get(f"{V1}/receptions/")
    text = response.content.decode()
    assert PHONE not in text and NAME not in text and "13900000000" not in text
    assert {r["visitor_phone"] for r in results(response)} == {"138****8000", "139****0000"}
    found = results(client.get(f"{V1}/receptions/", {"phone": "138 0013 8000"}))
    assert [r["purpose"] for r in found] == ["a"]
    detail = client.get(f"{V1}/receptions/{found[0]['id']}/")
    assert PHONE not in detail.content.decode() and detail.json()["visitor_name"] == "欧***"
    assert results(client.get(f"{V1}/receptions/", {"phone": "13800000000"})) == []


def test_reception_date_range_and_centre_filters(chain, centre):
    other = make_centre(chain["village"])
    now = timezone.now()
    services.log_reception(actor="t", centre=centre, purpose="old", received_at=now - datetime.timedelta(days=10))
    services.log_reception(actor="t", centre=centre, purpose="new", received_at=now)
    services.log_reception(actor="t", centre=other, purpose="elsewhere", received_at=now)
    client = reception_reader()
    since = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    rows = results(client.get(f"{V1}/receptions/", {"received_after": since, "centre": centre.pk}))
    assert [r["purpose"] for r in rows] == ["new"]
    until = (timezone.localdate() - datetime.timedelta(days=5)).isoformat()
    assert [r["purpose"] for r in results(client.get(f"{V1}/receptions/", {"received_before": until}))] == ["old"]


def test_patching_a_reception_cannot_touch_visitor_details(chain, centre):
    reception = services.log_reception(actor="t", centre=centre, purpose="a", visitor_name=NAME, visitor_phone=PHONE)
    department = make_department(chain["county"], "hbj")
    client = writer("centres.change_reception")
    response = client.patch(
        f"{V1}/receptions/{reception.pk}/",
        {"outcome": "referred", "department": department.pk, "visitor_name": "欧*", "visitor_phone": "1"},
        format="json",
    )
    assert response.status_code == 200, response.content
    reception.refresh_from_db()
    assert (reception.outcome, reception.visitor_name, reception.visitor_phone) == ("referred", NAME, PHONE)
    response = client.patch(
        f"{V1}/receptions/{reception.pk}/", {"outcome": "referred", "department": None}, format="json"
    )
    assert response.status_code == 200  # null leaves the referral as it was


@pytest.mark.parametrize("url", ["centres", "spaces", "stationings", "receptions"])
def test_centre_lists_use_a_constant_number_of_queries(chain, url):
    client = reception_reader()
    client.get(f"{V1}/{url}/")  # loads the user's permissions (cached on the user from then on)

    def add(i):
        area = make_area(f"441821{120 + i:03d}000", f"镇{i}", chain["county"])
        centre = make_centre(area)
        space = make_space(centre)
        department = make_department(area, "sfs")
        station(centre, department, make_user(f"u{i}"), space=space)
        services.log_reception(actor=make_user(f"clerk{i}"), centre=centre, purpose="x", visitor_phone=PHONE)

    add(0)
    few, response = count_queries(client, f"{V1}/{url}/")
    assert len(rows_of(response)) == 1
    for i in range(1, 20):
        add(i)
    many, response = count_queries(client, f"{V1}/{url}/")
    assert len(rows_of(response)) == 20
    assert many == few
    assert Centre.objects.count() == 20
