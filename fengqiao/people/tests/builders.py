"""Builders for tests of the people registers (through the services)."""

from django.contrib.auth import get_user_model

from fengqiao.people import services

ACTOR = "test"
ID_NUMBER = "11010519491231002X"  # a valid GB 11643 number: born 1949-12-31, female
PHONE = "13912345678"


def make_household(area, number="H001", address="汤塘村一巷8号", **extra):
    return services.create_household(actor=ACTOR, area=area, number=number, address=address, **extra)


def make_person(area, name="张三", id_number=ID_NUMBER, phone=PHONE, residence_type="resident", **extra):
    return services.create_person(
        actor=ACTOR, area=area, name=name, id_number=id_number, phone=phone, residence_type=residence_type, **extra
    )


def people_world(w):
    """Objects of every register in the village of the API test world (`api.tests.world.build_world`)."""
    village = w["chain"]["village"]
    household = make_household(village, grid=w.get("grid"))
    person = make_person(village, household=household, relationship="head", grid=w.get("grid"))
    return {
        "household": household,
        "person": person,
        "building": services.create_building(actor=ACTOR, area=village, address="汤塘村一巷8号", floors=3),
        "place": services.create_place(actor=ACTOR, area=village, kind="shop", name="汤塘小卖部"),
        "organisation": services.create_organisation(actor=ACTOR, area=village, kind="volunteer", name="汤塘志愿队"),
        "special_care": services.create_special_care(
            actor=ACTOR, person=person, category="mental_illness", risk_level=2, details="每月随访"
        ),
        # the same ID number registered again at the city (out of every test actor's sight but the superuser's)
        "identity_conflict": make_identity_conflict(w["chain"]["city"], person),
    }


def make_identity_conflict(area, existing):
    """Register `existing`'s ID number again in `area`, by a user whose scope does not reach `existing` (here: no
    scope at all), so the second record is created and the pair flagged. Returns the conflict."""
    registrar, _ = get_user_model().objects.get_or_create(username="people-registrar")
    twin = services.create_person(
        actor=registrar, area=area, name=existing.name, id_number=existing.id_number, residence_type="floating"
    )
    return twin.identity_conflicts.get()
