import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from fengqiao.areas.tests.factories import make_chain
from fengqiao.audit.models import AuditEvent
from fengqiao.core.crypto import lookup_hash
from fengqiao.people import services
from fengqiao.people.codes import CreditCodeError, parse_credit_code
from fengqiao.people.models import Person, SpecialCare
from fengqiao.people.tests.builders import ID_NUMBER, PHONE, make_household, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def village():
    return make_chain()["village"]


def test_birth_date_and_sex_are_derived_from_the_id_number(village):
    person = make_person(village, id_number="11010519491231002x")
    assert person.id_number == ID_NUMBER
    assert person.birth_date == datetime.date(1949, 12, 31) and person.sex == "female"
    assert person.id_number_hash == lookup_hash(ID_NUMBER)


@pytest.mark.parametrize(
    ("field", "values"), [("id_number", {"id_number": "110105194912310021"}), ("phone", {"phone": "12345"})]
)
def test_an_invalid_id_number_or_phone_is_refused_naming_the_field_and_nothing_is_written(village, field, values):
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        make_person(village, **values)
    assert field in exc.value.message_dict
    assert Person.objects.count() == 0 and AuditEvent.objects.count() == events


def test_a_phone_is_normalised_before_hashing(village):
    person = make_person(village, phone="+86 139-1234-5678")
    assert person.phone == PHONE and person.phone_hash == lookup_hash(PHONE)


def test_an_id_number_is_registered_once(village):
    make_person(village)
    with pytest.raises(ValidationError) as exc:
        make_person(village, name="李四")
    assert "id_number" in exc.value.message_dict


def test_personal_data_is_encrypted_at_rest(village):
    household = make_household(village, address="汤塘村一巷8号")
    person = make_person(village, household=household)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, id_number, phone FROM people_person WHERE id = %s", [person.pk])
        raw = " ".join(cursor.fetchone())
        cursor.execute("SELECT address FROM people_household WHERE id = %s", [household.pk])
        raw += cursor.fetchone()[0]
    for secret in ("张三", ID_NUMBER, PHONE, "13912345678", "汤塘村一巷"):
        assert secret not in raw
    assert raw.startswith("enc1:")


def test_the_audit_masks_personal_values(village):
    person = make_person(village)
    event = AuditEvent.objects.get(action="people.person.create", object_id=str(person.pk))
    text = str(event.data)
    assert "张三" not in text and ID_NUMBER not in text and PHONE not in text
    services.update_person(person, actor="test", phone="13800001111")
    text = str(AuditEvent.objects.get(action="people.person.update").data)
    assert "13800001111" not in text and PHONE not in text and "138****1111" in text


def test_updating_the_id_number_derives_birth_date_and_sex_again(village):
    person = make_person(village)
    services.update_person(person, actor="test", id_number="440000200001010015")
    person.refresh_from_db()
    assert person.birth_date == datetime.date(2000, 1, 1) and person.sex == "male"


def test_a_household_is_registered_in_a_village():
    chain = make_chain()
    with pytest.raises(ValidationError) as exc:
        make_household(chain["town"])
    assert "area" in exc.value.message_dict


def test_credit_code_check_digit():
    assert parse_credit_code("91350100m000100y43") == "91350100M000100Y43"
    with pytest.raises(CreditCodeError):
        parse_credit_code("91350100M000100Y44")


def test_an_organisation_with_a_wrong_credit_code_is_refused(village):
    with pytest.raises(ValidationError) as exc:
        services.create_organisation(actor="test", area=village, kind="enterprise", name="x", credit_code="123")
    assert "credit_code" in exc.value.message_dict
    org = services.create_organisation(actor="test", area=village, kind="enterprise", name="x")
    assert org.points == 0


def test_severe_mental_illness_needs_a_risk_level_from_0_to_5(village):
    person = make_person(village)
    for level in (None, 6):
        with pytest.raises(ValidationError) as exc:
            services.create_special_care(actor="test", person=person, category="mental_illness", risk_level=level)
        assert "risk_level" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.create_special_care(actor="test", person=person, category="left_behind_elderly", risk_level=1)


def test_a_certified_place_has_a_date(village):
    with pytest.raises(ValidationError) as exc:
        services.create_place(actor="test", area=village, kind="shop", name="店", safety_status="certified")
    assert "safety_date" in exc.value.message_dict


def test_erase_expired_deletes_past_retention_and_audits_counts_only(village):
    person = make_person(village)
    today = datetime.date.today()
    old = services.create_special_care(
        actor="test",
        person=person,
        category="released_prisoner",
        details="秘密内容",
        retention_until=today - datetime.timedelta(days=1),
    )
    kept = services.create_special_care(
        actor="test", person=person, category="crisis", retention_until=today + datetime.timedelta(days=1)
    )
    call_command("people", "erase-expired")
    assert list(SpecialCare.objects.all()) == [kept]
    assert not SpecialCare.objects.filter(pk=old.pk).exists()
    event = AuditEvent.objects.get(action="people.specialcare.delete")
    assert event.data["deleted"] == 1 and event.data["by_category"] == {"released_prisoner": 1}
    assert "秘密内容" not in str(event.data)
