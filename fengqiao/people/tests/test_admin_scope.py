"""The admin is a web UI: it is scoped like the API, and special-care pages are audited reads."""

import pytest

from fengqiao.accounts.models import Role
from fengqiao.api.tests.world import build_world, grant
from fengqiao.audit.models import AuditEvent, EventType
from fengqiao.departments.tests.builders import make_user
from fengqiao.people.models import Person, SpecialCare
from fengqiao.people.tests.builders import make_household, make_person, people_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    w = build_world()
    return w | people_world(w)


def staff_client(client, w, area):
    user = make_user("admin-staff", perms=["people.view_person", "people.view_specialcare", "centres.view_centre"])
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(grant(user, area, Role.MEDIATOR))
    return client


def test_town_staff_see_only_their_towns_people_in_the_admin(client, w):
    other_village = w["chain"]["county"].children.exclude(pk=w["chain"]["town"].pk).get().children.get()
    outsider = make_person(other_village, id_number="", phone="")
    staff = staff_client(client, w, w["chain"]["town"])

    listing = staff.get("/admin/people/person/")
    assert listing.status_code == 200
    shown = {p.pk for p in listing.context["cl"].result_list}
    assert shown == set(
        Person.objects.filter(area__path__startswith=w["chain"]["town"].path).values_list("pk", flat=True)
    )
    assert outsider.pk not in shown

    # another town's person is "not found": the admin redirects as for an id that does not exist
    response = staff.get(f"/admin/people/person/{outsider.pk}/change/")
    assert response.status_code == 302
    assert staff.get(f"/admin/people/person/{w['person'].pk}/change/").status_code == 200


def test_special_care_pages_in_the_admin_are_audited_reads(client, w):
    staff = staff_client(client, w, w["chain"]["town"])
    before = AuditEvent.objects.filter(event_type=EventType.READ).count()
    assert staff.get("/admin/people/specialcare/").status_code == 200
    care = SpecialCare.objects.get()
    assert staff.get(f"/admin/people/specialcare/{care.pk}/change/").status_code == 200
    reads = AuditEvent.objects.filter(event_type=EventType.READ).order_by("id")[before:]
    assert len(reads) == 2
    assert all(str(care.pk) in (e.object_id or "") or care.pk in e.data.get("ids", []) for e in reads)
    assert {e.area for e in reads} == {care.person.area.code}


def test_an_out_of_scope_id_in_a_filter_is_answered_like_an_unknown_id(w):
    from fengqiao.api.tests.helpers import client_for

    other_village = w["chain"]["county"].children.exclude(pk=w["chain"]["town"].pk).get().children.get()
    other_household = make_household(other_village)
    user = make_user("filter-staff", perms=["people.view_person", "people.view_household"])
    client = client_for(grant(user, w["chain"]["town"], Role.MEDIATOR))
    unknown = client.get("/api/v1/persons/", {"household": 999999})
    hidden = client.get("/api/v1/households/", {"grid": 999999})
    assert unknown.status_code == 400 and hidden.status_code == 400
    # another town's household exists, but the filter answers exactly as for one that does not
    response = client.get("/api/v1/persons/", {"household": other_household.pk})
    assert response.status_code == 400 and response.json() == {
        "household": [m.replace("999999", str(other_household.pk)) for m in unknown.json()["household"]]
    }
    own = client.get("/api/v1/persons/", {"household": w["household"].pk})
    assert own.status_code == 200
