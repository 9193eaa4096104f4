import pytest

from fengqiao.accounts.models import Role
from fengqiao.api.tests.helpers import client_for, results, writer
from fengqiao.api.tests.world import build_world, grant
from fengqiao.audit.models import AuditEvent, EventType
from fengqiao.departments.tests.builders import make_user
from fengqiao.people.tests.builders import ID_NUMBER, PHONE, people_world

pytestmark = pytest.mark.django_db

PERSON_PERMS = ["people.view_person", "people.add_person", "people.change_person"]


@pytest.fixture
def w():
    w = build_world()
    return w | people_world(w)


def town_user(w, username, *perms, town=None):
    """A user over the town holding exactly `perms` on the people registries: the mediator's role group has
    none of them (centre staff would bring all of them, ADR 0009 amendment 1)."""
    user = make_user(username, perms=perms)
    return client_for(grant(user, town or w["chain"]["town"], Role.MEDIATOR))


def test_persons_are_masked_in_lists_details_and_writes(w):
    client = town_user(w, "p", *PERSON_PERMS)
    body = str(results(client.get("/api/v1/persons/")))
    detail = client.get(f"/api/v1/persons/{w['person'].pk}/").json()
    assert detail["name"] == "张*" and detail["id_number"] == "110105********002X"
    assert detail["phone"] == "139****5678" and detail["sex"] == "female" and detail["birth_date"] == "1949-**-**"
    created = client.post(
        "/api/v1/persons/",
        {"area": w["chain"]["village"].code, "name": "李四", "residence_type": "floating", "phone": "13800001111"},
        format="json",
    )
    assert created.status_code == 201, created.content
    for text in (body, str(detail), created.content.decode()):
        assert "张三" not in text and ID_NUMBER not in text and PHONE not in text and "13800001111" not in text
        assert "1949-12-31" not in text  # the birth date would complete the masked ID number


def test_persons_are_found_by_exact_id_number_and_phone(w):
    client = town_user(w, "p", "people.view_person")
    assert [p["id"] for p in results(client.get("/api/v1/persons/", {"id_number": ID_NUMBER.lower()}))] == [
        w["person"].pk
    ]
    assert len(results(client.get("/api/v1/persons/", {"phone": "139 1234 5678"}))) == 1
    assert results(client.get("/api/v1/persons/", {"phone": "13900000000"})) == []


def test_an_invalid_id_number_is_a_400_naming_the_field(w):
    client = town_user(w, "p", *PERSON_PERMS)
    response = client.post(
        "/api/v1/persons/",
        {"area": w["chain"]["village"].code, "name": "李四", "residence_type": "resident", "id_number": "123"},
        format="json",
    )
    assert response.status_code == 400 and "id_number" in response.json()


def test_the_household_address_is_masked(w):
    client = town_user(w, "h", "people.view_household")
    row = client.get(f"/api/v1/households/{w['household'].pk}/").json()
    assert row["address"] != "汤塘村一巷8号" and row["address"].startswith("汤塘村一巷8")


def test_unmask_returns_the_plaintext_with_permission_and_is_audited(w):
    client = town_user(w, "u", "people.view_person", "people.unmask_person")
    response = client.post(f"/api/v1/persons/{w['person'].pk}/unmask/", {"reason": "核实身份"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"name": "张三", "id_number": ID_NUMBER, "phone": PHONE}
    event = AuditEvent.objects.get(action="people.person.unmask")
    assert event.event_type == EventType.UNMASK and event.data["reason"] == "核实身份"
    assert client.post(f"/api/v1/persons/{w['person'].pk}/unmask/", {}, format="json").status_code == 400


def test_unmask_without_permission_is_refused_and_writes_nothing(w):
    client = town_user(w, "v", "people.view_person")
    before = AuditEvent.objects.count()
    response = client.post(f"/api/v1/persons/{w['person'].pk}/unmask/", {"reason": "好奇"}, format="json")
    assert response.status_code == 403 and ID_NUMBER not in response.content.decode()
    assert AuditEvent.objects.count() == before


def test_special_care_needs_its_own_permission(w):
    client = town_user(w, "p", "people.view_person")
    assert client.get("/api/v1/special-care/").status_code == 403
    assert client.get(f"/api/v1/special-care/{w['special_care'].pk}/").status_code == 403


def test_every_read_of_special_care_is_audited_and_details_are_masked(w):
    care = w["special_care"]
    client = town_user(w, "s", "people.view_specialcare")
    detail = client.get(f"/api/v1/special-care/{care.pk}/")
    assert detail.status_code == 200 and "每月随访" not in detail.content.decode()
    read = AuditEvent.objects.get(action="people.specialcare.read", object_id=str(care.pk))
    assert read.event_type == EventType.READ
    rows = results(client.get("/api/v1/special-care/"))
    assert [r["id"] for r in rows] == [care.pk]
    assert AuditEvent.objects.filter(action="people.specialcare.read").count() == 2


def test_staff_of_another_town_do_not_find_this_towns_records(w):
    perms = ["people.view_person", "people.view_household", "people.view_specialcare", "people.view_building"]
    client = town_user(w, "o", *perms, town=w["other_town"])
    for prefix, key in [("persons", "person"), ("households", "household"), ("special-care", "special_care")]:
        assert client.get(f"/api/v1/{prefix}/{w[key].pk}/").status_code == 404
        assert results(client.get(f"/api/v1/{prefix}/")) == []
    assert client.get(f"/api/v1/buildings/{w['building'].pk}/").status_code == 404


def test_creating_a_building_outside_the_scope_is_refused(w):
    client = town_user(w, "o", "people.add_building", town=w["other_town"])
    response = client.post("/api/v1/buildings/", {"area": w["chain"]["village"].code, "address": "x"}, format="json")
    assert response.status_code == 403


def test_organisation_points_and_credit_code_through_the_api(w):
    client = writer("people.add_organisation", "people.change_organisation")
    bad = client.post(
        "/api/v1/organisations/",
        {
            "area": w["chain"]["village"].code,
            "kind": "enterprise",
            "name": "x",
            "credit_code": "91350100M000100Y44",
        },
        format="json",
    )
    assert bad.status_code == 400 and "credit_code" in bad.json()
    org = w["organisation"]
    response = client.patch(f"/api/v1/organisations/{org.pk}/", {"points": 5}, format="json")
    assert response.status_code == 200 and response.json()["points"] == 5


def test_the_county_leader_reads_masked_persons_but_may_not_unmask_or_see_special_care(w):
    """Need to know (ADR 0009, amendment 1): the leader's role group reads the base registries of the county,
    masked; unmasking and special care stay with centre staff."""
    client = client_for(w["actors"]["county_leader"])
    rows = results(client.get("/api/v1/persons/"))
    assert [r["id"] for r in rows] == [w["person"].pk] and rows[0]["name"] == "张*"
    assert client.get(f"/api/v1/households/{w['household'].pk}/").status_code == 200
    assert ID_NUMBER not in str(rows) and PHONE not in str(rows)
    before = AuditEvent.objects.count()
    response = client.post(f"/api/v1/persons/{w['person'].pk}/unmask/", {"reason": "了解情况"}, format="json")
    assert response.status_code == 403 and "张三" not in response.content.decode()
    assert client.get("/api/v1/special-care/").status_code == 403
    assert client.get(f"/api/v1/special-care/{w['special_care'].pk}/").status_code == 403
    assert AuditEvent.objects.count() == before  # no unmask, no special care read recorded


def test_centre_staff_of_the_town_unmask_through_their_role_group(w):
    client = client_for(w["actors"]["this_town"])
    response = client.post(f"/api/v1/persons/{w['person'].pk}/unmask/", {"reason": "核实身份"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "张三"
