import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from fengqiao.areas.tests.factories import make_area, make_chain
from fengqiao.audit.models import AuditEvent
from fengqiao.centres import selectors, services
from fengqiao.centres.models import Reception, Stationing
from fengqiao.centres.tests.builders import make_centre, make_space, space_type, station
from fengqiao.core.crypto import lookup_hash
from fengqiao.departments.tests.builders import make_department, make_user

pytestmark = pytest.mark.django_db

D = datetime.date


def errors_of(excinfo):
    return excinfo.value.message_dict


@pytest.fixture
def chain():
    return make_chain()


@pytest.fixture
def town_centre(chain):
    return make_centre(chain["town"], "汤塘镇综治中心")


# --- centres ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["city", "county", "town", "village"])
def test_a_centre_can_be_created_at_city_county_town_and_village_level(chain, level):
    centre = services.create_centre(actor="t", area=chain[level], name="中心", floor_area_m2=500)
    assert centre.area == chain[level]
    assert AuditEvent.objects.get(action="centre.create").data["area"] == chain[level].code


def test_a_centre_is_refused_at_province_and_villager_group_level(chain):
    group = make_area("441821101201001", "一组", chain["village"])
    for area in (chain["province"], group):
        with pytest.raises(ValidationError) as excinfo:
            services.create_centre(actor="t", area=area, name="中心")
        assert "area" in errors_of(excinfo)


def test_a_second_centre_for_an_area_and_a_centre_for_a_retired_area_are_refused(chain, town_centre):
    with pytest.raises(ValidationError) as excinfo:
        services.create_centre(actor="t", area=chain["town"], name="again")
    assert "area" in errors_of(excinfo)
    chain["village"].valid_to = D(2024, 1, 1)
    chain["village"].save()
    with pytest.raises(ValidationError):
        services.create_centre(actor="t", area=chain["village"], name="retired")


def test_update_centre_records_the_changes(town_centre):
    services.update_centre(town_centre, actor="t", duty_phone="0763-1234567", opened_on=D(2024, 11, 1))
    town_centre.refresh_from_db()
    assert town_centre.duty_phone == "0763-1234567"
    assert AuditEvent.objects.get(action="centre.update").data["changed"]["opened_on"] == [None, "2024-11-01"]


# --- service spaces --------------------------------------------------------------------------------------


def test_add_space_defaults_its_name_to_the_type(town_centre):
    space = services.add_space(actor="t", centre=town_centre, space_type=space_type("t-hall", "群众接待厅"))
    assert space.name == "群众接待厅"
    assert AuditEvent.objects.filter(action="centre.space.add").count() == 1


def test_a_centre_has_one_active_reception_hall(town_centre):
    hall = services.add_space(actor="t", centre=town_centre, space_type=space_type("t-hall"))
    with pytest.raises(ValidationError) as excinfo:
        services.add_space(actor="t", centre=town_centre, space_type=space_type("t-hall"), name="二厅")
    assert "space_type" in errors_of(excinfo)
    services.update_space(hall, actor="t", active=False)
    assert services.add_space(actor="t", centre=town_centre, space_type=space_type("t-hall"), name="新厅").pk


def test_update_space_refuses_turning_a_room_into_a_second_hall(town_centre):
    services.add_space(actor="t", centre=town_centre, space_type=space_type("t-hall"))
    room = make_space(town_centre)
    with pytest.raises(ValidationError):
        services.update_space(room, actor="t", space_type=space_type("t-hall"))
    services.update_space(room, actor="t", seats=8, name="调解一室")
    room.refresh_from_db()
    assert (room.seats, room.name) == (8, "调解一室")


# --- roster ----------------------------------------------------------------------------------------------


@pytest.fixture
def roster(chain, town_centre):
    return town_centre, make_department(chain["county"], "sfj", "司法局"), make_user("li")


def test_station_staff_puts_a_person_on_the_roster(roster):
    centre, department, staff = roster
    stationing = station(centre, department, staff, D(2025, 1, 1), D(2025, 6, 30), duty="调解")
    assert stationing.pk and stationing.duty == "调解"
    event = AuditEvent.objects.get(action="centre.station")
    assert event.data["valid_to"] == "2025-06-30"


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        ((D(2025, 1, 1), None), (D(2026, 1, 1), None)),  # open-ended existing
        ((D(2025, 1, 1), D(2025, 6, 30)), (D(2025, 6, 30), None)),  # touches on the last day
        ((D(2025, 3, 1), D(2025, 3, 31)), (D(2025, 1, 1), D(2025, 12, 31))),  # encloses
        ((D(2025, 3, 1), None), (D(2025, 1, 1), D(2025, 3, 1))),  # new ends on the first day
    ],
)
def test_overlapping_stationing_of_the_same_person_in_the_same_centre_is_refused(roster, existing, new):
    centre, department, staff = roster
    station(centre, department, staff, *existing)
    with pytest.raises(ValidationError) as excinfo:
        station(centre, department, staff, *new)
    assert "valid_from" in errors_of(excinfo)
    assert Stationing.objects.count() == 1


def test_adjacent_periods_other_people_and_other_centres_do_not_overlap(chain, roster):
    centre, department, staff = roster
    station(centre, department, staff, D(2025, 1, 1), D(2025, 6, 30))
    station(centre, department, staff, D(2025, 7, 1), None)
    station(centre, department, make_user("wang"), D(2025, 1, 1))
    station(make_centre(chain["village"]), department, staff, D(2025, 1, 1))
    assert Stationing.objects.count() == 4


def test_station_staff_refuses_a_reversed_period_a_foreign_space_and_an_inactive_department(chain, roster):
    centre, department, staff = roster
    with pytest.raises(ValidationError) as excinfo:
        station(centre, department, staff, D(2025, 6, 1), D(2025, 5, 1))
    assert "valid_to" in errors_of(excinfo)
    foreign = make_space(make_centre(chain["village"]))
    with pytest.raises(ValidationError) as excinfo:
        station(centre, department, staff, space=foreign)
    assert "space" in errors_of(excinfo)
    closed = make_department(chain["county"], "closed", active=False)
    with pytest.raises(ValidationError) as excinfo:
        station(centre, closed, staff)
    assert "department" in errors_of(excinfo)


def test_end_stationing_sets_the_last_day_and_may_only_move_it_earlier(roster):
    centre, department, staff = roster
    stationing = station(centre, department, staff, D(2025, 1, 1))
    services.end_stationing(stationing, actor="t", valid_to=D(2025, 6, 30))
    stationing.refresh_from_db()
    assert stationing.valid_to == D(2025, 6, 30)
    services.end_stationing(stationing, actor="t", valid_to=D(2025, 5, 31))
    with pytest.raises(ValidationError) as excinfo:
        services.end_stationing(stationing, actor="t", valid_to=D(2025, 12, 31))
    assert "valid_to" in errors_of(excinfo)
    with pytest.raises(ValidationError):
        services.end_stationing(stationing, actor="t", valid_to=D(2024, 12, 31))
    assert AuditEvent.objects.filter(action="centre.stationing.end").count() == 2


def test_end_stationing_defaults_to_today_and_frees_the_person_for_a_later_stationing(roster):
    centre, department, staff = roster
    stationing = station(centre, department, staff, D(2025, 1, 1))
    services.end_stationing(stationing, actor="t")
    stationing.refresh_from_db()
    assert stationing.valid_to == timezone.localdate()
    station(centre, department, staff, timezone.localdate() + datetime.timedelta(days=1))


def test_update_stationing_changes_duty_and_space_but_refuses_a_foreign_space(chain, roster):
    centre, department, staff = roster
    stationing = station(centre, department, staff)
    room = make_space(centre)
    services.update_stationing(stationing, actor="t", duty="值班", space=room)
    stationing.refresh_from_db()
    assert (stationing.duty, stationing.space) == ("值班", room)
    services.update_stationing(stationing, actor="t", clear_space=True)
    stationing.refresh_from_db()
    assert stationing.space is None
    with pytest.raises(ValidationError):
        services.update_stationing(stationing, actor="t", space=make_space(make_centre(chain["village"])))


def test_roster_lists_who_is_on_duty_on_a_day(roster):
    centre, department, staff = roster
    station(centre, department, staff, D(2025, 1, 1), D(2025, 1, 31))
    station(centre, department, make_user("wang"), D(2025, 1, 15))
    on = lambda day: [s.staff.username for s in selectors.roster(centre, on=day)]  # noqa: E731
    assert on(D(2025, 1, 10)) == ["li"]
    assert on(D(2025, 1, 20)) == ["li", "wang"]
    assert on(D(2025, 2, 1)) == ["wang"]


def test_centre_for_finds_the_nearest_centre_up_the_tree(chain):
    county_centre = make_centre(chain["county"])
    assert selectors.centre_for(chain["village"]) == county_centre
    village_centre = make_centre(chain["village"])
    assert selectors.centre_for(chain["village"]) == village_centre
    assert selectors.centre_for(chain["city"]) is None


# --- reception log ---------------------------------------------------------------------------------------


def test_log_reception_stores_the_phone_hash_and_finds_visits_by_phone(town_centre):
    clerk = make_user("clerk")
    reception = services.log_reception(
        actor=clerk, centre=town_centre, purpose="咨询宅基地纠纷", visitor_name="张三", visitor_phone="138 0013 8000"
    )
    reception.refresh_from_db()
    assert reception.visitor_phone == "13800138000" and reception.visitor_name == "张三"
    assert reception.visitor_phone_hash == lookup_hash("13800138000")
    assert reception.received_by == clerk
    assert list(selectors.receptions_by_phone("13800138000")) == [reception]
    assert list(selectors.receptions_by_phone(" 138-0013-8000 ".replace("-", ""), centre=town_centre)) == [reception]
    assert not selectors.receptions_by_phone("13900000000").exists()
    assert not selectors.receptions_by_phone("").exists()


def test_a_visitors_name_and_phone_never_reach_the_database_in_plaintext(town_centre):
    services.log_reception(
        actor="t", centre=town_centre, purpose="咨询", visitor_name="欧阳娜娜", visitor_phone="13800138000"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT visitor_name, visitor_phone, visitor_phone_hash FROM {Reception._meta.db_table}")
        name, phone, phone_hash = cursor.fetchone()
    assert name.startswith("enc1:") and phone.startswith("enc1:")
    for column in (name, phone, phone_hash):
        assert "13800138000" not in column and "欧阳娜娜" not in column and "8000" not in column[:6]
    with connection.cursor() as cursor:
        cursor.execute("SELECT data, summary FROM audit_auditevent")
        for data, summary in cursor.fetchall():
            assert "13800138000" not in f"{data}{summary}" and "欧阳娜娜" not in f"{data}{summary}"


def test_log_reception_refuses_a_referral_without_target_a_foreign_space_and_a_future_time(chain, town_centre):
    with pytest.raises(ValidationError) as excinfo:
        services.log_reception(actor="t", centre=town_centre, purpose="x", outcome=Reception.Outcome.REFERRED)
    assert "outcome" in errors_of(excinfo)
    foreign = make_space(make_centre(chain["village"]))
    with pytest.raises(ValidationError) as excinfo:
        services.log_reception(actor="t", centre=town_centre, purpose="x", space=foreign)
    assert "space" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        services.log_reception(
            actor="t", centre=town_centre, purpose="x", received_at=timezone.now() + datetime.timedelta(hours=2)
        )
    assert "received_at" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        services.log_reception(actor="t", centre=town_centre, purpose="", headcount=0)
    assert set(errors_of(excinfo)) & {"headcount", "purpose"}
    assert not Reception.objects.exists()


def test_update_reception_records_the_referral(chain, town_centre):
    reception = services.log_reception(actor="t", centre=town_centre, purpose="噪音", visitor_phone="13800138000")
    department = make_department(chain["county"], "hbj")
    services.update_reception(reception, actor="t", outcome=Reception.Outcome.REFERRED, department=department)
    reception.refresh_from_db()
    assert (reception.outcome, reception.department) == ("referred", department)
    event = AuditEvent.objects.get(action="centre.reception.update")
    assert event.data["changed"]["department"] == [None, department.pk]
