"""Statistics of the closed loop: what came in, what was done, how fast, how well, and at which level.

    query = parse_query({"within": "441821000000", "group_by": "month", "from": "2026-01-01", "to": "2026-06-30"})
    report = matter_stats(query, scope=Scope.for_user(user))

**Cohort.** Every figure is about the matters *received in the period* (``submitted_at`` from 00:00 of ``from``
to 24:00 of ``to``, local time), in the areas asked for, of one workflow ("matter"), counted as they stand now.
A matter received in March and handled in May counts in March's "handled". So each rate compares parts of one
set of matters, a figure for a past period can still grow while its matters are worked on, and the figures of
adjacent periods add up.

**Figures** (all counts, except the rates):

* ``received``: matters submitted in the period.
* ``accepted`` (受理): those with an acceptance time that were not merged into another matter (resolving on the
  spot accepts too). ``declined`` (不予受理) and ``merged`` (并单) are counted apart.
* ``handled`` (办结): handled now, including ``solved_on_spot`` (就地解决). A matter whose result was rejected at
  verification, or that was reopened (重办) and is not handled again yet, is not handled.
* ``on_time_rate`` (按期办结率) = ``handled_on_time`` / ``handled``: handled before the handling deadline
  (extensions included) that was running when it was handled.
* ``response_rate`` (响应率) = ``dispatches_in_time`` / ``dispatches_due``, over the *lead* dispatches (主办,
  not the assisting units of 吹哨报到) of these matters that carry an acknowledgement deadline (every dispatch
  by the centre does; the grid member's own record of an on-the-spot solution does not):

  - ``dispatches_in_time``: acknowledged (签收) at or before ``acknowledge_due``;
  - ``dispatches_due``: acknowledged at any time, or not acknowledged while ``acknowledge_due`` passed (the
    dispatch still pending now, or ended later by a return or transfer). Left out: dispatches still pending
    whose deadline has not come, and dispatches ended before their deadline without acknowledgement (withdrawn
    by a transfer or returned in time), which were never late.

  A matter dispatched three times (returns, transfers) has three lead dispatches. Grouped by department, a
  dispatch counts for the department it went to; the other figures count for the matter's current lead
  department. (The engine keeps at most one lead dispatch active, so at most one is pending at a time.)
* ``solve_rate`` (解决率) = ``handled`` / ``accepted``: a reopened matter that is not handled again counts as
  unsolved.
* ``satisfaction_rate`` (满意率) = (``satisfied`` + ``basically_satisfied``) / ``rated``. ``rated`` counts
  the current rating: a reopened matter carries the reporter's "unsatisfied" until it is rated again.
* ``solved_at_level`` ({village, town, county, city, province}: counts) and ``solved_at_level_share`` (count /
  ``handled``): the level of the centre that owned the matter when it was handled; on the spot counts for the
  level of the place (a village). "小事不出村、大事不出镇" = the village and town shares.
* ``overdue``: matters that ever ran past a deadline (``was_overdue``); ``open``: not closed, declined or merged
  now; ``yellow`` / ``red``: open now with a clock past its warning point / overdue.

A rate is ``None`` when its denominator is 0 ("no data", never 0 %); rates are fractions rounded to 4 places.

**Grouping** (``group_by``): ``area`` (the child areas of ``within``, every one of them, plus ``within`` itself
for matters placed on it directly), ``grid`` (only within a county or below: a city has thousands),
``department`` (the lead department), ``category`` (the first level of the category tree), ``level`` (the level
of the centre that owns the matter now), ``day``, ``week`` (ISO weeks from Monday, cut at the period's ends),
``month``; day, week and month list every bucket of the period.

**Scope.** ``within`` must lie inside the user's areas (else `OutOfScope`); without it the figures cover all
of the user's areas (the whole tree for an unrestricted user). A user with no current area sees only zeros.

**How it is fast.** No rollup table: live queries, so the figures are never stale. One GROUP BY over the
matters, grouped by a raw column (area, grid, department, category, handling area, local day) and folded in
Python into the requested groups (child areas, levels, first-level categories, weeks, months: small tables), so
the database never joins the area tree per row. The areas are an ``area_id IN (subtree)`` condition that the
(area, submitted_at) indexes answer; the covering index ``matter_stats`` makes SQLite read the index alone.
The response rate needs no join to the dispatches: the engine keeps two counters and a deadline on the matter
(``response_due``, ``response_in_time``, ``response_pending_due``; `engine.count_responses`) in the
transaction of every step, so they are as current as the rows they count, and a pending dispatch turns due by
comparing its deadline with ``now`` in the query (no sweep involved). Grouped by department, the dispatches of
the few matters that had another lead unit before (``response_elsewhere``, a partial index) are read to count
them for the unit they went to. ``fengqiao bench stats`` measures it (ADR 0013, amendment "Statistics").
"""

import dataclasses
import datetime
from collections import defaultdict

from django.db import connections
from django.db.models import Count, DateField, F, Func, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from fengqiao.areas.codes import CODE_RE, Level
from fengqiao.areas.models import Area, Grid
from fengqiao.departments.models import Category, Department
from fengqiao.matters.models import Dispatch, Matter, Rating
from fengqiao.matters.workflows import DECLINED, MERGED, WORKFLOWS, get_workflow

GROUP_BY = ("area", "grid", "department", "category", "level", "day", "week", "month")
PARAMETERS = ("within", "group_by", "from", "to")
MAX_DAYS = 3660  # ten years: longer periods are refused (a bad date, most likely)

# Area levels as the solved-at-level figure names them; a villager group counts as its village.
LEVEL_KEYS = dict(zip(Level.values, ("province", "city", "county", "town", "village", "village"), strict=True))
SOLVED_LEVELS = ("village", "town", "county", "city", "province")
RATES = {  # name: (numerators, denominator)
    "on_time_rate": (("handled_on_time",), "handled"),
    "response_rate": (("dispatches_in_time",), "dispatches_due"),
    "solve_rate": (("handled",), "accepted"),
    "satisfaction_rate": (("satisfied", "basically_satisfied"), "rated"),
}
# What the queries count per raw group (SQL), and what is published per group (`open`, `rated` derived).
COUNTS = (
    *("received", "accepted", "terminal", "declined", "merged", "handled", "handled_on_time", "solved_on_spot"),
    *("satisfied", "basically_satisfied", "unsatisfied", "overdue", "yellow", "red"),
    *("dispatches_due", "dispatches_in_time"),
    *(f"solved_{level}" for level in SOLVED_LEVELS),
)
PUBLISHED_COUNTS = (
    *("received", "accepted", "declined", "merged", "handled", "handled_on_time", "solved_on_spot"),
    *("rated", "satisfied", "basically_satisfied", "unsatisfied", "overdue", "open", "yellow", "red"),
    *("dispatches_due", "dispatches_in_time"),
)


class StatsError(ValueError):
    """A bad parameter; `field` names it (the API answers 400 keyed by it)."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


class OutOfScope(LookupError):
    """``within`` names an area outside the user's areas (the API answers 404, as for any out-of-scope row)."""


@dataclasses.dataclass(frozen=True)
class StatsQuery:
    start: datetime.date
    end: datetime.date  # inclusive
    within: Area | None = None
    group_by: str | None = None
    workflow: str = "matter"

    def __post_init__(self):
        if self.group_by is not None and self.group_by not in GROUP_BY:
            raise StatsError("group_by", _unknown_group_by(self.group_by))
        if self.start > self.end:
            raise StatsError(
                "from", _("from (%(start)s) is after to (%(end)s).") % {"start": self.start, "end": self.end}
            )
        if (self.end - self.start).days >= MAX_DAYS:
            raise StatsError("from", _("The period is longer than ten years; choose a shorter one."))
        get_workflow(self.workflow)


def _unknown_group_by(value):
    return _("Unknown group_by %(value)s; use one of %(choices)s.") % {"value": value, "choices": ", ".join(GROUP_BY)}


def parse_query(params, *, today=None) -> StatsQuery:
    """A `StatsQuery` from request parameters (a QueryDict or a plain dict of strings). Raises `StatsError`
    naming the parameter: an unknown parameter, a repeated one, an unknown ``group_by``, a date not in
    YYYY-MM-DD form, ``from`` after ``to``, a malformed or unknown division code.

    Defaults: ``to`` today, ``from`` the first of January of ``to``'s year (the year to date).
    """
    values = {}
    for key in params:
        if key == "format":  # DRF's renderer override
            continue
        if key not in PARAMETERS:
            raise StatsError(
                key,
                _("Unknown parameter %(name)s; use %(names)s.") % {"name": key, "names": ", ".join(PARAMETERS)},
            )
        many = params.getlist(key) if hasattr(params, "getlist") else [params[key]]
        if len(many) > 1:
            raise StatsError(key, _("%(name)s is given more than once.") % {"name": key})
        values[key] = (many[0] or "").strip()
    today = today or timezone.localdate()
    end = _date(values.get("to"), "to") or today
    start = _date(values.get("from"), "from") or end.replace(month=1, day=1)
    group_by = values.get("group_by") or None
    within = None
    code = values.get("within")
    if code:
        if not CODE_RE.match(code):
            raise StatsError(
                "within",
                _("%(code)s is not a division code (12 digits, or 15 for a villager group).") % {"code": code},
            )
        within = Area.objects.filter(code=code).first()
        if within is None:
            raise StatsError("within", _("No area with code %(code)s.") % {"code": code})
    return StatsQuery(start=start, end=end, within=within, group_by=group_by)


def _date(value, field):
    if not value:
        return None
    try:
        day = parse_date(value)
    except ValueError:
        day = None
    if day is None or len(value) != 10:
        raise StatsError(
            field, _("%(field)s must be a date as YYYY-MM-DD, not %(value)s.") % {"field": field, "value": value}
        )
    return day


# ---------------------------------------------------------------------------------------------- SQL


class _ShiftedDate(Func):
    """SQLite: the local date of a UTC datetime in a zone with a fixed offset, natively
    (``date(col, '+28800 seconds')``); Django's own TruncDate calls a Python function per row there."""

    function = "date"
    output_field = DateField()

    def __init__(self, expression, offset_seconds):
        super().__init__(expression, Value(f"{offset_seconds:+d} seconds"))


def _fixed_offset(start, end):
    """The current zone's UTC offset in seconds if it is the same all through [start, end], else None."""
    tz = timezone.get_current_timezone()
    offsets = set()
    day = start.replace(day=1)
    while day <= end + datetime.timedelta(days=31):
        for moment in (day, day.replace(day=15)):
            offsets.add(datetime.datetime.combine(moment, datetime.time(12), tzinfo=tz).utcoffset())
        day = (day + datetime.timedelta(days=32)).replace(day=1)
    return int(offsets.pop().total_seconds()) if len(offsets) == 1 else None


def local_date(field, query, connection_vendor):
    offset = _fixed_offset(query.start, query.end)
    if connection_vendor == "sqlite" and offset is not None:
        return _ShiftedDate(F(field), offset)
    return TruncDate(field, tzinfo=timezone.get_current_timezone())


def _bounds(query):
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(query.start, datetime.time(), tzinfo=tz)
    end = datetime.datetime.combine(query.end + datetime.timedelta(days=1), datetime.time(), tzinfo=tz)
    return start, end


def _area_condition(roots, prefix=""):
    """Matters in the subtrees `roots` (paths): ``area_id IN (SELECT id FROM area WHERE path LIKE …)``, so the
    (area, submitted_at) indexes answer per area."""
    paths = Q()
    for root in roots:
        paths |= Q(path__startswith=root)
    return Q(**{f"{prefix}area_id__in": Area.objects.filter(paths).values("pk")})


def _count(condition=None):
    """COUNT(1) FILTER (WHERE condition): a constant reads no column (COUNT(id) costs SQLite ~5 ms per million
    rows and aggregate to read the id), and Django refuses COUNT(*) with a filter."""
    return Count(Value(1), filter=condition)


def _matter_aggregates(now):
    """One aggregate per figure, each reading as few columns as it can: SQLite pays per column read and per
    aggregate (bench: ~0.05 µs each per row). `open` and `rated` are derived in Python (`figures`).

    These rely on the engine keeping ``handled_on_time``, ``solved_level`` and ``solved_on_spot`` set only
    while ``handled_at`` is (`engine._solved` sets them together; rejecting a result and reopening clear them
    together), ``warning`` blank on closed, declined and merged matters (`engine._apply_state`, the sweep) and
    the ``response_*`` counters true to the lead dispatches (`engine.count_responses`, in every step): the
    response rate is their sum, plus the dispatch awaiting acknowledgement once its deadline has passed."""
    counts = {
        "received": _count(),
        "accepted": _count(Q(accepted_at__isnull=False) & ~Q(state=MERGED)),
        "terminal": _count(Q(state__in=sorted(get_workflow("matter").terminal()))),
        "declined": _count(Q(state=DECLINED)),
        "merged": _count(Q(state=MERGED)),
        "handled": Count("handled_at"),
        "handled_on_time": _count(Q(handled_on_time=True)),
        "solved_on_spot": _count(Q(solved_on_spot=True)),
        "satisfied": _count(Q(rating=Rating.SATISFIED)),
        "basically_satisfied": _count(Q(rating=Rating.BASICALLY)),
        "unsatisfied": _count(Q(rating=Rating.UNSATISFIED)),
        "overdue": _count(Q(was_overdue=True)),
        "yellow": _count(Q(warning="yellow")),
        "red": _count(Q(warning="red")),
        "dispatches_due": Coalesce(Sum("response_due"), 0) + _count(Q(response_pending_due__lt=now)),
        "dispatches_in_time": Coalesce(Sum("response_in_time"), 0),
    }
    for key in SOLVED_LEVELS:
        levels = sorted(int(level) for level, name in LEVEL_KEYS.items() if name == key)
        condition = Q(solved_level=levels[0]) if len(levels) == 1 else Q(solved_level__gte=levels[0])
        counts[f"solved_{key}"] = _count(condition)
    return counts


def _response_conditions(now):
    """When a lead dispatch counts as due and as in time, by the definition (see the module docstring): what the
    matter's ``response_*`` counters hold, plus a pending one once its deadline has passed."""
    late_unacknowledged = Q(acknowledged_at__isnull=True, acknowledge_due__lt=Coalesce("ended_at", Value(now)))
    return {
        "dispatches_due": Q(acknowledged_at__isnull=False) | late_unacknowledged,
        "dispatches_in_time": Q(acknowledged_at__lte=F("acknowledge_due")),
    }


# Per group_by: the raw column grouped in SQL.
RAW_KEYS = {
    "area": "area_id",
    "grid": "grid_id",
    "department": "department_id",
    "category": "category_id",
    "level": "handling_area_id",
}


def _grouped(queryset, aggregates, key):
    """[(raw key, {count: n})]: one row per raw key, or one row (key None) without grouping."""
    if key is None:
        return [(None, queryset.aggregate(**aggregates))]
    if not isinstance(key, str):
        queryset = queryset.annotate(_key=key)
        key = "_key"
    rows = queryset.values(key).annotate(**aggregates).order_by()
    return [(row.pop(key), row) for row in rows]


def raw_counts(query, roots, *, now, using=None):
    """The SQL part: ({raw key: {count: n}}) for the matters of the query in the subtrees `roots`: one GROUP BY
    over the matters, and by department one more over the lead dispatches of the few matters that had several
    lead units (`_dispatches_elsewhere`)."""
    start, end = _bounds(query)
    matters = Matter.objects.using(using).filter(_area_condition(roots), submitted_at__gte=start, submitted_at__lt=end)
    if len(WORKFLOWS) > 1:
        # While "matter" is the only workflow every row has it, and the filter would only lead SQLite's planner
        # (no table statistics) to the single-column workflow index instead of (area, submitted_at).
        matters = matters.filter(workflow=query.workflow)
    if query.group_by in RAW_KEYS:
        key = RAW_KEYS[query.group_by]
    elif query.group_by is not None:  # day, week, month: by local day, folded later
        key = local_date("submitted_at", query, connections[matters.db].vendor)
    else:
        key = None
    out = defaultdict(_empty)
    for raw_key, row in _grouped(matters, _matter_aggregates(now), key):
        out[raw_key].update(row)
    if query.group_by == "department":
        _dispatches_elsewhere(out, matters, now)
    return out


def _dispatches_elsewhere(out, matters, now):
    """By department, a lead dispatch counts for the department it went to, but the matter's counters count for
    its current lead department. For the few matters whose counted lead dispatches went to other units too
    (``response_elsewhere``, found by a partial index), move the counts of those dispatches, by the definition,
    from the lead department to the unit they went to."""
    dispatches = Dispatch.objects.using(matters.db).filter(
        matter__in=matters.filter(response_elsewhere=True), role=Dispatch.Role.LEAD, acknowledge_due__isnull=False
    )
    counts = {name: _count(condition) for name, condition in _response_conditions(now).items()}
    for row in dispatches.values("matter__department_id", "department_id").annotate(**counts).order_by():
        lead, went_to = row.pop("matter__department_id"), row.pop("department_id")
        if lead != went_to:
            for name, n in row.items():
                out[lead][name] -= n
                out[went_to][name] += n


# ---------------------------------------------------------------------------------------------- folding


def rate(numerator, denominator):
    """numerator / denominator rounded to 4 places; None when the denominator is 0 (no data is not 0 %)."""
    return round(numerator / denominator, 4) if denominator else None


def figures(counts) -> dict:
    """The published figures of one group from its counts: counts, rates, solved-at-level counts and shares."""
    counts = counts | {
        "open": counts["received"] - counts["terminal"],
        "rated": counts["satisfied"] + counts["basically_satisfied"] + counts["unsatisfied"],
    }
    out = {key: counts[key] for key in PUBLISHED_COUNTS}
    for name, (numerators, denominator) in RATES.items():
        out[name] = rate(sum(counts[n] for n in numerators), counts[denominator])
    solved = {level: counts[f"solved_{level}"] for level in SOLVED_LEVELS}
    out["solved_at_level"] = solved
    out["solved_at_level_share"] = {level: rate(n, counts["handled"]) for level, n in solved.items()}
    return out


def _add(into, counts):
    for key in COUNTS:
        into[key] += counts[key]


def _empty():
    return dict.fromkeys(COUNTS, 0)


def _area_groups(raw, roots):
    """Fold area ids into the children of the roots (or the root itself for matters placed on it)."""
    paths = {pk: row[0] for pk, row in _values(Area.objects.all(), raw, "path").items()}
    ordered_roots = sorted(roots, key=len, reverse=True)
    groups = defaultdict(_empty)
    for key, counts in raw.items():
        path = paths.get(key, "")
        root = next((r for r in ordered_roots if path.startswith(r)), "")
        child = path[len(root) :].split("/")[0] or root.rstrip("/").rsplit("/", 1)[-1]
        _add(groups[child], counts)
    areas = {a.code: a for a in Area.objects.filter(parent__path__in=roots, valid_to__isnull=True)}
    areas |= {a.code: a for a in Area.objects.filter(code__in=[c for c in groups if c not in areas])}
    root_codes = {r.rstrip("/").rsplit("/", 1)[-1] for r in roots}
    out = []
    for code in sorted(set(areas) | set(groups)):
        area = areas.get(code)
        info = {"key": code, "name": area.name if area else "", "level": area.level if area else None}
        out.append((info | {"itself": code in root_codes}, groups.get(code) or _empty()))
    return out


def _values(queryset, ids, *fields):
    """{pk: (fields…)} for the rows with these ids, in chunks (SQLite limits the parameters of a query)."""
    ids = sorted(i for i in ids if i is not None)
    out = {}
    for start in range(0, len(ids), 900):
        for row in queryset.filter(pk__in=ids[start : start + 900]).values_list("pk", *fields):
            out[row[0]] = row[1:]
    return out


def _named_groups(raw, model, none_label):
    """Groups named by their row (grids, departments: code, name, area code), ordered by area and code; the
    null key ("no grid", "no lead department") last."""
    rows = _values(model.objects.all(), raw, "area__code", "code", "name")
    out = [({"key": k, "area": rows[k][0], "code": rows[k][1], "name": rows[k][2]}, c) for k, c in raw.items() if k]
    out.sort(key=lambda group: (group[0]["area"], group[0]["code"]))
    if None in raw:
        out.append(({"key": None, "name": none_label}, raw[None]))
    return out


def _grid_groups(raw):
    return _named_groups(raw, Grid, _("(no grid)"))


def _department_groups(raw):
    return _named_groups(raw, Department, _("(no lead department)"))


def _category_groups(raw):
    paths = _values(Category.objects.all(), raw, "path")
    groups = defaultdict(_empty)
    for key, counts in raw.items():
        _add(groups[paths[key][0].strip("/").split("/")[0] if key is not None else None], counts)
    tops = Category.objects.in_bulk([c for c in groups if c], field_name="code")
    out = []
    for code in sorted(groups, key=lambda c: (c is None, tops[c].order if c else 0, c or "")):
        if code is None:
            out.append(({"key": None, "name": _("(no category)")}, groups[code]))
        else:
            out.append(({"key": code, "name": tops[code].name}, groups[code]))
    return out


def _level_groups(raw):
    levels = {pk: row[0] for pk, row in _values(Area.objects.all(), raw, "level").items()}
    groups = defaultdict(_empty)
    for key, counts in raw.items():
        _add(groups[levels.get(key)], counts)
    return [
        ({"key": LEVEL_KEYS[level], "level": level, "name": str(Level(level).label)}, groups[level])
        for level in sorted(groups, reverse=True)
        if level is not None
    ]


def _bucket(day, group_by):
    if group_by == "day":
        return day.isoformat(), day, day
    if group_by == "week":
        monday = day - datetime.timedelta(days=day.weekday())
        year, week, _weekday = day.isocalendar()
        return f"{year}-W{week:02d}", monday, monday + datetime.timedelta(days=6)
    first = day.replace(day=1)
    last = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    return f"{day:%Y-%m}", first, last


def _time_groups(raw, query):
    groups = {}
    day = query.start
    while day <= query.end:  # every bucket of the period, empty ones too
        key, first, last = _bucket(day, query.group_by)
        if key not in groups:
            groups[key] = ({"key": key, "from": max(first, query.start), "to": min(last, query.end)}, _empty())
        day += datetime.timedelta(days=1)
    for raw_day, counts in raw.items():
        if raw_day is None:
            continue
        if isinstance(raw_day, str):
            raw_day = datetime.date.fromisoformat(raw_day)
        _add(groups[_bucket(raw_day, query.group_by)[0]][1], counts)
    return [(info | {"from": info["from"].isoformat(), "to": info["to"].isoformat()}, c) for info, c in groups.values()]


# ---------------------------------------------------------------------------------------------- entry point


def roots_for(query, scope):
    """The area subtrees (paths) the figures cover: ``within``, else the user's areas (the roots of the tree for
    an unrestricted user: the area condition keeps the queries on the (area, submitted_at) indexes)."""
    if query.within is not None:
        if not scope.covers(query.within):
            raise OutOfScope(_("No area %(code)s among the areas you hold a role over.") % {"code": query.within.code})
        return [query.within.path]
    if scope.unrestricted:
        return sorted(Area.objects.filter(parent__isnull=True).values_list("path", flat=True))
    return sorted(scope.paths)


def matter_stats(query: StatsQuery, *, scope, now=None, using=None) -> dict:
    """The statistics of `query` as seen by a user with `scope` (see the module docstring for every figure)."""
    now = now or timezone.now()
    roots = roots_for(query, scope)
    if query.group_by == "grid" and any(root.count("/") < Level.COUNTY for root in roots):
        # A city has thousands of grids, a province 180,000: one row each is a download, not a statistic.
        raise StatsError("group_by", _("Grouping by grid needs within= an area at county level or below."))
    report = {
        "within": _area_info(query.within),
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "group_by": query.group_by,
        "workflow": query.workflow,
    }
    raw = raw_counts(query, roots, now=now, using=using) if roots else {}  # no roots: no current area
    total = _empty()
    for counts in raw.values():
        _add(total, counts)
    report["total"] = figures(total)
    group_by = query.group_by
    if group_by is None:
        return report
    if group_by == "area":
        groups = _area_groups(raw, roots)
    elif group_by == "grid":
        groups = _grid_groups(raw)
    elif group_by == "department":
        groups = _department_groups(raw)
    elif group_by == "category":
        groups = _category_groups(raw)
    elif group_by == "level":
        groups = _level_groups(raw)
    else:
        groups = _time_groups(raw, query)
    report["groups"] = [info | figures(counts) for info, counts in groups]
    return report


def _area_info(area):
    if area is None:
        return None
    return {"code": area.code, "name": area.name, "level": area.level}


__all__ = [
    "GROUP_BY",
    "OutOfScope",
    "StatsError",
    "StatsQuery",
    "matter_stats",
    "parse_query",
]
