"""The county demo, built once per module from the committed fixture alone (no shared data)."""

import collections
import datetime

import pyotp
import pytest
import shapely
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count
from django.test import override_settings
from django.utils import timezone

from fengqiao.accounts.models import AreaAssignment, GridAssignment, MemberKind, Role
from fengqiao.accounts.scope import Scope
from fengqiao.areas.codes import Level
from fengqiao.areas.coverage import check_coverage
from fengqiao.areas.locate import locate
from fengqiao.areas.models import Area, AreaChange, Boundary, Grid
from fengqiao.audit.models import AuditEvent
from fengqiao.centres.models import Centre, ServiceSpace, Stationing
from fengqiao.core.crypto import lookup_hash
from fengqiao.core.identity import parse_id_number
from fengqiao.demo import build, care, residents
from fengqiao.demo.build import DemoError, build_demo
from fengqiao.demo.institutions import DEMO_ROLE_USERS
from fengqiao.demo.sources import DEMO_COUNTY
from fengqiao.demo.tests.helpers import coverage_errors
from fengqiao.departments.models import Department, Responsibility
from fengqiao.people.models import Building, Household, Organisation, Person, Place, SpecialCare
from fengqiao.security.models import RecoveryCode, TotpDevice
from fengqiao.security.services import otp

ABSENT = "/nonexistent/shared-data"
MODELS = [
    Area,
    AreaChange,
    Boundary,
    Grid,
    Centre,
    ServiceSpace,
    Stationing,
    Department,
    Responsibility,
    AreaAssignment,
    GridAssignment,
    Household,
    Person,
    Building,
    Place,
    Organisation,
    SpecialCare,
    TotpDevice,
    RecoveryCode,
]


# Every test here reads the database the module fixture fills: marked as database tests, they run before the
# transactional ones (pytest-django's order), which flush the tables the migrations seeded (role groups, …).
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def county_demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """Build once for the module inside a transaction that is rolled back afterwards (tests nest savepoints)."""
    absent = tmp_path_factory.mktemp("bare-clone") / "shared-data-absent"
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with override_settings(SHARED_DATA_DIR=absent, DEMO_NO_2FA=False):
                report = build_demo(actor="test", scale="county")
            yield report
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def county(county_demo, db):
    return Area.objects.get(code=DEMO_COUNTY)


def test_builds_from_the_fixture_when_the_shared_data_is_absent(county_demo):
    assert county_demo.origin == "committed fixture"


def test_counts_match_the_division_data(county_demo, county):
    below = Area.objects.current().filter(path__startswith=county.path)
    levels = collections.Counter(below.values_list("level", flat=True))
    assert levels[Level.TOWN] == 8  # 6 towns + 羊角山林场 + 观音山省级自然保护区
    assert levels[Level.VILLAGE] == 93
    assert Area.objects.filter(code__startswith="4418", level=Level.COUNTY).count() == 8  # 清远's counties
    assert Area.objects.filter(code__startswith="4418", level=Level.VILLAGE).count() == 1234
    assert county_demo.counts["towns in them"] == 8
    assert county_demo.counts["villages in them"] == 93


def test_real_county_boundary_and_synthetic_town_village_boundaries(county_demo, county):
    real = Boundary.objects.get(area=county, valid_to__isnull=True)
    assert not real.synthetic
    assert real.source_crs == "GCJ-02"
    minx, miny, maxx, maxy = real.geometry.bounds
    assert 113.2 < minx < maxx < 113.9 and 23.6 < miny < maxy < 24.2
    synthetic = Boundary.objects.filter(area__path__startswith=county.path, valid_to__isnull=True, synthetic=True)
    assert synthetic.count() == 8 + 93


def test_every_village_has_one_to_four_synthetic_grids(county_demo, county):
    villages = Area.objects.filter(path__startswith=county.path, level=Level.VILLAGE)
    grids = Grid.objects.current().filter(layer__code="comprehensive", area__in=villages)
    per_village = collections.Counter(grids.values_list("area_id", flat=True))
    assert set(per_village) == set(villages.values_list("id", flat=True))
    assert set(per_village.values()) <= {1, 2, 3, 4}
    assert not grids.filter(synthetic=False).exists()
    assert all("（模拟）" in name for name in grids.values_list("name", flat=True))
    assert Grid.objects.current().filter(layer__code="forest-chief", area__parent=county).count() >= 16
    assert Grid.objects.current().filter(layer__code="river-chief").exists()


def test_comprehensive_and_forest_layers_cover_the_county_without_gaps_or_overlaps(county_demo, county):
    for layer in ("comprehensive", "forest-chief"):
        result = check_coverage(county, layer=layer, tolerance_m2=1.0)
        assert result.gaps == [] and result.overlaps == [], layer
        assert result.ok
        assert result.percent > 99.9999
        assert county_demo.coverage[layer][1] == 0
    outline = Boundary.objects.get(area=county, valid_to__isnull=True).geometry
    grids = [g.geometry for g in Grid.objects.current().filter(layer__code="comprehensive")]
    gap, outside, overlap = coverage_errors(outline, grids)
    assert gap < 1.0 and outside < 1.0 and abs(overlap) < 1.0


def test_every_grid_locates_to_itself_at_its_representative_point(county_demo, county):
    for layer in ("comprehensive", "forest-chief"):
        for grid in Grid.objects.current().filter(layer__code=layer):
            point = shapely.point_on_surface(grid.geometry)
            found = locate(point.x, point.y, layer=layer)
            assert found.grid is not None and found.grid.pk == grid.pk, grid.code


def test_centres_at_every_level_with_one_hall_five_rooms(county_demo, county):
    city = county.parent
    town = Area.objects.filter(parent=county).order_by("code").first()
    village = Area.objects.filter(parent=town).order_by("code").first()
    assert Centre.objects.get(area=city).name == "清远市综治中心"
    assert Centre.objects.get(area=county).name == "佛冈县综治中心"
    assert Centre.objects.get(area=town).name == f"{town.name}综治中心"
    assert Centre.objects.filter(area__path__startswith=county.path).count() == 1 + 8 + 93
    for area, rooms in ((city, 6), (county, 6), (town, 6), (village, 1)):
        spaces = ServiceSpace.objects.filter(centre__area=area)
        assert spaces.count() == rooms
        assert spaces.filter(space_type__is_hall=True).count() == 1


def test_departments_with_a_catalogue_of_seeded_categories(county_demo, county):
    police = Department.objects.get(area=county, code="public-security")
    assert police.name == "佛冈县公安局"
    assert police.kind == Department.Kind.POLICE
    assert set(police.categories.values_list("code", flat=True)) >= {"H08", "D0503"}
    assert Department.objects.filter(area=county).count() == len(build.COUNTY_DEPARTMENTS)
    assert Department.objects.filter(area__parent=county).count() == 8 * len(build.TOWN_DEPARTMENTS)
    assert Department.objects.filter(area__parent=county, name__endswith="派出所").count() == 8
    assert not Department.objects.filter(responsibility__isnull=True).exists()


def test_demo_users_get_a_random_password_shown_once(county_demo, county):
    users = {u.username: u for u in county_demo.users}
    assert {"admin", "demo-staff", "demo-staff-police", "demo-staff-town"} <= set(users)
    password = users["admin"].password
    assert password and len(password) >= 12
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    staff = get_user_model().objects.get(username="demo-staff")
    assert staff.is_staff and not staff.is_superuser
    assert Stationing.objects.filter(staff=staff, centre__area=county).exists()


def test_every_role_has_a_demo_user_with_a_current_assignment_in_the_county(county_demo, county):
    current = AreaAssignment.objects.current().select_related("area", "user")
    over_the_county = [a for a in current if a.area.path.startswith(county.path) or county.path.startswith(a.area.path)]
    assert {a.role for a in over_the_county} == set(Role.values)
    listed = {u.username: u for u in county_demo.users}
    for username, role, _where, _description, _staff in DEMO_ROLE_USERS:
        assert any(a.user.username == username and a.role == role for a in over_the_county), username
        assert role in listed[username].role and listed[username].area  # the summary says role and area
    places = {(a.user.username, a.area.level) for a in over_the_county}
    assert ("demo-citizen", Level.VILLAGE) in places and ("demo-leader", Level.COUNTY) in places
    assert ("demo-audit-admin", Level.PROVINCE) in places and ("demo-centre-staff", Level.TOWN) in places


def test_the_demo_grid_member_patrols_a_grid_of_their_village(county_demo, county):
    member = get_user_model().objects.get(username="demo-grid-member")
    village = AreaAssignment.objects.get(user=member, role=Role.GRID_MEMBER).area
    assignment = GridAssignment.objects.current().select_related("grid").get(user=member)
    assert assignment.grid.area_id == village.pk and village.level == Level.VILLAGE


def _posts(username):
    """(role, area of the role, [(grid's area, member kind)]) of a demo user."""
    granted = AreaAssignment.objects.current().select_related("area").get(user__username=username)
    posts = GridAssignment.objects.current().filter(user__username=username).select_related("grid__area")
    return granted.role, granted.area, [(p.grid.area, p.member_kind) for p in posts.order_by("grid__code")]


def test_grid_members_of_every_kind_and_the_informant_are_posted_to_grids(county_demo, county):
    listed = {u.username for u in county_demo.users}
    assert {"demo-grid-professional", "demo-grid-part-time", "demo-informant"} <= listed
    role, town, posts = _posts("demo-grid-professional")
    assert role == Role.GRID_MEMBER and town.level == Level.TOWN and town.parent_id == county.pk
    assert len(posts) == 2 and len({area.pk for area, _kind in posts}) == 2  # a grid in each of two villages
    assert all(area.parent_id == town.pk and kind == MemberKind.PROFESSIONAL for area, kind in posts)
    for username, role_wanted, kind_wanted in (
        ("demo-grid-part-time", Role.GRID_MEMBER, MemberKind.PART_TIME),
        ("demo-informant", Role.INFORMANT, MemberKind.PART_TIME),
    ):
        role, village, posts = _posts(username)
        assert role == role_wanted and village.level == Level.VILLAGE
        assert [(area.pk, kind) for area, kind in posts] == [(village.pk, kind_wanted)], username
    kinds = set(
        GridAssignment.objects.current()
        .filter(user__username__startswith="demo-")
        .values_list("member_kind", flat=True)
    )
    assert kinds == set(MemberKind.values)
    assert not get_user_model().objects.filter(username__startswith="demo-grid", is_staff=True).exists()


# --- second factor ---------------------------------------------------------------------------------------


def test_staff_get_a_confirmed_second_factor_whose_secret_is_listed(county_demo, county):
    listed = {u.username: u for u in county_demo.users}
    with_secret = {name for name, u in listed.items() if u.totp_secret}
    staff = set(get_user_model().objects.filter(username__in=listed, is_staff=True).values_list("username", flat=True))
    assert "admin" in staff and staff <= with_secret
    assert "demo-citizen" not in with_secret and "demo-grid-member" not in with_secret
    devices = TotpDevice.objects.filter(user__username__in=with_secret, confirmed_at__isnull=False)
    assert {d.user.username: d.secret for d in devices.select_related("user")} == {
        name: listed[name].totp_secret for name in with_secret
    }
    assert listed["admin"].totp_uri.startswith("otpauth://totp/fengqiao:admin?secret=" + listed["admin"].totp_secret)
    # the printed login works: the code the authenticator shows now is accepted at sign-in
    admin = get_user_model().objects.get(username="admin")
    assert otp.verify(user=admin, code=pyotp.TOTP(listed["admin"].totp_secret).now()) == "totp"


def test_without_the_second_factor_no_device_is_set_up(county_demo, county):
    TotpDevice.objects.filter(user__username="demo-leader").delete()
    with override_settings(DEMO_NO_2FA=True):
        report = build_demo(actor="test", scale="county", data_dir=ABSENT)
    listed = {u.username: u for u in report.users}
    assert not TotpDevice.objects.filter(user__username="demo-leader").exists()
    assert listed["demo-leader"].totp_secret == "" and report.written["second factors"] == 0
    assert listed["admin"].totp_secret  # enrolled earlier: still asked for at sign-in, so still shown


def test_the_town_centre_staff_scope_covers_their_town_only(county_demo, county):
    staff = get_user_model().objects.get(username="demo-centre-staff")
    town = AreaAssignment.objects.get(user=staff).area
    other = Area.objects.current().filter(parent=county, level=Level.TOWN).exclude(pk=town.pk).first()
    scope = Scope.for_user(staff)
    assert town.level == Level.TOWN and town.parent_id == county.pk
    assert scope.covers(town) and not scope.covers(other) and not scope.covers(county)
    village = Area.objects.filter(parent=town).first()
    assert scope.covers(village)


def test_building_again_changes_nothing(county_demo, county):
    before = {m.__name__: m.objects.count() for m in MODELS}
    hashes = sorted(Grid.objects.values_list("code", "geometry_hash", "updated_at"))
    last_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    again = build_demo(actor="test", scale="county", data_dir=ABSENT)

    assert not again.changed, again.written
    assert all(u.password is None for u in again.users)
    secrets = {u.username: (u.totp_secret, u.totp_uri) for u in county_demo.users}
    assert {u.username: (u.totp_secret, u.totp_uri) for u in again.users} == secrets  # shown again, not replaced
    assert {m.__name__: m.objects.count() for m in MODELS} == before
    assert sorted(Grid.objects.values_list("code", "geometry_hash", "updated_at")) == hashes
    # the division import audits every run, even an unchanged one; the demo itself records nothing
    actions = set(AuditEvent.objects.filter(pk__gt=last_event).values_list("action", flat=True))
    assert actions <= {"areas.import_divisions"}


def test_a_weak_demo_password_is_refused(county_demo, county, monkeypatch):
    monkeypatch.setenv("FENGQIAO_DEMO_PASSWORD", "password")
    with pytest.raises(DemoError, match="too weak"):
        build_demo(actor="test", scale="county", data_dir=ABSENT)


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])  # fast; hashes are checked
def test_a_chosen_demo_password_resets_the_demo_users(county_demo, county, monkeypatch):
    monkeypatch.setenv("FENGQIAO_DEMO_PASSWORD", "fengqiao-demo-Qy6913")
    report = build_demo(actor="test", scale="county", data_dir=ABSENT)
    assert get_user_model().objects.get(username="admin").check_password("fengqiao-demo-Qy6913")
    assert report.written["passwords reset"] == 4 + len(DEMO_ROLE_USERS)


def test_province_scale_needs_the_shared_data(county_demo, db, tmp_path):
    with pytest.raises(DemoError, match="shared reference data"):
        build_demo(actor="test", scale="province", data_dir=tmp_path / "absent")


def test_demo_command_builds_and_prints_a_summary_without_serving(county_demo, county, capsys):
    with override_settings(SHARED_DATA_DIR=ABSENT):
        call_command("demo", "--no-serve")
    out = capsys.readouterr().out
    assert "written this run: nothing (already built)" in out
    assert "comprehensive grids" in out
    assert "admin" in out and "password unchanged" in out
    admin = next(u for u in county_demo.users if u.username == "admin")
    assert f"TOTP secret: {admin.totp_secret}  {admin.totp_uri}" in out
    assert "authenticator app" in out and "FENGQIAO_DEMO_NO_2FA" not in out
    centre_staff = next(line for line in out.splitlines() if "demo-centre-staff" in line)
    town = AreaAssignment.objects.get(user__username="demo-centre-staff").area
    assert "centre_staff" in centre_staff and town.name in centre_staff


# --- synthetic residents ---------------------------------------------------------------------------------


def test_synthetic_residents_households_buildings_places_and_organisations(county_demo, county):
    villages = Area.objects.filter(path__startswith=county.path, level=Level.VILLAGE)
    persons = Person.objects.filter(area__in=villages)
    assert 1000 <= persons.count() <= 3000
    assert county_demo.counts["persons"] == persons.count()
    assert set(Household.objects.values_list("area_id", flat=True)) == set(villages.values_list("id", flat=True))
    assert all(n.startswith("SIM-") for n in Household.objects.values_list("number", flat=True))
    for household in Household.objects.annotate(n=Count("members")):
        assert 2 <= household.n <= 5
        assert household.members.filter(relationship="head").count() == 1
    assert Building.objects.filter(grid__isnull=False).count() >= Grid.objects.filter(area__in=villages).count()
    kinds = set(Place.objects.values_list("kind", flat=True))
    assert {"shop", "rental_house", "enterprise"} <= kinds
    rentals = Place.objects.filter(kind="rental_house")
    assert len(set(rentals.values_list("safety_status", flat=True))) > 1
    assert not rentals.exclude(safety_status="none").filter(safety_date__isnull=True).exists()
    assert Organisation.objects.filter(area__parent=county).count() >= 8
    assert all("（模拟）" in n for n in [*Place.objects.values_list("name", flat=True)])
    assert county_demo.written["persons"] == persons.count()


def test_every_synthetic_id_number_validates_and_gives_the_birth_date_and_sex(county_demo, county):
    numbers = set()
    for person in Person.objects.all():
        parsed = parse_id_number(person.id_number)
        assert parsed.region_code == DEMO_COUNTY[:6] == "441821"
        assert 990 <= int(person.id_number[14:17]) <= 999  # the synthetic band
        assert (parsed.birth_date, parsed.sex) == (person.birth_date, person.sex)
        assert person.id_number_hash == lookup_hash(person.id_number)
        assert person.phone.startswith("1990000") and person.phone_hash == lookup_hash(person.phone)
        numbers.add(person.id_number)
    assert len(numbers) == Person.objects.count()


def test_personal_data_is_encrypted_at_rest(county_demo, county):
    person = Person.objects.exclude(phone="").first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, id_number, phone FROM people_person WHERE id = %s", [person.pk])
        raw = cursor.fetchone()
        cursor.execute("SELECT address FROM people_household WHERE id = %s", [person.household_id])
        raw_address = cursor.fetchone()[0]
    assert all(value.startswith("enc1:") for value in [*raw, raw_address])
    assert person.name not in raw[0] and person.id_number not in raw[1] and person.phone not in raw[2]


def test_the_residents_are_the_same_for_the_same_seed(county_demo, county):
    villages = list(Area.objects.filter(path__startswith=county.path, level=Level.VILLAGE).order_by("code"))[:3]
    first = residents.plan_residents(villages, {}, [], seed=42)
    second = residents.plan_residents(villages, {}, [], seed=42)
    assert [p.id_number for *_k, p in first.members] == [p.id_number for *_k, p in second.members]
    assert [p.name for *_k, p in first.members] == [p.name for *_k, p in second.members]


# --- special care ----------------------------------------------------------------------------------------


def test_special_care_records_of_every_category_in_every_town(county_demo, county):
    today = timezone.localdate()
    records = list(SpecialCare.objects.select_related("person__area__parent", "person__household"))
    assert county_demo.counts["special care records"] == len(records) == county_demo.written["special care records"]
    by_town = collections.defaultdict(set)
    for record in records:
        by_town[record.person.area.parent.code].add(record.category)
        assert record.person.household.number.startswith("SIM-")  # synthetic persons only
        assert record.details.startswith("（模拟）")
        assert record.since <= today < record.retention_until
        if record.category == SpecialCare.Category.MENTAL_ILLNESS:
            assert 0 <= record.risk_level <= 5
        else:
            assert record.risk_level is None
    categories = set(SpecialCare.Category.values) - {SpecialCare.Category.OTHER}
    big_towns = [
        code
        for code, n in collections.Counter(Person.objects.values_list("area__parent__code", flat=True)).items()
        if n >= care.TOWN_MINIMUM_RESIDENTS
    ]
    assert len(big_towns) == 6  # the six real towns, not the forest farm and the nature reserve
    assert all(by_town[code] == categories for code in big_towns)
    assert len({r.person_id for r in records}) == len(records)  # one group per person


def test_special_care_proportions_are_plausible(county_demo, county):
    persons = Person.objects.count()
    counts = collections.Counter(SpecialCare.objects.values_list("category", flat=True))
    assert 0.002 <= counts[SpecialCare.Category.MENTAL_ILLNESS] / persons <= 0.006  # about 0.4 %
    for rare in ("community_correction", "released_prisoner", "crisis"):
        assert 1 <= counts[rare] < counts[SpecialCare.Category.ELDERLY]
    elderly = SpecialCare.objects.filter(category=SpecialCare.Category.ELDERLY).select_related("person__area")
    in_villages = sum(care._rural(r.person.area) for r in elderly)
    assert in_villages > len(elderly) - in_villages  # left-behind elderly live mostly in villages (村)


def test_special_care_details_are_encrypted_and_every_record_is_audited(county_demo, county):
    record = SpecialCare.objects.first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT details FROM people_specialcare")
        raw = [row[0] for row in cursor.fetchall()]
    assert raw and all(value.startswith("enc1:") and "模拟" not in value for value in raw)
    assert record.details not in raw
    events = AuditEvent.objects.filter(action="people.specialcare.create", actor_label="test")
    assert events.count() == SpecialCare.objects.count()
    assert not events.filter(summary__contains=record.category).exists()  # the category stays out of the audit


def test_the_same_persons_are_chosen_for_the_same_seed(county_demo, county):
    town = Area.objects.filter(parent=county, level=Level.TOWN).order_by("code").first()
    villages = {v.pk: v for v in Area.objects.filter(parent=town)}
    persons = sorted(Person.objects.filter(area__parent=town), key=lambda p: p.id_number)
    today = datetime.date(2026, 11, 25)
    first = care.plan_care(town, persons, villages, seed=42, today=today)
    second = care.plan_care(town, list(persons), villages, seed=42, today=today)
    assert [(p.pk, *rest) for p, *rest in first] == [(p.pk, *rest) for p, *rest in second]
    other = care.plan_care(town, persons, villages, seed=7, today=today)
    assert [p.pk for p, *_rest in other] != [p.pk for p, *_rest in first]


def test_the_demo_takes_synthetic_matters_through_the_loop(county):
    from fengqiao.matters.models import Matter, MatterEvent, Supervision

    matters = Matter.objects.filter(source="demo")
    states = set(matters.values_list("state", flat=True))
    assert {"submitted", "accepted", "dispatched", "in_progress", "handled", "closed", "merged", "declined"} <= states
    assert matters.filter(solved_on_spot=True).exists() and matters.filter(rating="satisfied").exists()
    assert matters.filter(warning="red").exists() and Supervision.objects.filter(automatic=True).exists()
    assert MatterEvent.objects.filter(action="report_in").exists() or matters.filter(dispatches__role="assist").exists()
    # synthetic reporters only: reserved phone band, marked names
    assert all(m.reporter_phone.startswith("199000") for m in matters.exclude(reporter_phone=""))
    assert all("模拟" in m.reporter_name for m in matters.exclude(reporter_name=""))
