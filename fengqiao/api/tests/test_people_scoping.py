"""The cost of scoping the person list (issue 3: computed once per request, no per-object permission queries): the
number of queries does not grow with the number of rows, and a town's staff pay no more than an unrestricted
superuser besides loading their permissions."""

import pytest

from fengqiao.api.tests.helpers import client_for, count_queries, rows_of
from fengqiao.api.tests.world import build_world
from fengqiao.core.crypto import lookup_hash
from fengqiao.core.identity import check_digit
from fengqiao.departments.tests.builders import make_user
from fengqiao.people.models import Person

pytestmark = pytest.mark.django_db

URL = "/api/v1/persons/"
PARAMS = {"page_size": 1000}


def add_persons(area, count, start):
    """`count` persons with an encrypted name, ID number and phone (bulk: the subject is the read, not the write)."""
    persons = []
    for i in range(start, start + count):
        first17 = f"44182119800101{i:03d}"
        id_number = first17 + check_digit(first17)
        phone = f"139{i:08d}"
        persons.append(
            Person(
                area=area,
                residence_type="resident",
                name=f"居民{i}",
                id_number=id_number,
                id_number_hash=lookup_hash(id_number),
                phone=phone,
                phone_hash=lookup_hash(phone),
            )
        )
    Person.objects.bulk_create(persons)


def per_request(client, user):
    """Authenticate with a fresh instance, as a real request loads the user: its permission cache starts empty."""
    client.force_authenticate(type(user).objects.get(pk=user.pk))
    return client


def test_the_person_list_costs_the_same_queries_for_5_and_200_rows():
    w = build_world()
    village, other_village = w["chain"]["village"], w["other_town"].children.get()
    add_persons(other_village, 30, start=900)  # another town's: never listed, never costing a query
    staff_user, root_user = w["actors"]["this_town"], make_user("root", superuser=True)
    staff, root = client_for(), client_for()

    add_persons(village, 5, start=0)
    count_queries(per_request(staff, staff_user), URL, PARAMS)  # the process's copy of the user's roles (snapshot)
    few, response = count_queries(per_request(staff, staff_user), URL, PARAMS)
    assert len(rows_of(response)) == 5
    add_persons(village, 195, start=5)
    many, response = count_queries(per_request(staff, staff_user), URL, PARAMS)
    rows = rows_of(response)
    assert len(rows) == 200 and {r["area"] for r in rows} == {village.code}
    assert many == few
    unscoped, response = count_queries(per_request(root, root_user), URL, PARAMS)
    assert len(rows_of(response)) == 230
    # both look at the stamp of the process's copy of their permissions and scope (accounts.snapshot), the root's
    # being built on this first request: nothing per row, nothing per object
    assert many <= unscoped + 2
