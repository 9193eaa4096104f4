"""An ID number registered in another town: created and flagged for review, never revealed to the registering staff
(issue 3: out-of-scope objects are not found, never a leak of their existence)."""

import pytest
from django.core.exceptions import ValidationError

from fengqiao.api.tests.helpers import client_for
from fengqiao.api.tests.world import build_world
from fengqiao.audit.models import AuditEvent
from fengqiao.core.identity import check_digit
from fengqiao.people import selectors, services
from fengqiao.people.models import Person, PersonIdentityConflict
from fengqiao.people.tests.builders import make_person

pytestmark = pytest.mark.django_db

OTHER_ID = "44182119800101995" + check_digit("44182119800101995")
FRESH_ID = "44182119900202123" + check_digit("44182119900202123")


@pytest.fixture
def w():
    w = build_world()
    w["other_village"] = w["other_town"].children.get()
    w["registered"] = make_person(w["other_village"], name="王五", id_number=OTHER_ID, phone="")
    return w


def post_person(client, w, id_number, name="王五"):
    body = {"area": w["chain"]["village"].code, "name": name, "residence_type": "floating", "id_number": id_number}
    return client.post("/api/v1/persons/", body, format="json")


def staff_admin(client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(user)
    return client


def test_town_staff_register_an_id_number_known_in_another_town_without_learning_of_it(w):
    staff = client_for(w["actors"]["this_town"])
    fresh = post_person(staff, w, FRESH_ID, name="赵六")
    duplicate = post_person(staff, w, OTHER_ID)
    assert fresh.status_code == duplicate.status_code == 201, duplicate.content
    # the same answer as for a number nobody holds: no extra key, nothing about the other town or record
    assert set(duplicate.json()) == set(fresh.json())
    text = duplicate.content.decode()
    for hint in ("conflict", w["other_town"].name, w["other_village"].code, str(w["registered"].pk) + ","):
        assert hint not in text
    created = Person.objects.get(pk=duplicate.json()["id"])
    conflict = PersonIdentityConflict.objects.get()
    assert (conflict.person, conflict.existing, conflict.area) == (created, w["registered"], w["chain"]["county"])
    event = AuditEvent.objects.get(action="people.personidentityconflict.create")
    assert event.area == w["chain"]["county"].code and event.object_id == str(conflict.pk)
    assert OTHER_ID not in str(event.data) + event.summary


def test_a_duplicate_within_the_scope_is_refused_naming_the_record_and_nothing_is_written(w):
    staff = client_for(w["actors"]["other_town"])
    persons, events = Person.objects.count(), AuditEvent.objects.count()
    response = staff.post(
        "/api/v1/persons/",
        {"area": w["other_village"].code, "name": "王五", "residence_type": "resident", "id_number": OTHER_ID},
        format="json",
    )
    assert response.status_code == 400
    message = response.json()["id_number"][0]
    assert str(w["registered"].pk) in message and w["other_village"].name in message
    assert Person.objects.count() == persons and AuditEvent.objects.count() == events
    assert not PersonIdentityConflict.objects.exists()


def test_the_conflict_is_listed_to_the_county_and_to_neither_town(client, w):
    post_person(client_for(w["actors"]["this_town"]), w, OTHER_ID)
    conflict = PersonIdentityConflict.objects.get()

    leader = staff_admin(client, w["actors"]["county_leader"])
    listing = leader.get("/admin/people/personidentityconflict/")
    assert listing.status_code == 200 and [c.pk for c in listing.context["cl"].result_list] == [conflict.pk]
    assert leader.get(f"/admin/people/personidentityconflict/{conflict.pk}/change/").status_code == 200

    for actor in ("this_town", "other_town"):
        client.logout()
        town = staff_admin(client, w["actors"][actor])
        listing = town.get("/admin/people/personidentityconflict/")
        assert listing.status_code == 200 and list(listing.context["cl"].result_list) == []
        # "not found": the admin redirects as for an id that does not exist
        assert town.get(f"/admin/people/personidentityconflict/{conflict.pk}/change/").status_code == 302


def test_the_selector_needs_both_persons_in_scope(w):
    from fengqiao.accounts.scope import Scope

    post_person(client_for(w["actors"]["this_town"]), w, OTHER_ID)
    seen = {a: list(selectors.identity_conflicts(Scope.for_user(w["actors"][a]))) for a in w["actors"]}
    assert len(seen["county_leader"]) == 1
    assert seen["this_town"] == seen["other_town"] == seen["citizen"] == seen["anonymous"] == []


def test_changing_an_id_number_to_one_held_outside_the_scope_flags_it_too(w):
    mine = make_person(w["chain"]["village"], name="赵六", id_number=FRESH_ID, phone="")
    services.update_person(mine, actor=w["actors"]["this_town"], id_number=OTHER_ID)
    mine.refresh_from_db()
    assert mine.id_number == OTHER_ID
    assert PersonIdentityConflict.objects.get().existing == w["registered"]
    # setting the same number again flags nothing new and writes nothing
    services.update_person(mine, actor=w["actors"]["this_town"], id_number=OTHER_ID)
    assert PersonIdentityConflict.objects.count() == 1


def test_a_process_sees_everything_so_any_duplicate_is_refused(w):
    with pytest.raises(ValidationError) as exc:
        make_person(w["chain"]["village"], id_number=OTHER_ID)
    assert str(w["registered"].pk) in exc.value.message_dict["id_number"][0]


def test_resolving_needs_both_persons_in_scope_and_happens_once(w):
    post_person(client_for(w["actors"]["this_town"]), w, OTHER_ID)
    conflict = PersonIdentityConflict.objects.get()
    with pytest.raises(PersonIdentityConflict.DoesNotExist):
        services.resolve_identity_conflict(conflict, actor=w["actors"]["this_town"], note="x")
    services.resolve_identity_conflict(conflict, actor=w["actors"]["county_leader"], note="同一人，回电13912345678")
    conflict.refresh_from_db()
    assert conflict.resolved_at is not None and conflict.resolved_by == "county-leader"
    event = AuditEvent.objects.get(action="people.personidentityconflict.update")
    assert "13912345678" not in event.summary + str(event.data) and "139****5678" in event.data["note"]
    with pytest.raises(ValidationError) as exc:
        services.resolve_identity_conflict(conflict, actor=w["actors"]["county_leader"])
    assert "resolved_at" in exc.value.message_dict


def test_common_area_is_the_lowest_shared_ancestor(w):
    chain = w["chain"]
    assert services.common_area(chain["village"], w["other_village"]) == chain["county"]
    assert services.common_area(chain["village"], chain["town"]) == chain["town"]
    assert services.common_area(chain["village"], chain["village"]) == chain["village"]


def test_the_admin_action_resolves_for_holders_of_the_change_permission_only(client, w):
    from django.contrib.auth.models import Permission

    post_person(client_for(w["actors"]["this_town"]), w, OTHER_ID)
    conflict = PersonIdentityConflict.objects.get()
    leader = w["actors"]["county_leader"]
    page = staff_admin(client, leader)
    body = {"action": "resolve", "_selected_action": [conflict.pk]}
    page.post("/admin/people/personidentityconflict/", body)
    conflict.refresh_from_db()
    assert conflict.resolved_at is None  # the action is not offered without the permission
    leader.user_permissions.add(Permission.objects.get(codename="change_personidentityconflict"))
    page.post("/admin/people/personidentityconflict/", body)
    conflict.refresh_from_db()
    assert conflict.resolved_at is not None and conflict.resolved_by == leader.username
