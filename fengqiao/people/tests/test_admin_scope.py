"""The admin is a web UI: it is scoped like the API, and special-care pages are audited reads."""

import pytest

from fengqiao.accounts.models import Role
from fengqiao.api.tests.world import build_world, grant
from fengqiao.audit.models import AuditEvent, EventType
from fengqiao.departments.tests.builders import make_user
from fengqiao.people.models import Person, SpecialCare
from fengqiao.people.tests.builders import make_person, people_world

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
