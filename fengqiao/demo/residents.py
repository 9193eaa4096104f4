"""Synthetic residents for the county demo: households, persons, buildings, places and organisations.

EVERYTHING HERE IS SYNTHETIC — never real people's data. Names are drawn at random from lists of common
surnames and given-name characters; addresses, household numbers ("SIM-…"), buildings, places and organisations
are invented and marked "（模拟）". ID numbers are *well-formed* (GB 11643: the demo county's code 441821, a
plausible birth date, and a valid check digit from `fengqiao.core.identity.check_digit`, so the validation and
the derived birth date and sex can be demonstrated), but their 3-digit sequence number is always 990–999, a
narrow band chosen so that a demo number is recognisable as such; they are not taken from any real record.
Phones are 1990000xxxx, one per person, counted up from 19900000000.

Generated deterministically from the seed and each village's code (`random.Random`, no database reads), so two
builds produce the same people. Rows are written with the validation of the people services (ID number and
phone parsing, model `full_clean`) and their encryption (EncryptedTextField, keyed hashes), but in bulk: one
INSERT per table instead of thousands of service calls and audit events; the demo build records one summarising
audit event. Rows whose natural key already exists (household number + area, ID number hash, address + grid,
name + area) are skipped, so a second build writes nothing.
"""

import datetime
import random
from dataclasses import dataclass, field

from django.utils import timezone

from fengqiao.areas.codes import Level
from fengqiao.areas.models import Area, Grid
from fengqiao.core.crypto import EncryptedTextField
from fengqiao.core.identity import check_digit
from fengqiao.demo import plan as planning
from fengqiao.demo.bulk import insert_rows
from fengqiao.people import services
from fengqiao.people.models import Building, Household, Organisation, Person, Place

SURNAMES = list("陈李黄朱张刘林何罗梁郑谢欧邓冯曾彭潘钟温赖邱廖汤徐")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰辉志文建国海燕红梅冬晓嘉俊浩宇欣怡子轩雅婷")
SHOP_KINDS = ["小卖部", "粮油店", "五金店", "农资店", "早餐店"]
ID_SEQUENCES = range(990, 1000)  # the synthetic band (see the module docstring)
PHONE_BASE = 19900000000
REFERENCE_YEAR = 2024  # birth dates are computed against a fixed year, not today, so builds are reproducible
HOUSEHOLDS_PER_VILLAGE = (5, 7)
BUILDINGS_PER_GRID = (2, 3)
SAFETY_CYCLE = [Place.Safety.CERTIFIED, Place.Safety.APPLIED, Place.Safety.NONE, Place.Safety.REVOKED]


@dataclass
class Plan:
    households: list = field(default_factory=list)  # Household (unsaved)
    members: list = field(default_factory=list)  # (household number, area pk, Person unsaved)
    buildings: list = field(default_factory=list)
    places: list = field(default_factory=list)
    organisations: list = field(default_factory=list)


def synthetic_id_number(rng, region, birth, male, used):
    """A valid GB 11643 number for `region` (6 digits) with a sequence number from the synthetic band."""
    for _attempt in range(40):
        seq = rng.choice([s for s in ID_SEQUENCES if (s % 2 == 1) == male])
        first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
        number = first17 + check_digit(first17)
        if number not in used:
            used.add(number)
            return number
        birth += datetime.timedelta(days=1)
    raise RuntimeError("no free synthetic ID number")  # not reached at the demo's size


def _birth(rng, year):
    year = max(1930, min(year, REFERENCE_YEAR - 1))
    return datetime.date(year, 1, 1) + datetime.timedelta(days=rng.randrange(365))


def _name(rng, surname=None):
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return (surname or rng.choice(SURNAMES)) + given


def _members(rng, size):
    """[(relationship, male, birth year offset from the head)] for a household of `size` persons."""
    head_male = rng.random() < 0.75
    members = [("head", head_male, 0), ("spouse", not head_male, rng.randint(-4, 4))]
    for _i in range(size - 2):
        if rng.random() < 0.25 and not any(r == "parent" for r, *_rest in members):
            members.append(("parent", rng.random() < 0.5, -rng.randint(22, 32)))
        else:
            members.append(("child", rng.random() < 0.5, rng.randint(22, 36)))
    return members[:size]


def plan_residents(villages, grids_by_village, towns, *, seed):
    """The synthetic rows for `villages` (code order) and `towns`; pure apart from the objects passed in."""
    plan = Plan()
    used_ids = set()
    phone = PHONE_BASE
    for village in villages:
        rng = random.Random(f"{seed}:residents:{village.code}")
        label = planning.place_label(village.name)
        grids = grids_by_village.get(village.pk, [])
        for index in range(1, rng.randint(*HOUSEHOLDS_PER_VILLAGE) + 1):
            grid = grids[index % len(grids)] if grids else None
            number = f"SIM-{village.code}-{index:02d}"
            plan.households.append(
                Household(
                    area=village, grid=grid, number=number, address=f"{label}{index}巷{rng.randint(1, 40)}号（模拟）"
                )
            )
            surname = rng.choice(SURNAMES)
            head_year = rng.randint(1950, 1995)
            for relationship, male, offset in _members(rng, rng.randint(2, 5)):
                birth = _birth(rng, head_year + offset)
                own_surname = surname if relationship in ("head", "child") else None
                values = services.identity_fields(
                    synthetic_id_number(rng, village.code[:6], birth, male, used_ids), str(phone)
                )
                phone += 1
                person = Person(
                    area=village,
                    grid=grid,
                    relationship=relationship,
                    residence_type=rng.choices(
                        [Person.ResidenceType.RESIDENT, Person.ResidenceType.REGISTERED, Person.ResidenceType.FLOATING],
                        weights=[6, 3, 1],
                    )[0],
                    name=_name(rng, own_surname),
                    ethnicity="汉族",
                    **values,
                )
                plan.members.append((number, village.pk, person))
        for grid in grids:
            for k in range(1, rng.randint(*BUILDINGS_PER_GRID) + 1):
                plan.buildings.append(
                    Building(
                        area=village,
                        grid=grid,
                        address=f"{label}{grid.code[-2:]}网格{k}号楼（模拟）",
                        floors=rng.randint(1, 6),
                        use=rng.choices([Building.Use.RESIDENTIAL, Building.Use.MIXED], weights=[4, 1])[0],
                    )
                )
    for town in towns:
        rng = random.Random(f"{seed}:places:{town.code}")
        town_villages = [v for v in villages if v.parent_id == town.pk]
        if not town_villages:
            continue
        specs = [(Place.Kind.SHOP, f"{rng.choice(SURNAMES)}记{kind}") for kind in rng.sample(SHOP_KINDS, 2)]
        specs += [(Place.Kind.RENTAL_HOUSE, f"{rng.choice(SURNAMES)}氏出租屋{n}号") for n in (1, 2)]
        specs.append((Place.Kind.ENTERPRISE, f"{town.name}{rng.choice(['竹木', '农产品', '五金'])}加工厂"))
        for i, (kind, name) in enumerate(specs):
            village = town_villages[i % len(town_villages)]
            grids = grids_by_village.get(village.pk, [])
            status = SAFETY_CYCLE[(i + rng.randrange(4)) % 4] if kind == Place.Kind.RENTAL_HOUSE else Place.Safety.NONE
            plan.places.append(
                Place(
                    area=village,
                    grid=grids[0] if grids else None,
                    kind=kind,
                    name=f"{name}（模拟）",
                    address=f"{planning.place_label(village.name)}（模拟地址）",
                    safety_status=status,
                    safety_date=None
                    if status == Place.Safety.NONE
                    else datetime.date(REFERENCE_YEAR, 1, 1) + datetime.timedelta(days=rng.randrange(300)),
                )
            )
        plan.organisations += [
            Organisation(area=town, kind=Organisation.Kind.VOLUNTEER, name=f"{town.name}平安志愿队（模拟）"),
            Organisation(area=town, kind=Organisation.Kind.SOCIAL, name=f"{town.name}乡贤理事会（模拟）"),
            Organisation(area=town, kind=Organisation.Kind.CHAMBER, name=f"{town.name}商会（模拟）"),
        ]
    return plan


def _insert(model, objs):
    """Validate `objs` like the services do (full_clean) and INSERT them, encrypting the personal fields."""
    now = timezone.now()
    meta = model._meta
    fields = [f.name for f in meta.concrete_fields if not f.primary_key and f.name not in ("created_at", "updated_at")]
    rows = []
    for obj in objs:
        services._full_clean(obj)
        row = []
        for name in fields:
            f = meta.get_field(name)
            value = getattr(obj, f.attname)
            row.append(f.get_prep_value(value) if isinstance(f, EncryptedTextField) else value)
        rows.append((*row, now, now))
    return insert_rows(model, [*fields, "created_at", "updated_at"], rows)


def write_residents(report, scope, *, seed):
    """Households, persons, buildings, places and organisations for the demo county (missing ones only)."""
    county = scope.demo_county
    if county is None or county.valid_to is not None:
        return
    below = Area.objects.current().filter(path__startswith=county.path)
    villages = list(below.filter(level=Level.VILLAGE).order_by("code"))
    towns = list(below.filter(level=Level.TOWN).order_by("code"))
    grids_by_village = {}
    comprehensive = Grid.objects.current().filter(area__in=villages, layer__code=planning.COMPREHENSIVE)
    for grid in comprehensive.order_by("code"):
        grids_by_village.setdefault(grid.area_id, []).append(grid)
    plan = plan_residents(villages, grids_by_village, towns, seed=seed)

    have = set(Household.objects.filter(area__in=villages).values_list("number", "area_id"))
    households = [h for h in plan.households if (h.number, h.area_id) not in have]
    report.written["households"] += _insert(Household, households)
    household_id = {
        (n, a): pk for pk, n, a in Household.objects.filter(area__in=villages).values_list("id", "number", "area_id")
    }
    have = set(Person.objects.exclude(id_number_hash="").values_list("id_number_hash", flat=True))
    persons = []
    for number, area_id, person in plan.members:
        if person.id_number_hash not in have:
            person.household_id = household_id[(number, area_id)]
            persons.append(person)
    report.written["persons"] += _insert(Person, persons)

    have = set(Building.objects.filter(area__in=villages).values_list("address", "grid_id"))
    buildings = [b for b in plan.buildings if (b.address, b.grid_id) not in have]
    report.written["buildings"] += _insert(Building, buildings)
    have = set(Place.objects.filter(area__in=villages).values_list("name", "area_id"))
    places = [p for p in plan.places if (p.name, p.area_id) not in have]
    report.written["places"] += _insert(Place, places)
    have = set(Organisation.objects.filter(area__in=towns).values_list("name", "area_id"))
    organisations = [o for o in plan.organisations if (o.name, o.area_id) not in have]
    report.written["organisations"] += _insert(Organisation, organisations)
