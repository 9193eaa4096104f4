"""Synthetic special care records for the county demo (JM7, SZ6): community correction, released prisoners,
severe mental illness with its 0–5 risk level, left-behind elderly and children, people in crisis.

EVERYTHING HERE IS SYNTHETIC — never real people's data. The records are attached only to the demo's synthetic
persons (households numbered "SIM-…", see `residents`), and their details say "（模拟）".

How many, per town (of the synthetic residents, so the demo's small population gives small numbers):
- the rare groups in proportion to all residents: severe mental illness 0.4 %, released prisoners and people in
  crisis 0.2 %, community correction 0.1 % (rounded, at least one in every town with 100 or more residents);
- the left-behind groups in proportion to those of the age: 15 % of the over-60s in villages (村) and 3 % in
  urban communities (社区); 10 % of the 3–14-year-olds in villages and 2 % in communities (at least one of each in
  a town with 100 or more residents, if anyone is of the age).
A person is in one group at most. Which persons is decided by the seed and the town's code, over the persons
ordered by ID number, so two builds choose the same people.

Dates are relative to the day of the build, so that no record is already past its retention period (the
retention job would erase it and the next build would write it again): the records began in the past and are
kept into the future, by category (`care_dates`). These are demo values, not periods taken from a regulation,
except the five-year 安置帮教 period of released prisoners.

Unlike the bulk rows of `residents`, the records are written one by one through
`people.services.create_special_care`, so the details are encrypted and every record has its audit event, as
for records entered by staff. A record whose (person, category) already exists is skipped: a second build
writes nothing.
"""

import datetime
import random

from django.utils import timezone

from fengqiao.areas.codes import Level
from fengqiao.areas.models import Area
from fengqiao.demo import plan as planning
from fengqiao.people import services
from fengqiao.people.models import Person, SpecialCare

Category = SpecialCare.Category
SYNTHETIC_HOUSEHOLDS = "SIM-"  # household numbers of the synthetic residents (`residents`)
TOWN_MINIMUM_RESIDENTS = 100  # towns this large get at least one record of every category

# Rare groups: share of all the town's residents, and the ages (inclusive) and weight of men when choosing.
RARE = {
    Category.COMMUNITY_CORRECTION: (0.001, (18, 65), 4.0),
    Category.RELEASED_PRISONER: (0.002, (20, 70), 9.0),
    Category.MENTAL_ILLNESS: (0.004, (16, 90), 1.0),
    Category.CRISIS: (0.002, (16, 90), 1.0),
}
# Left-behind groups: the ages (inclusive), and the share of those of the age in a village (村) / community (社区).
LEFT_BEHIND = {
    Category.ELDERLY: ((60, 120), 0.15, 0.03),
    Category.CHILD: ((3, 14), 0.10, 0.02),
}
CORRECTION_MONTHS = [6, 12, 18, 24, 36]  # terms of community correction
RISK_LEVELS = [0, 1, 2, 3, 4, 5]
RISK_WEIGHTS = [30, 30, 20, 10, 7, 3]  # most patients are stable (level 0–1); few are at level 4–5

DETAILS = {
    Category.COMMUNITY_CORRECTION: ["（模拟）社区矫正对象，矫正期{months}个月，每月到司法所报到，网格员每周走访。"],
    Category.RELEASED_PRISONER: [
        "（模拟）刑满释放人员，安置帮教期内，已落实帮教小组，协助联系就业。",
        "（模拟）刑满释放人员，安置帮教期内，在家务农，家属配合帮教。",
    ],
    Category.MENTAL_ILLNESS: ["（模拟）严重精神障碍患者，风险等级{level}级，由家属监护，按期随访服药。"],
    Category.ELDERLY: [
        "（模拟）子女在外务工，老人在家留守，网格员每周探访一次。",
        "（模拟）子女在外务工，与老伴同住，患慢性病，村医定期上门。",
    ],
    Category.CHILD: [
        "（模拟）父母在外务工，由祖父母照看，在本地上学。",
        "（模拟）父母在外务工，由亲属照看，儿童主任定期家访。",
    ],
    Category.CRISIS: [
        "（模拟）家庭变故后情绪低落，已转介心理咨询室跟进。",
        "（模拟）因债务纠纷生活困难，已联系民政部门救助。",
    ],
}


def _age(birth, today):
    if birth is None:
        return -1
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _years_later(day, years):
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def care_dates(rng, category, today, birth, months):
    """(since, retention_until) of a record: begun in the past, kept past `today`. `months`: the term of a
    community correction."""

    def ago(low, high):
        return today - datetime.timedelta(days=rng.randint(low, high))

    def ahead(low, high):
        return today + datetime.timedelta(days=rng.randint(low, high))

    if category == Category.RELEASED_PRISONER:  # 安置帮教: five years from release
        since = ago(60, 5 * 365 - 60)
        return since, _years_later(since, 5)
    if category == Category.CHILD:  # a left-behind child is under 16: kept until the 16th birthday
        since = max(ago(90, 1000), birth)
        return since, _years_later(birth, 16) - datetime.timedelta(days=1)
    if category == Category.CRISIS:  # short: a year from the first contact
        since = ago(7, 180)
        return since, _years_later(since, 1)
    if category == Category.COMMUNITY_CORRECTION:  # during the term, and a year beyond it
        since = ago(30, months * 30 - 30)
        return since, _years_later(since + datetime.timedelta(days=months * 30), 1)
    if category == Category.MENTAL_ILLNESS:  # reviewed at every follow-up; kept for the next years
        return ago(180, 3650), ahead(365, 3 * 365)
    return ago(90, 1500), ahead(365, 2 * 365)  # left-behind elderly: reviewed every year


def _pick(rng, pool, count, male_weight, taken):
    """Up to `count` persons of `pool` not yet `taken`, men weighted by `male_weight`."""
    chosen = []
    pool = [p for p in pool if p.pk not in taken]
    while pool and len(chosen) < count:
        weights = [male_weight if p.sex == Person.Sex.MALE else 1.0 for p in pool]
        person = rng.choices(pool, weights=weights)[0]
        pool.remove(person)
        taken.add(person.pk)
        chosen.append(person)
    return chosen


def plan_care(town, persons, villages, *, seed, today):
    """[(person, category, risk_level, details, since, retention_until)] for the synthetic `persons` of `town`
    (ordered by ID number); `villages` maps area ids to the village Areas. No database access."""
    rng = random.Random(f"{seed}:care:{town.code}")
    big = len(persons) >= TOWN_MINIMUM_RESIDENTS
    ages = {p.pk: _age(p.birth_date, today) for p in persons}
    taken = set()
    picks = []
    for category, (share, (low, high), male_weight) in RARE.items():
        count = max(round(len(persons) * share), 1 if big else 0)
        pool = [p for p in persons if low <= ages[p.pk] <= high]
        picks += [(p, category) for p in _pick(rng, pool, count, male_weight, taken)]
    for category, ((low, high), rural, urban) in LEFT_BEHIND.items():
        pool = [p for p in persons if low <= ages[p.pk] <= high and p.pk not in taken]
        chosen = [p for p in pool if rng.random() < (rural if _rural(villages[p.area_id]) else urban)]
        if big and not chosen and pool:
            chosen = [rng.choice(pool)]
        taken.update(p.pk for p in chosen)
        picks += [(p, category) for p in chosen]
    plan = []
    for person, category in picks:
        risk = rng.choices(RISK_LEVELS, weights=RISK_WEIGHTS)[0] if category == Category.MENTAL_ILLNESS else None
        months = rng.choice(CORRECTION_MONTHS)
        details = rng.choice(DETAILS[category]).format(level=risk, months=months)
        since, keep_until = care_dates(rng, category, today, person.birth_date, months)
        plan.append((person, category, risk, details, since, keep_until))
    return plan


def _rural(village):
    """A village (村委会) rather than an urban community (社区居委会)."""
    return not planning.place_label(village.name).endswith("社区")


def write_care(report, scope, *, actor, seed, today=None):
    """Special care records for the synthetic residents of the demo county (missing ones only)."""
    county = scope.demo_county
    if county is None or county.valid_to is not None:
        return
    today = today or timezone.localdate()
    below = Area.objects.current().filter(path__startswith=county.path)
    towns = list(below.filter(level=Level.TOWN).order_by("code"))
    villages = {v.pk: v for v in below.filter(level=Level.VILLAGE)}
    persons = Person.objects.filter(area_id__in=villages, household__number__startswith=SYNTHETIC_HOUSEHOLDS).only(
        "id", "area_id", "birth_date", "sex", "id_number"
    )
    by_town = {}
    for person in persons:
        person.area = villages[person.area_id]  # cached, so the service's audit names the area without a query
        by_town.setdefault(person.area.parent_id, []).append(person)
    have = set(SpecialCare.objects.filter(person__area_id__in=villages).values_list("person_id", "category"))
    for town in towns:
        town_persons = sorted(by_town.get(town.pk, []), key=lambda p: p.id_number)
        for person, category, risk, details, since, keep_until in plan_care(
            town, town_persons, villages, seed=seed, today=today
        ):
            if (person.pk, category) in have:
                continue
            services.create_special_care(
                actor=actor,
                person=person,
                category=category,
                risk_level=risk,
                details=details,
                since=since,
                retention_until=keep_until,
            )
            report.written["special care records"] += 1
