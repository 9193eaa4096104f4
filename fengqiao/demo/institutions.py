"""The demo's institutions: governance centres with their service spaces, departments with their catalogue of
responsibilities, and the demo users: staff stationed in centres through the centres service, and one user per
role (ADR 0009) granted over a real place of the demo county through the accounts services, with grid members
of each kind (专职, 专业, 兼职) and the informant posted to grids.

Users who must sign in with a second factor (`security.policy.second_factor_required`: staff and superusers,
unless FENGQIAO_DEMO_NO_2FA is set) get a TOTP device through the security enrolment service, so that the
printed logins work: the build confirms it with a code computed from the secret, like a phone would (ADR 0010).
The secret is stored encrypted and printed on every run; it is never replaced by a rebuild.

Rows that already exist are left alone, so a rebuild writes nothing.
"""

import datetime
import os
import secrets
from dataclasses import dataclass

import pyotp
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone

from fengqiao.accounts.models import AreaAssignment, GridAssignment, MemberKind, Role
from fengqiao.accounts.services import assign_grid, grant_area_role
from fengqiao.areas.codes import Level
from fengqiao.areas.models import Area, Grid
from fengqiao.centres.models import Centre, ServiceSpace, SpaceType, Stationing
from fengqiao.demo import plan as planning
from fengqiao.demo import sources
from fengqiao.demo.bulk import insert_rows
from fengqiao.demo.catalogue import COUNTY_DEPARTMENTS, TOWN_DEPARTMENTS, department_name
from fengqiao.demo.sources import DemoError
from fengqiao.departments.models import Category, Department, Responsibility
from fengqiao.security import clock, policy
from fengqiao.security.models import TotpDevice
from fengqiao.security.services import otp

FLOOR_AREA = {Level.CITY: 1000, Level.COUNTY: 500, Level.TOWN: 200, Level.VILLAGE: 60}  # domain.md §4
HALL_SEATS = {Level.CITY: 40, Level.COUNTY: 30, Level.TOWN: 20, Level.VILLAGE: 8}

STAFF_GROUP = "demo-staff"
STAFF_APPS = ("areas", "centres", "departments")
DEMO_STAFF = [
    # username, role, centre ("county" or "town" = the demo county's first town), department code, space type
    ("demo-staff", "县综治中心工作人员（司法局派驻）", "county", "justice", "dispute-mediation"),
    ("demo-staff-police", "县综治中心工作人员（公安局派驻）", "county", "public-security", "monitoring-analysis"),
    ("demo-staff-town", "镇综治中心工作人员（综治办）", "town", "comprehensive-governance", "grid-management"),
]
# One user per role (accounts.Role), over a place of the demo county: "village" = the first village of "town"
# (the county's first town), "county", or "province". Office roles get is_staff (the admin site).
# username, role, place, description, is_staff
DEMO_ROLE_USERS = [
    ("demo-citizen", Role.CITIZEN, "village", "村民", False),
    ("demo-grid-member", Role.GRID_MEMBER, "village", "专职网格员（负责本村一个综合网格）", False),
    ("demo-grid-professional", Role.GRID_MEMBER, "town", "专业网格员（镇派出所社区民警，进驻两个村的综合网格）", False),
    ("demo-grid-part-time", Role.GRID_MEMBER, "village", "兼职网格员（村干部兼任）", False),
    ("demo-informant", Role.INFORMANT, "village", "村平安信息员（报告本村一个综合网格的情况）", False),
    ("demo-centre-staff", Role.CENTRE_STAFF, "town", "镇综治中心工作人员", True),
    ("demo-department-staff", Role.DEPARTMENT_STAFF, "county", "县职能部门工作人员", True),
    ("demo-mediator", Role.MEDIATOR, "town", "镇人民调解员", False),
    ("demo-leader", Role.LEADER, "county", "县委政法委领导", True),
    ("demo-volunteer", Role.VOLUNTEER, "town", "平安志愿者", False),
    ("demo-administrator", Role.ADMINISTRATOR, "county", "县综治中心业务管理员", True),
    ("demo-system-admin", Role.SYSTEM_ADMIN, "province", "系统管理员（三权分立）", True),
    ("demo-security-admin", Role.SECURITY_ADMIN, "province", "安全管理员（三权分立）", True),
    ("demo-audit-admin", Role.AUDIT_ADMIN, "province", "审计管理员（三权分立）", True),
]
# Grid posts (accounts.GridAssignment) of the role users above: user name, member kind, and which comprehensive
# grids: "first" / "last" = the village's first / last grid (the same one when it has only one), "villages" = the
# first grid of each of the first two villages of the town. The informant's post is part-time (信息员 are
# volunteers; GridAssignment has no kind of its own for them).
DEMO_GRID_POSTS = [
    ("demo-grid-member", MemberKind.FULL_TIME, "first"),
    ("demo-grid-professional", MemberKind.PROFESSIONAL, "villages"),
    ("demo-grid-part-time", MemberKind.PART_TIME, "last"),
    ("demo-informant", MemberKind.PART_TIME, "first"),
]


@dataclass
class DemoUser:
    username: str
    role: str
    password: str | None  # set only when this run chose or reset it (printed once, never stored)
    area: str = ""  # where the role or post is held
    totp_secret: str = ""  # the user's TOTP secret when they have a second factor (printed on every run)
    totp_uri: str = ""  # the same as an otpauth:// URI


@dataclass
class Scope:
    """The areas the demo fills with centres and departments."""

    units: list  # county-level Areas (counties, or cities without counties)
    centre_areas: list  # city, county, town and village Areas
    towns: list
    demo_county: Area | None


def make_scope(unit_codes, areas):
    unit_areas = [areas[c] for c in sorted(unit_codes)]
    centre_areas = sorted(
        (a for a in areas.values() if a.valid_to is None and Level.CITY <= a.level <= Level.VILLAGE),
        key=lambda a: a.code,
    )
    towns = [a for a in centre_areas if a.level == Level.TOWN]
    return Scope(unit_areas, centre_areas, towns, areas.get(sources.DEMO_COUNTY))


def centre_name(area):
    """清远市综治中心, 佛冈县综治中心, 汤塘镇综治中心, 汤塘社区综治中心."""
    if area.level == Level.VILLAGE:
        return f"{planning.place_label(area.name)}综治中心"
    return f"{area.name}综治中心"


def write_centres(report, scope):
    """A centre for every city, county, town and village in scope: "一厅五室" above village level, a reception
    hall in villages."""
    now = timezone.now()
    have_centre = set(Centre.objects.values_list("area_id", flat=True))
    rows = [
        (
            area.pk,
            centre_name(area),
            f"{area.name}（模拟地址）",
            "",
            None,
            FLOOR_AREA[Level(area.level)],
            True,
            now,
            now,
        )
        for area in scope.centre_areas
        if area.pk not in have_centre
    ]
    insert_rows(
        Centre,
        ["area", "name", "address", "duty_phone", "opened_on", "floor_area_m2", "active", "created_at", "updated_at"],
        rows,
    )
    report.written["centres"] += len(rows)

    types = list(SpaceType.objects.order_by("order", "code"))
    halls = [t for t in types if t.is_hall][:1]
    level_of = {a.pk: Level(a.level) for a in scope.centre_areas}
    have_space = set(ServiceSpace.objects.values_list("centre_id", "space_type_id"))
    rows = []
    for centre_id, area_id in Centre.objects.values_list("id", "area_id"):
        level = level_of.get(area_id)
        if level is None:
            continue
        for space_type in halls if level == Level.VILLAGE else types:
            if (centre_id, space_type.pk) not in have_space:
                seats = HALL_SEATS[level] if space_type.is_hall else None
                rows.append((centre_id, space_type.pk, space_type.name, seats, True))
    insert_rows(ServiceSpace, ["centre", "space_type", "name", "seats", "active"], rows)
    report.written["service spaces"] += len(rows)


def write_departments(report, scope):
    """County-level departments in every county-level unit, a few offices in every town, and their catalogue."""
    now = timezone.now()
    wanted = [(area, spec) for area in scope.units for spec in COUNTY_DEPARTMENTS]
    wanted += [(area, spec) for area in scope.towns for spec in TOWN_DEPARTMENTS]
    have = set(Department.objects.values_list("area_id", "code"))
    rows = [
        (area.pk, spec.code, department_name(spec, area), spec.name, spec.kind, "", True, now, now)
        for area, spec in wanted
        if (area.pk, spec.code) not in have
    ]
    insert_rows(
        Department,
        ["area", "code", "name", "short_name", "kind", "office_phone", "active", "created_at", "updated_at"],
        rows,
    )
    report.written["departments"] += len(rows)

    department_id = {(a, c): pk for pk, a, c in Department.objects.values_list("id", "area_id", "code")}
    category_id = dict(Category.objects.values_list("code", "id"))
    have = set(Responsibility.objects.values_list("department_id", "category_id"))
    rows = []
    for area, spec in wanted:
        dep = department_id[(area.pk, spec.code)]
        for code, lead in spec.responsibilities:
            cat = category_id.get(code)
            if cat is not None and (dep, cat) not in have:
                have.add((dep, cat))
                rows.append((dep, cat, lead, "演示数据"))
    insert_rows(Responsibility, ["department", "category", "lead", "note"], rows)
    report.written["responsibilities"] += len(rows)


def demo_password():
    """FENGQIAO_DEMO_PASSWORD if set (it must pass the password validators), else a fresh random one.

    Returns (password, chosen): chosen is True when it came from the environment."""
    given = os.environ.get("FENGQIAO_DEMO_PASSWORD", "")
    if given:
        try:
            validate_password(given)
        except ValidationError as exc:
            raise DemoError("FENGQIAO_DEMO_PASSWORD is too weak: " + " ".join(exc.messages)) from None
        return given, True
    return secrets.token_urlsafe(12), False


def write_users(report, *, actor, password=None):
    """`admin` (superuser) and the demo staff, who share one password: random and shown once, or chosen with
    FENGQIAO_DEMO_PASSWORD (which also resets it for existing demo users). `password` is demo_password()'s
    result when the caller already asked for it."""
    User = get_user_model()
    password, chosen = password or demo_password()
    hashed = None

    def ensure(username, role, area=None, **flags):
        nonlocal hashed
        where = f"{area.name} {area.code}" if area is not None else ""
        user = User.objects.filter(username=username).first()
        if user is not None and not (chosen and not user.check_password(password)):
            report.users.append(DemoUser(username, role, None, where))
            return user
        hashed = hashed or make_password(password)  # hashed once: hashing is deliberately slow
        if user is None:
            user = User.objects.create(username=username, password=hashed, **flags)
            report.written["users"] += 1
        else:
            user.password = hashed
            user.save(update_fields=["password"])
            report.written["passwords reset"] += 1
        report.users.append(DemoUser(username, role, password, where))
        return user

    ensure("admin", "系统管理员（超级用户）", is_staff=True, is_superuser=True)
    group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    perms = Permission.objects.filter(content_type__app_label__in=STAFF_APPS, codename__startswith="view_")
    missing = set(perms) - set(group.permissions.all())
    if missing:
        group.permissions.add(*missing)
    county = Area.objects.filter(code=sources.DEMO_COUNTY).first()
    town = Area.objects.filter(parent=county, level=Level.TOWN).order_by("code").first() if county else None
    for username, role, where, dep_code, space_code in DEMO_STAFF:
        area = county if where == "county" else town
        user = ensure(username, role, area, is_staff=True)
        if not user.groups.filter(pk=group.pk).exists():
            user.groups.add(group)
        if area is not None:
            _station(report, actor=actor, user=user, area=area, dep_code=dep_code, space_code=space_code, duty=role)
    places = _role_places(county)
    if places is not None:
        for username, role, where, description, is_staff in DEMO_ROLE_USERS:
            area = places[where]
            user = ensure(username, f"{description} [{role}]", area, is_staff=is_staff)
            _grant(report, actor=actor, user=user, area=area, role=role)
        _post_to_grids(report, actor=actor, places=places)
    _second_factors(report)


def _role_places(county):
    """{"village", "town", "county", "province"} Areas for the role users (and "villages": the town's first two
    villages), or None without the demo county."""
    if county is None or county.valid_to is not None:
        return None
    town = Area.objects.current().filter(parent=county, level=Level.TOWN).order_by("code").first()
    below = Area.objects.current().filter(parent=town, level=Level.VILLAGE) if town else Area.objects.none()
    villages = list(below.order_by("code")[:2])
    province = next((a for a in county.ancestors(include_self=False) if a.level == Level.PROVINCE), None)
    if None in (town, province) or not villages:
        return None
    return {"village": villages[0], "villages": villages, "town": town, "county": county, "province": province}


def _grant(report, *, actor, user, area, role):
    if AreaAssignment.objects.current().filter(user=user, area=area, role=role).exists():
        return
    grant_area_role(actor=actor, user=user, area=area, role=role, note="演示数据")
    report.written["role assignments"] += 1


def _post_to_grids(report, *, actor, places):
    """Post the grid members and the informant to their grids (DEMO_GRID_POSTS); existing posts are kept."""
    User = get_user_model()
    comprehensive = Grid.objects.current().filter(layer__code=planning.COMPREHENSIVE).order_by("code")
    first_village = list(comprehensive.filter(area=places["village"]))
    grids_of = {
        "first": first_village[:1],
        "last": first_village[-1:],
        "villages": [g for g in (comprehensive.filter(area=v).first() for v in places["villages"]) if g is not None],
    }
    for username, kind, which in DEMO_GRID_POSTS:
        user = User.objects.get(username=username)
        posted = set(GridAssignment.objects.current().filter(user=user).values_list("grid_id", flat=True))
        for grid in grids_of[which]:
            if grid.pk not in posted:
                assign_grid(actor=actor, user=user, grid=grid, member_kind=kind)
                report.written["grid assignments"] += 1


def _second_factors(report):
    """A confirmed TOTP device for every listed user who must have one; the secret of everyone who has one.

    A user with a confirmed device keeps it (and its secret). Otherwise the security enrolment service starts
    one (or takes the one waiting) and confirms it with the code of the previous 30-second step, which it accepts
    for clock drift: the code the user's app shows now is then still unused (a code is accepted only once)."""
    users = {u.username: u for u in get_user_model().objects.filter(username__in=[d.username for d in report.users])}
    devices = {d.user_id: d for d in TotpDevice.objects.filter(user__in=users.values())}
    for listed in report.users:
        user = users[listed.username]
        device = devices.get(user.pk)
        if (device is None or device.confirmed_at is None) and policy.second_factor_required(user):
            device = otp.start_enrolment(user=user)
            totp = pyotp.TOTP(device.secret)
            otp.confirm_enrolment(user=user, code=totp.at(clock.now() - datetime.timedelta(seconds=totp.interval)))
            device.refresh_from_db()
            report.written["second factors"] += 1
        if device is not None and device.confirmed_at is not None:
            listed.totp_secret = device.secret
            listed.totp_uri = otp.provisioning_uri(device)


def _station(report, *, actor, user, area, dep_code, space_code, duty):
    from fengqiao.centres.services import station_staff

    centre = Centre.objects.filter(area=area).first()
    department = Department.objects.filter(area=area, code=dep_code).first()
    if centre is None or department is None or Stationing.objects.filter(centre=centre, staff=user).exists():
        return
    station_staff(
        actor=actor,
        centre=centre,
        department=department,
        staff=user,
        valid_from=timezone.localdate(),
        duty=duty,
        space=ServiceSpace.objects.filter(centre=centre, space_type__code=space_code).first(),
    )
    report.written["stationings"] += 1
