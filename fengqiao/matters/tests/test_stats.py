"""Statistics of the closed loop: every figure on a small set of matters whose figures are counted by hand, empty
denominators, each group_by, scoping (another town's staff cannot see this town) and bad parameters."""

import datetime
import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.utils import timezone, translation

from fengqiao.accounts.models import Role
from fengqiao.accounts.scope import Scope
from fengqiao.api.tests.helpers import client_for
from fengqiao.matters import stats
from fengqiao.matters.engine import perform
from fengqiao.matters.models import Clock, Dispatch, Matter
from fengqiao.matters.stats import OutOfScope, StatsError, StatsQuery, matter_stats, parse_query
from fengqiao.matters.sweep import sweep
from fengqiao.matters.tests.builders import CENTRE_PERMS, add_evidence, staff, submit

URL = "/api/v1/matter-stats/"
H = datetime.timedelta(hours=1)
D = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def w(db, settings, tmp_path):
    from fengqiao.matters.tests.builders import matter_world

    settings.MEDIA_ROOT = tmp_path
    return matter_world()


def dispatch(w, matter, department, *, now=None, **extra):
    targets = [{"department": department.pk}, *extra.pop("more", [])]
    perform(matter, "dispatch", actor=extra.pop("actor", w["centre"]), payload={"targets": targets}, now=now)


def close(w, matter, *, now=None, rating=None, revisit=None):
    perform(matter, "verify", actor=w["centre"], now=now)
    perform(matter, "reply", actor=w["centre"], payload={"reply": "已办结"}, now=now)
    if rating:
        perform(matter, "rate", actor=w["citizen"], payload={"rating": rating}, now=now)
    if revisit:
        perform(matter, "revisit", actor=w["centre"], payload={"rating": revisit}, now=now)


@pytest.fixture
def loop(w):
    """Eight matters of 汤塘村 received today, one 40 days ago, one in another town:

    A  dispatched (+ an assisting unit), acknowledged at once, handled on time, rated satisfied     closed
    B  dispatched, acknowledged after 25 hours (late), handled after 30 days (late), revisit 基本满意  closed
    C  solved on the spot by the grid member, replied, then reopened by the reporter (unsatisfied)   accepted
    D  declined                                                                                     declined
    E  only submitted                                                                               submitted
    F  escalated to the county, dispatched there, acknowledged, handled on time (solved at county)  handled
    G  merged into A                                                                                merged
    H  dispatched, returned unacknowledged within the hour, dispatched to the town office (pending)  dispatched
    """
    t0 = timezone.now()
    m = {key: submit(w, title=f"事项{key}") for key in "ABCDEFGH"}
    perform(m["A"], "accept", actor=w["centre"], payload={"category": w["category"].code})
    dispatch(w, m["A"], w["dept"], more=[{"department": w["assist_dept"].pk, "role": "assist"}])
    perform(m["A"], "acknowledge", actor=w["worker"])
    perform(m["A"], "handle", actor=w["worker"], payload={"result": "已修复"})
    perform(m["G"], "merge", actor=w["centre"], payload={"parent": m["A"].tracking_code})
    close(w, m["A"], rating="satisfied")

    perform(m["B"], "accept", actor=w["centre"], payload={"category": w["category"].code}, now=t0)
    dispatch(w, m["B"], w["dept"], now=t0)
    perform(m["B"], "acknowledge", actor=w["worker"], now=t0 + 25 * H)
    perform(m["B"], "handle", actor=w["worker"], payload={"result": "已修复"}, now=t0 + 30 * D)
    close(w, m["B"], now=t0 + 31 * D, revisit="basically")

    photo = add_evidence(w, m["C"])
    perform(m["C"], "resolve_on_spot", actor=w["gridder"], payload={"result": "当场修好", "evidence": [photo]})
    close(w, m["C"])
    perform(m["C"], "reopen", actor=w["citizen"], payload={"reason": "又坏了"})

    perform(m["D"], "decline", actor=w["centre"], payload={"reason": "不属于受理范围"})

    perform(m["F"], "escalate", actor=w["centre"], payload={"reason": "需县级协调"})
    perform(m["F"], "accept", actor=w["county_staff"])
    dispatch(w, m["F"], w["dept"], actor=w["county_staff"])
    perform(m["F"], "acknowledge", actor=w["worker"])
    perform(m["F"], "handle", actor=w["worker"], payload={"result": "县级协调解决"})

    perform(m["H"], "accept", actor=w["centre"])
    dispatch(w, m["H"], w["dept"])
    perform(m["H"], "return", actor=w["worker"], payload={"reason": "不属本部门职责"})
    dispatch(w, m["H"], w["town_dept"])

    m["old"] = submit(w, title="旧事项", submitted_at=t0 - 40 * D)
    m["X"] = submit(w, title="另一镇的事项", lon=None, lat=None, area=w["other_village"])
    return m


def town_query(w, **fields):
    today = timezone.localdate()
    return StatsQuery(**({"start": today, "end": today, "within": w["chain"]["town"]} | fields))


def everything():
    return Scope(unrestricted=True)


def test_every_figure_of_the_town_counted_by_hand(w, loop):
    total = matter_stats(town_query(w), scope=Scope.for_user(w["centre"]))["total"]
    assert {k: total[k] for k in ("received", "accepted", "declined", "merged", "handled", "open")} == {
        "received": 8,  # A–H; the old one and the other town's are outside
        "accepted": 5,  # A B C F H (D declined, E not yet, G merged)
        "declined": 1,
        "merged": 1,
        "handled": 3,  # A B F: C was reopened and is not handled again yet
        "open": 4,  # C E F H
    }
    assert total["handled_on_time"] == 2 and total["on_time_rate"] == 0.6667  # A F of A B F
    assert total["solve_rate"] == 0.6  # 3 / 5
    assert total["solved_on_spot"] == 0  # C's on-the-spot solution was undone by the reopening
    assert (total["rated"], total["satisfied"], total["basically_satisfied"], total["unsatisfied"]) == (3, 1, 1, 1)
    assert total["satisfaction_rate"] == 0.6667  # A satisfied + B basically, of A B C
    # Lead dispatches with a deadline: A and F in time, B late; H's returned one ended before its deadline and
    # H's second is pending but not yet due: neither counts. The assisting unit and C's own record never do.
    assert (total["dispatches_due"], total["dispatches_in_time"], total["response_rate"]) == (3, 2, 0.6667)
    assert total["solved_at_level"] == {"village": 0, "town": 2, "county": 1, "city": 0, "province": 0}
    assert total["solved_at_level_share"] == {
        "village": 0.0,
        "town": 0.6667,
        "county": 0.3333,
        "city": 0.0,
        "province": 0.0,
    }
    assert (total["overdue"], total["yellow"], total["red"]) == (0, 0, 0)  # the sweep has not run


def test_a_pending_dispatch_counts_as_not_responded_once_its_deadline_has_passed(w, loop):
    later = timezone.now() + 3 * D  # H's second dispatch (24 hours to acknowledge) is overdue by then
    total = matter_stats(town_query(w), scope=everything(), now=later)["total"]
    assert (total["dispatches_due"], total["dispatches_in_time"], total["response_rate"]) == (4, 2, 0.5)


def test_overdue_and_red_follow_the_sweep(w, loop):
    sweep(now=timezone.now() + 60 * D)  # every running clock of every open matter is overdue by then
    total = matter_stats(town_query(w), scope=everything())["total"]
    assert (total["open"], total["red"], total["yellow"], total["overdue"]) == (4, 4, 0, 4)  # C E F H


def test_yellow_is_a_clock_past_its_warning_point(w):
    matter = submit(w)
    clock = Clock.objects.get(matter=matter, stage="accept")
    sweep(now=clock.warn_at + datetime.timedelta(seconds=1))
    total = matter_stats(town_query(w), scope=everything())["total"]
    assert (total["yellow"], total["red"], total["overdue"], total["open"]) == (1, 0, 0, 1)


def test_no_data_is_null_not_zero_percent(w, loop):
    report = matter_stats(
        town_query(w, start=datetime.date(2020, 1, 1), end=datetime.date(2020, 1, 31)), scope=everything()
    )
    total = report["total"]
    assert total["received"] == 0
    for rate in ("on_time_rate", "response_rate", "solve_rate", "satisfaction_rate"):
        assert total[rate] is None, rate
    assert set(total["solved_at_level_share"].values()) == {None}
    # Within one group: the town office has a matter (H) but no dispatch that is due yet.
    groups = matter_stats(town_query(w, group_by="department"), scope=everything())["groups"]
    office = next(g for g in groups if g["key"] == w["town_dept"].pk)
    assert (office["received"], office["dispatches_due"], office["response_rate"]) == (1, 0, None)


def test_group_by_area_lists_every_child_area(w, loop):
    county = w["chain"]["county"]
    report = matter_stats(town_query(w, within=county, group_by="area"), scope=Scope.for_user(w["county_staff"]))
    by_code = {g["key"]: g for g in report["groups"]}
    assert set(by_code) == {w["chain"]["town"].code, w["other_town"].code}
    assert by_code[w["chain"]["town"].code]["received"] == 8
    assert by_code[w["other_town"].code]["received"] == 1
    assert by_code[w["other_town"].code]["name"] == "另一镇"
    assert report["total"]["received"] == 9
    # Below the town: its village (every matter lies in the village's grid).
    town = matter_stats(town_query(w, group_by="area"), scope=everything())["groups"]
    assert [(g["key"], g["received"], g["itself"]) for g in town] == [(w["chain"]["village"].code, 8, False)]


def test_matters_placed_on_the_area_itself_have_their_own_group(w):
    submit(w, lon=None, lat=None, area=w["chain"]["town"])
    groups = matter_stats(town_query(w, group_by="area"), scope=everything())["groups"]
    assert [(g["key"], g["received"], g["itself"]) for g in groups] == [
        (w["chain"]["town"].code, 1, True),
        (w["chain"]["village"].code, 0, False),
    ]


def test_group_by_grid_department_category_and_level(w, loop):
    def groups(group_by):
        return matter_stats(town_query(w, group_by=group_by), scope=everything())["groups"]

    assert [(g["key"], g["code"], g["received"]) for g in groups("grid")] == [(w["grid"].pk, "G01", 8)]
    departments = {g["key"]: g for g in groups("department")}
    assert set(departments) == {w["dept"].pk, w["town_dept"].pk, None}
    lead = departments[w["dept"].pk]  # A B F (H went on to the town office)
    assert (lead["received"], lead["handled"], lead["dispatches_due"], lead["dispatches_in_time"]) == (3, 3, 3, 2)
    assert departments[None]["received"] == 4  # C D E G
    assert [(g["key"], g["received"]) for g in groups("category")] == [(w["category"].code, 2), (None, 6)]
    levels = groups("level")
    assert [(g["key"], g["level"], g["received"], g["handled"]) for g in levels] == [
        ("town", 4, 7, 2),
        ("county", 3, 1, 1),
    ]


def test_group_by_day_week_and_month_cover_every_bucket_of_the_period(w, loop):
    today = timezone.localdate()
    start = today - datetime.timedelta(days=40)
    days = matter_stats(town_query(w, start=start, group_by="day"), scope=everything())
    assert len(days["groups"]) == 41 and days["total"]["received"] == 9
    assert (days["groups"][0]["key"], days["groups"][0]["received"]) == (start.isoformat(), 1)
    assert days["groups"][-1]["key"] == today.isoformat() and days["groups"][-1]["received"] == 8
    assert days["groups"][1]["received"] == 0 and days["groups"][1]["solve_rate"] is None
    for group_by in ("week", "month"):
        report = matter_stats(town_query(w, start=start, group_by=group_by), scope=everything())
        assert sum(g["received"] for g in report["groups"]) == 9
        assert report["groups"][0]["from"] == start.isoformat()
        assert report["groups"][-1]["to"] == today.isoformat()
        assert len({g["key"] for g in report["groups"]}) == len(report["groups"])


def test_another_towns_staff_cannot_see_this_town(w, loop):
    with pytest.raises(OutOfScope):
        matter_stats(town_query(w), scope=Scope.for_user(w["other_centre"]))
    # Without `within`: their own town only.
    report = matter_stats(town_query(w, within=None), scope=Scope.for_user(w["other_centre"]))
    assert report["total"]["received"] == 1
    # A user with no current area sees zeros.
    assert matter_stats(town_query(w, within=None), scope=Scope.nothing())["total"]["received"] == 0


def test_parameters_are_parsed_strictly(w):
    today = timezone.localdate()
    query = parse_query({}, today=today)
    assert (query.start, query.end, query.within, query.group_by) == (today.replace(month=1, day=1), today, None, None)
    query = parse_query({"within": "441821101000", "group_by": "month", "from": "2026-01-01", "to": "2026-03-31"})
    assert (query.within, query.group_by, query.start.month, query.end.day) == (w["chain"]["town"], "month", 1, 31)
    bad = {
        "group_by": {"group_by": "street"},
        "from": {"from": "2026-02-30"},
        "to": {"to": "26-01-01"},
        "within": {"within": "4418"},
        "groupby": {"groupby": "area"},
    }
    for field, params in bad.items():
        with pytest.raises(StatsError) as refusal:
            parse_query(params)
        assert refusal.value.field == field, params
    with pytest.raises(StatsError, match="after") as refusal:
        parse_query({"from": "2026-05-02", "to": "2026-05-01"})
    assert refusal.value.field == "from"
    with pytest.raises(StatsError, match="No area") as refusal:
        parse_query({"within": "441821999000"})
    assert refusal.value.field == "within"


# --- the API ---------------------------------------------------------------------------------------------


def test_the_api_serves_the_figures_scoped_to_the_caller(w, loop):
    response = client_for(w["centre"]).get(URL, {"group_by": "area", "from": timezone.localdate().isoformat()})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["within"] is None and body["group_by"] == "area"
    assert body["total"]["received"] == 8 and body["total"]["solve_rate"] == 0.6
    assert [g["key"] for g in body["groups"]] == [w["chain"]["village"].code]
    other = client_for(w["other_centre"])
    assert other.get(URL, {"within": w["chain"]["town"].code}).status_code == 404
    assert other.get(URL, {"from": timezone.localdate().isoformat()}).json()["total"]["received"] == 1


def test_the_api_needs_the_view_permission(w):
    assert client_for().get(URL).status_code == 401
    assert client_for(w["citizen"]).get(URL).status_code == 403  # no matters.view_matter
    assert client_for(w["centre"]).get(URL).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "street"}, "group_by"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "from"),
        ({"within": "44182110100"}, "within"),
        ({"within": "441821999000"}, "within"),
        ({"grouping": "area"}, "grouping"),
        ({"group_by": "area", "to": "2026-01-01", "from": "2010-01-01"}, "from"),  # longer than ten years
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(w, params, field):
    response = client_for(w["county_staff"]).get(URL, params)
    assert response.status_code == 400
    assert list(response.json()) == [field], response.json()


def test_grouping_by_grid_needs_a_county_or_lower(w, loop):
    city_staff = staff("city-centre", w["chain"]["city"], Role.CENTRE_STAFF, CENTRE_PERMS)
    response = client_for(city_staff).get(URL, {"group_by": "grid"})
    assert response.status_code == 400 and list(response.json()) == ["group_by"]
    county = client_for(city_staff).get(URL, {"group_by": "grid", "within": w["chain"]["county"].code})
    assert county.status_code == 200


def test_the_figures_are_one_query_plus_the_names(w, loop, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # the matters, the grids' names
        matter_stats(town_query(w, group_by="grid"), scope=everything())
    # The matters, the lead dispatches of those that went to several units, the departments' names.
    with django_assert_max_num_queries(3):
        matter_stats(town_query(w, group_by="department"), scope=everything())


# --- the response rate: the counters on the matter against the dispatches, one by one ----------------------


def counters(matter):
    row = Matter.objects.get(pk=matter.pk)
    return (row.response_due, row.response_in_time, row.response_pending_due, row.response_elsewhere)


def counters_by_definition(matter):
    """The response counters of one matter from its lead dispatches with a deadline, in Python."""
    lead_department = Matter.objects.get(pk=matter.pk).department_id
    due = in_time = 0
    pending, units = [], set()
    for d in Dispatch.objects.filter(matter=matter, role="lead", acknowledge_due__isnull=False):
        if d.acknowledged_at is None and d.ended_at is None:
            pending.append(d.acknowledge_due)  # due later, when the deadline passes
        elif d.acknowledged_at is not None or d.acknowledge_due < d.ended_at:
            due += 1
            in_time += d.acknowledged_at is not None and d.acknowledged_at <= d.acknowledge_due
        else:
            continue  # ended unacknowledged before its deadline: never late
        units.add(d.department_id)
    assert len(pending) <= 1  # the engine keeps one lead dispatch active at most
    return (due, in_time, pending[0] if pending else None, bool(units - {lead_department}))


@pytest.fixture
def tangled(w, loop):
    """Besides the eight of `loop`, lead dispatches that end every way, to other units and back (the counters are
    checked after every step):

    R  dispatched to the county bureau, returned unacknowledged after its deadline, dispatched to the town office
    S  dispatched to the county bureau, returned unacknowledged after its deadline (no lead unit now)
    T  dispatched to the county bureau, withdrawn unacknowledged after its deadline by a transfer to the town
       office, which acknowledges in time
    U  dispatched to the town office, acknowledged, transferred to the county bureau, pending (not yet due)
    P  dispatched to the grid member (no department), pending: due once its deadline has passed
    O  handled by the county bureau, reopened, dispatched to the town office, which acknowledges late
    V  handled, its result rejected at verification, handled again (the same dispatch)
    """
    t0 = timezone.now()
    m = {key: submit(w, title=f"事项{key}") for key in "RSTUPOV"}

    def act(key, action, actor, hours, **payload):
        perform(m[key], action, actor=w[actor], payload=payload, now=t0 + hours * H)
        assert counters(m[key]) == counters_by_definition(m[key]), (key, action)

    def to(*departments):
        return [{"department": w[d].pk} for d in departments]

    for key in m:
        act(key, "accept", "centre", 0)
    returned = {"reason": "不属本部门职责"}
    act("R", "dispatch", "centre", 0, targets=to("dept"))
    act("R", "return", "worker", 30, **returned)
    act("R", "dispatch", "centre", 31, targets=to("town_dept"))
    act("S", "dispatch", "centre", 0, targets=to("dept"))
    act("S", "return", "worker", 30, **returned)
    act("T", "dispatch", "centre", 0, targets=to("dept"))
    act("T", "transfer", "centre", 48, targets=to("town_dept"), reason="属镇职责")
    act("T", "acknowledge", "town_worker", 49)
    act("U", "dispatch", "centre", 0, targets=to("town_dept"))
    act("U", "acknowledge", "town_worker", 1)
    act("U", "transfer", "centre", 2, targets=to("dept"), reason="需县级部门")
    act("P", "dispatch", "centre", 0, targets=[{"assignee": w["gridder"].pk}])
    act("O", "dispatch", "centre", 0, targets=to("dept"))
    act("O", "acknowledge", "worker", 1)
    act("O", "handle", "worker", 2, result="已修复")
    act("O", "verify", "centre", 3)
    act("O", "reply", "centre", 3, reply="已办结")
    act("O", "reopen", "citizen", 4, reason="没修好")
    act("O", "dispatch", "centre", 5, targets=to("town_dept"))
    act("O", "acknowledge", "town_worker", 72)
    act("V", "dispatch", "centre", 0, targets=to("dept"))
    act("V", "acknowledge", "worker", 1)
    act("V", "handle", "worker", 2, result="已修复")
    act("V", "reject_result", "centre", 3, reason="现场未修复")
    act("V", "handle", "worker", 4, result="已修复")
    for matter in loop.values():
        assert counters(matter) == counters_by_definition(matter)
    return loop | m


def by_definition(w, now, key):
    """{key: (due, in time)} straight from the definition, one lead dispatch at a time, in Python: `key(dispatch)`
    is its group (by department: the unit it went to)."""
    out = {}
    for d in Dispatch.objects.filter(
        role="lead", matter__area__path__startswith=w["chain"]["town"].path
    ).select_related("matter__handling_area"):
        if d.acknowledge_due is None:
            continue  # the grid member's own record of an on-the-spot solution
        acknowledged = d.acknowledged_at is not None
        due = acknowledged or d.acknowledge_due < (d.ended_at or now)
        in_time = acknowledged and d.acknowledged_at <= d.acknowledge_due
        counts = out.setdefault(key(d), [0, 0])
        counts[0] += due
        counts[1] += in_time
    return {k: tuple(v) for k, v in out.items() if v != [0, 0]}


def published(report, key="key"):
    groups = report["groups"] if "groups" in report else [report["total"] | {key: None}]
    counts = {g[key]: (g["dispatches_due"], g["dispatches_in_time"]) for g in groups}
    return {k: v for k, v in counts.items() if v != (0, 0)}


@pytest.mark.parametrize("days_later", [0, 1, 3, 60])
def test_the_response_rate_equals_its_definition_dispatch_by_dispatch(w, tangled, days_later):
    now = timezone.now() + days_later * D
    level_of = {4: "town", 3: "county"}
    groupings = {
        None: lambda d: None,
        "department": lambda d: d.department_id,  # the unit it went to, not the matter's lead now
        "grid": lambda d: d.matter.grid_id,
        "level": lambda d: level_of[d.matter.handling_area.level],
        "day": lambda d: timezone.localdate(d.matter.submitted_at).isoformat(),
    }
    for group_by, key in groupings.items():
        report = matter_stats(town_query(w, group_by=group_by), scope=everything(), now=now)
        assert published(report) == by_definition(w, now, key), group_by


def test_by_department_a_dispatch_counts_for_the_unit_it_went_to(w, tangled):
    later = timezone.now() + 3 * D  # the pending ones (H, R, U, P) are past their deadlines by then
    groups = {
        g["key"]: g for g in matter_stats(town_query(w, group_by="department"), scope=everything(), now=later)["groups"]
    }
    county, town = groups[w["dept"].pk], groups[w["town_dept"].pk]
    # County bureau: A F O V acknowledged in time and B late, R's and S's returned and T's withdrawn dispatches
    # late unacknowledged, U's pending and late (H's, returned before its deadline, is not counted); its
    # matters now: A B F U V.
    assert (county["received"], county["dispatches_due"], county["dispatches_in_time"]) == (5, 9, 4)
    # Town office: H's and R's pending and late, T's and U's first in time, O's late; its matters: H R T O.
    assert (town["received"], town["dispatches_due"], town["dispatches_in_time"]) == (4, 5, 2)
    assert (groups[None]["dispatches_due"], groups[None]["dispatches_in_time"]) == (1, 0)  # P, to the grid member
    total = matter_stats(town_query(w), scope=everything(), now=later)["total"]
    assert (total["dispatches_due"], total["dispatches_in_time"]) == (15, 6)


def test_the_counters_are_those_a_recount_from_the_dispatches_gives(w, tangled):
    from fengqiao.matters.engine import recount_responses

    fields = ["pk", "response_due", "response_in_time", "response_pending_due", "response_elsewhere"]
    kept = list(Matter.objects.order_by("pk").values_list(*fields))
    assert {row[0] for row in kept if row[4]} == {tangled[k].pk for k in "RSTUO"}  # several lead units
    Matter.objects.update(response_due=0, response_in_time=0, response_pending_due=None, response_elsewhere=False)
    assert recount_responses() == 11  # A B F H R S T U P O V: every matter with a lead dispatch that has a deadline
    assert list(Matter.objects.order_by("pk").values_list(*fields)) == kept
    # The data migration that filled them for the matters of before.
    migration = importlib.import_module("fengqiao.matters.migrations.0008_response_counters")
    Matter.objects.update(response_due=0, response_in_time=0, response_pending_due=None, response_elsewhere=False)
    migration.fill(django_apps, SimpleNamespace(connection=connection))
    assert list(Matter.objects.order_by("pk").values_list(*fields)) == kept


@pytest.mark.slow
def test_bench_generates_matters_and_times_every_query(db):
    from fengqiao.matters.bench_stats import run

    lines = []
    timings = run(rows=400, days=30, scratch=False, out=lines.append, repeat=1, indexes=True)
    assert Matter.objects.count() == 400
    # The city, the county and a town; every grouping (but by grid for the city).
    assert len(timings) == 3 * (1 + len(stats.GROUP_BY)) - 1
    assert lines[-1].startswith("stats: ") and "for 400 matters" in lines[-1]
    # The generated loop is coherent: what the statistics count agrees with the rows.
    today = timezone.localdate()
    total = matter_stats(StatsQuery(start=today - 40 * D, end=today), scope=everything())["total"]
    assert total["received"] == 400
    assert total["handled"] == Matter.objects.filter(handled_at__isnull=False).count() > 0
    for rate in ("solve_rate", "response_rate", "satisfaction_rate", "on_time_rate"):
        assert 0 < total[rate] <= 1, rate
