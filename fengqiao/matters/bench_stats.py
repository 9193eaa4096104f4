"""`fengqiao bench stats`: how fast the closed-loop statistics are on millions of matters.

    run(rows=1_000_000, days=365)    # prints timings; the last line: "stats: <slowest> ms … for N matters"
    fengqiao bench stats --rows 1000000 [--days 365] [--keep /tmp/stats.sqlite3] [--no-indexes]

In a scratch database (a fresh SQLite file, or ``<name>_stats_bench`` on PostgreSQL, migrated like a test
database; the real one is never touched): the division tree of 清远市 from the demo fixture (8 counties, 92 towns,
1,234 villages), 1–4 grids per village, departments at every county and town (``bulk_create``), then `rows`
synthetic matters and their dispatches over the last `days` days, drawn as numpy columns and inserted in bulk.
Their distribution follows the loop: villages weighted unevenly (communities busier), 8 % placed outside every
grid (on the town, for triage), 4 % declined, 2 % merged, 15 % solved on the spot, the rest dispatched (one lead
dispatch each, 8 % with an assisting unit, 3 % returned once), handled after an exponential time, ~90 % of
dispatches acknowledged within the day, ratings mostly satisfied, 3 % reopened; owning levels village 12 % /
town 75 % / county 10 % / city 3 %. Timeline rows and clocks are not generated: the statistics do not read them.
The matters' response-rate counters, which the engine keeps step by step, are set from the generated dispatches
in one UPDATE (`engine.recount_responses`; timed: it is what migration 0008 costs an existing database).

Then it times `matter_stats` for the city (every matter), one county (佛冈县) and one town over the period,
without grouping and with every ``group_by`` (the first run and the best of three), adds the indexes of
`stats_indexes` that the schema lacks (a kept database of an older schema) and times everything again.
"""

import datetime
import time
from pathlib import Path

import numpy as np
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import connections, transaction
from django.utils import timezone

from fengqiao.core.bench import scratch_database

DIVISIONS = Path(__file__).resolve().parent.parent / "demo" / "fixtures" / "qingyuan_divisions.csv"
CITY = "441800000000"
COUNTY = "441821000000"  # 佛冈县
BATCH = 20_000


def add_arguments(parser):
    """`fengqiao bench stats` (registered with `fengqiao.core.bench.register` in `MattersConfig.ready`)."""
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic matters (1000000)")
    parser.add_argument("--days", type=int, default=365, help="spread over this many days before today (365)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after the first; the best counts (3)")
    parser.add_argument("--keep", metavar="FILE", help="keep the scratch SQLite file here; reuse it when it exists")
    parser.add_argument("--no-indexes", action="store_true", help="do not add and time the proposed indexes")


def command(out, *, rows, days, seed, repeat, keep=None, no_indexes=False, **_):
    if rows < 1 or days < 1 or repeat < 0:
        raise CommandError("--rows and --days must be positive, --repeat at least 0")
    run(rows, days=days, seed=seed, out=out, path=keep, keep=bool(keep), repeat=repeat, indexes=not no_indexes)


def run(rows=1_000_000, *, days=365, seed=1, out=print, scratch=True, path=None, keep=False, repeat=3, indexes=True):
    """Generate `rows` matters in a scratch database and time the statistics; returns {(within, group_by): ms}.

    ``scratch=False`` uses the current database as it is (tests: a test database). ``path``: the SQLite file of
    the scratch database (default: a temporary file); with ``keep`` it is left in place, and a later run with
    the same path and row count reuses its matters instead of generating them again. ``indexes``: after timing
    the schema as it is, add the missing `stats_indexes` and time again.
    """
    if rows < 1 or days < 1:
        raise ValueError("rows and days must be positive")
    if not scratch:
        return _run(rows, days=days, seed=seed, out=out, repeat=repeat, indexes=indexes)
    reuse = bool(keep and path and Path(path).exists())
    with scratch_database("stats", path=path, keep=keep, reuse=reuse, out=out):
        return _run(rows, days=days, seed=seed, out=out, repeat=repeat, indexes=indexes)


def _run(rows, *, days, seed, out, repeat, indexes):
    from fengqiao.matters.models import Dispatch, Matter

    now = timezone.now()
    if Matter.objects.count() != rows:
        started = time.perf_counter()
        world = build_world(seed=seed)
        out(
            f"world: {world['areas']} areas, {world['grids']} grids, {world['departments']} departments in "
            f"{time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        made = generate(rows, world, days=days, seed=seed, now=now)
        out(
            f"generated {made['matters']} matters and {made['dispatches']} dispatches in "
            f"{time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        counted = count_responses()
        out(f"response counters of {counted} matters set in {time.perf_counter() - started:.1f} s")
    connection = connections[Matter.objects.db]
    if connection.vendor == "sqlite" and Path(connection.settings_dict["NAME"]).is_file():
        out(f"database file: {Path(connection.settings_dict['NAME']).stat().st_size / 2**20:.0f} MiB")
    dispatches = Dispatch.objects.count()
    timings = measure(rows, dispatches, days=days, now=now, out=out, repeat=repeat, label="schema as declared")
    if indexes:
        added = add_indexes(out)
        if added:
            timings = measure(rows, dispatches, days=days, now=now, out=out, repeat=repeat, label="+ " + added)
    return timings


def count_responses():
    """The response-rate counters of the generated matters (`Matter.response_*`), which the engine keeps for
    matters moved by its steps, set from their dispatches in one UPDATE (as migration 0008 did for old rows)."""
    from fengqiao.matters.engine import recount_responses

    with transaction.atomic():
        return recount_responses()


def stats_indexes():
    """The indexes the statistics are built for, as the models declare them (ADR 0013, statistics): the covering
    index of the matters (every column the GROUP BY reads, after area and submitted_at, so SQLite answers from
    the index alone), the partial index of the few matters whose lead dispatches went to several units, and the
    dispatches' index by matter. A scratch database made without them (``--keep`` of an older schema) gets
    the missing ones added, and is measured again."""
    from fengqiao.matters.models import Dispatch, Matter

    names = {"matter_stats", "matter_response_elsewhere", "dispatch_stats"}
    return [(model, index) for model in (Matter, Dispatch) for index in model._meta.indexes if index.name in names]


def add_indexes(out):
    """Create the `stats_indexes` the database lacks; returns their names ("" when none was missing)."""
    added = []
    for model, index in stats_indexes():
        connection = connections[model.objects.db]
        with connection.cursor() as cursor:
            existing = connection.introspection.get_constraints(cursor, model._meta.db_table)
        if index.name in existing:
            continue
        started = time.perf_counter()
        # The statement itself, not `schema_editor.add_index`: SQLite's editor refuses to run inside a transaction.
        sql = index.create_sql(model, connection.schema_editor())
        with connection.cursor() as cursor:
            cursor.execute(str(sql))
        out(f"index {index.name} created in {time.perf_counter() - started:.1f} s")
        added.append(index.name)
    return ", ".join(added)


# ---------------------------------------------------------------------------------------------- the world


def build_world(*, seed=1):
    """The 清远市 division tree, grids and departments (returns ids the generator draws from)."""
    from fengqiao.accounts.models import User
    from fengqiao.areas.divisions import import_division_files
    from fengqiao.areas.models import Area, Grid, GridLayer
    from fengqiao.core.crypto import encrypt
    from fengqiao.departments.models import Category, Department

    if not Area.objects.filter(code=CITY).exists():
        import_division_files([DIVISIONS], actor="bench", edition="2022")
    rng = np.random.default_rng(seed)
    layer = GridLayer.objects.order_by("order", "code").first()
    city = Area.objects.get(code=CITY)
    areas = list(Area.objects.filter(path__startswith=city.path).values("pk", "level", "path", "urban_rural_code"))
    by_path = {a["path"]: a["pk"] for a in areas}
    villages = [a for a in areas if a["level"] == 5]
    if not Grid.objects.exists():
        grids = []
        for village in villages:
            for n in range(int(rng.integers(1, 5))):
                grids.append(
                    Grid(layer=layer, code=f"B{village['pk']}-{n}", name=f"网格{n + 1}", area_id=village["pk"])
                )
        Grid.objects.bulk_create(grids, batch_size=BATCH)
    if not Department.objects.exists():
        departments = []
        for area in areas:
            count = {3: 10, 4: 4, 2: 6}.get(area["level"], 0)
            departments += [Department(area_id=area["pk"], code=f"d{n}", name=f"部门{n}") for n in range(count)]
        Department.objects.bulk_create(departments, batch_size=BATCH)
    member = User.objects.filter(username="bench-grid-member").first() or User.objects.create_user(
        "bench-grid-member", is_active=False
    )
    grid_rows = list(Grid.objects.order_by("area_id", "pk").values_list("area_id", "pk"))
    first_grid, grid_count = {}, {}
    for index, (area_id, _pk) in enumerate(grid_rows):
        first_grid.setdefault(area_id, index)
        grid_count[area_id] = grid_count.get(area_id, 0) + 1
    dept_rows = list(Department.objects.order_by("area_id", "pk").values_list("area_id", "pk"))
    size = max(a["pk"] for a in areas) + 1
    dept_start, dept_count = np.zeros(size, dtype=int), np.zeros(size, dtype=int)
    for index, (area_id, _pk) in enumerate(dept_rows):
        if dept_count[area_id] == 0:
            dept_start[area_id] = index
        dept_count[area_id] += 1

    def ancestor(path, level):
        codes = path.strip("/").split("/")
        return by_path["/".join(codes[:level]) + "/"]

    village_ids = [v["pk"] for v in villages]
    return {
        "areas": len(areas),
        "villages": np.array(village_ids),
        "urban": np.array([v["urban_rural_code"].startswith("1") for v in villages]),
        "town_of": np.array([ancestor(v["path"], 4) for v in villages]),
        "county_of": np.array([ancestor(v["path"], 3) for v in villages]),
        "city": city.pk,
        "member": member.pk,
        "grid_ids": np.array([pk for _a, pk in grid_rows] or [0]),
        "grid_start": np.array([first_grid.get(v, 0) for v in village_ids]),
        "grid_count": np.array([grid_count.get(v, 0) for v in village_ids]),
        "grids": len(grid_rows),
        "dept_ids": np.array([pk for _a, pk in dept_rows] or [0]),
        "dept_start": dept_start,
        "dept_count": dept_count,
        "departments": len(dept_rows),
        "categories": np.array(list(Category.objects.values_list("pk", flat=True))),
        "cipher_name": encrypt("模拟姓名"),
        "cipher_phone": encrypt("19900000000"),
    }


# ---------------------------------------------------------------------------------------------- the matters

CHANNELS = ["12345", "snap", "patrol", "walk_in", "leader_message", "110", "visit", "mailbox", "assigned"]
CHANNEL_P = [0.45, 0.2, 0.15, 0.06, 0.04, 0.04, 0.03, 0.02, 0.01]
TITLES = np.array(
    ["路灯不亮", "井盖缺失", "噪音扰民", "占道经营", "垃圾未清运", "邻里纠纷", "欠薪求助", "道路破损", "违章搭建"]
)
DESCRIPTION = "群众反映的问题已持续数日，影响出行和生活，请相关部门尽快核实处理并答复。（模拟数据）"
HANDLE_DAYS = 7.0  # the handling limit, about 5 working days


def generate(rows, world, *, days, seed, now):
    """`rows` matters and their dispatches, `BATCH` at a time (one transaction each). Returns the counts.

    The rows are drawn as numpy columns and inserted with ``executemany`` (all other columns get their model
    defaults): ``bulk_create`` spends ~0.6 ms per row compiling values, 20 minutes for a million matters."""
    from fengqiao.matters.models import Dispatch, Matter

    rng = np.random.default_rng(seed + 1)
    villages = world["villages"]
    weight = rng.lognormal(0.0, 0.8, len(villages)) * np.where(world["urban"], 3.0, 1.0)
    weight /= weight.sum()
    first_id = (Matter.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    made = {"matters": 0, "dispatches": 0}
    for first in range(0, rows, BATCH):
        n = min(BATCH, rows - first)
        matters, dispatches = _batch(n, first_id + first, rng, world, weight, days=days, now=now)
        with transaction.atomic():
            _insert(Matter, matters, n, now)
            _insert(Dispatch, dispatches, len(dispatches["matter_id"]), now)
        made["matters"] += n
        made["dispatches"] += len(dispatches["matter_id"])
    connection = connections[Matter.objects.db]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Matter]):
            cursor.execute(sql)
    return made


def _batch(n, first_id, rng, world, weight, *, days, now):
    """The columns of `n` matters and of their dispatches. Times are days before `now` (NaN: never)."""
    nan = np.nan
    vi = rng.choice(len(world["villages"]), n, p=weight)
    village, town, county = world["villages"][vi], world["town_of"][vi], world["county_of"][vi]
    pick = rng.random((n, 3))
    grid_count = world["grid_count"][vi]
    grid = world["grid_ids"][
        world["grid_start"][vi] + np.minimum((pick[:, 0] * grid_count).astype(int), grid_count - 1)
    ]
    no_grid = (rng.random(n) < 0.08) | (grid_count == 0)
    age = rng.random(n) * days
    level = rng.choice([5, 4, 3, 2], n, p=[0.12, 0.75, 0.10, 0.03])
    owner = np.select([level == 5, level == 4, level == 3], [village, town, county], world["city"])
    u = rng.random(n)
    declined, merged = u < 0.04, (u >= 0.04) & (u < 0.06)
    spot = (u >= 0.06) & (u < 0.21) & ~no_grid
    disp = ~(declined | merged | spot)
    accept = rng.exponential(0.1, n)
    dispatch = accept + rng.exponential(0.2, n)
    ack = dispatch + rng.exponential(0.45, n)
    handle = ack + rng.exponential(4.0, n)
    accepted, dispatched, acked = accept < age, disp & (dispatch < age), disp & (ack < age)

    spot_at = np.minimum(accept, age)
    done_at = np.where(spot, spot_at, handle)  # when it was handled
    handled = spot | (disp & (handle < age))
    since = age - done_at
    reopened = handled & (since > 3) & (rng.random(n) < 0.03)
    closed = handled & (since > 3) & ~reopened
    replied = handled & (since > 1) & ~closed & ~reopened
    verified = handled & (since > 0.5) & ~closed & ~reopened & ~replied
    just_handled = handled & ~closed & ~reopened & ~replied & ~verified
    still_handled = handled & ~reopened
    waiting = rng.random(n) < 0.02
    rules = [
        (declined & accepted, "declined"),
        (merged & accepted, "merged"),
        (reopened, "accepted"),
        (closed, "closed"),
        (replied, "replied"),
        (verified, "verified"),
        (just_handled, "handled"),
        (acked & waiting, "waiting"),
        (acked, "in_progress"),
        (dispatched, "dispatched"),
        (accepted, "accepted"),
    ]
    state = np.select([rule for rule, _ in rules], [name for _, name in rules], "submitted")
    changed = np.select(
        [declined | merged, reopened | closed, replied, verified, just_handled, acked, dispatched, accepted],
        [accept, done_at + 3, done_at + 1, done_at + 0.5, done_at, ack, dispatch, accept],
        0.0,
    )
    late = disp & ((handled & (handle > dispatch + HANDLE_DAYS)) | (~handled & dispatched & (age > dispatch + 7)))
    used = (age - dispatch) / HANDLE_DAYS
    open_dispatched = dispatched & ~handled
    to_member = rng.random(n) < 0.10
    department = _pick(world, np.where(level == 5, town, owner), pick[:, 1])
    to_member |= department < 0
    rating = rng.choice(["satisfied", "basically", "unsatisfied", ""], n, p=[0.82, 0.11, 0.03, 0.04])
    categories = world["categories"]
    ids = np.arange(first_id, first_id + n)
    matters = {
        "id": ids,
        "tracking_code": np.char.add("FQ", np.char.zfill(ids.astype(str), 10)),
        "channel": rng.choice(CHANNELS, n, p=CHANNEL_P),
        "title": TITLES[ids % len(TITLES)],
        "description": DESCRIPTION,
        "category_id": _nullable(categories[rng.integers(0, len(categories), n)], rng.random(n) >= 0.05),
        "address": "清远市模拟路",
        "area_id": np.where(no_grid, town, village),
        "grid_id": _nullable(grid, ~no_grid),
        "needs_triage": no_grid,
        "location_method": np.where(no_grid, "area", "grid"),
        "handling_area_id": owner,
        "escalations": np.where(level < 4, 4 - level, 0),
        "anonymous": ids % 10 == 0,
        "reporter_name": np.where(ids % 10 == 0, "", world["cipher_name"]),
        "reporter_phone": np.where(ids % 10 == 0, "", world["cipher_phone"]),
        "state": state,
        "state_changed_at": np.minimum(changed, age),
        "submitted_at": np.zeros(n),
        "accepted_at": np.where(spot, spot_at, np.where((merged | disp) & accepted, accept, nan)),
        "dispatched_at": np.where(spot, spot_at, np.where(dispatched, dispatch, nan)),
        "acknowledged_at": np.where(spot, spot_at, np.where(acked, ack, nan)),
        "handled_at": np.where(still_handled, done_at, nan),
        "replied_at": np.where(replied | closed, done_at + 1, nan),
        "closed_at": np.where(closed, done_at + 3, np.where(merged & accepted, accept, nan)),
        "rating": np.where(closed, rating, np.where(reopened, "unsatisfied", "")),
        "reopened": reopened.astype(int),
        "solved_level": _nullable(np.where(spot, 5, level), still_handled),
        "solved_on_spot": spot & ~reopened,
        "handled_on_time": _nullable(spot | (handle <= dispatch + HANDLE_DAYS), still_handled),
        "was_overdue": late,
        "warning": np.where(
            open_dispatched & (used > 1), "red", np.where(open_dispatched & (used > 0.8), "yellow", "")
        ),
        "department_id": _nullable(department, dispatched & ~to_member & ~reopened),
        "assignee_id": _nullable(np.full(n, world["member"]), (dispatched & to_member | spot) & ~reopened),
    }
    for key in [k for k in matters if k.endswith("_at")]:
        matters[key] = age - matters[key]  # days before now
    returned = dispatched & (rng.random(n) < 0.03)
    assist = dispatched & (rng.random(n) < 0.08)
    lead_state = np.where(handled, "done", np.where(acked, "acknowledged", "pending"))
    parts = [
        # the grid member's own record of an on-the-spot solution: no acknowledgement deadline
        _dispatch_rows(spot, ids, age, None, world["member"], "lead", "done", spot_at, nan, spot_at, spot_at),
        _dispatch_rows(
            dispatched,
            ids,
            age,
            np.where(to_member, -1, department),
            world["member"],
            "lead",
            lead_state,
            dispatch,
            dispatch + 1,
            np.where(acked, ack, nan),
            np.where(handled, done_at, nan),
        ),
        # a first unit returned it (退单) within hours, unacknowledged
        _dispatch_rows(
            returned, ids, age, _pick(world, town, pick[:, 2]), world["member"], "lead", "returned", dispatch - 0.25,
            dispatch + 0.75, nan, dispatch - 0.08,
        ),
        _dispatch_rows(
            assist, ids, age, _pick(world, county, pick[:, 2]), world["member"], "assist",
            np.where(acked, "acknowledged", "pending"), dispatch, dispatch + 1, np.where(acked, ack, nan), nan,
        ),
    ]  # fmt: skip
    dispatches = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return matters, dispatches


def _dispatch_rows(mask, ids, age, department, member, role, state, at, due, acknowledged, ended):
    n = int(mask.sum())

    def column(value):
        value = np.broadcast_to(np.asarray(value), mask.shape)
        return value[mask]

    to_member = np.ones(n, dtype=bool) if department is None else column(department) < 0
    department_id = _nullable(np.zeros(n, dtype=int) if department is None else column(department), ~to_member)
    assignee = _nullable(np.full(n, member), to_member)
    return {
        "matter_id": ids[mask],
        "department_id": department_id,
        "assignee_id": assignee,
        "role": np.full(n, role),
        "state": column(state),
        "dispatched_at": column(age - np.asarray(at)),
        "acknowledge_due": column(age - np.asarray(due)),
        "acknowledged_at": column(age - np.asarray(acknowledged)),
        "ended_at": column(age - np.asarray(ended)),
    }


def _pick(world, area_ids, fraction):
    """A department of each area (by the fraction), or of nothing (-1) where the area has none."""
    start, count = world["dept_start"][area_ids], world["dept_count"][area_ids]
    index = start + np.minimum((fraction * count).astype(int), np.maximum(count - 1, 0))
    return np.where(count > 0, world["dept_ids"][np.minimum(index, len(world["dept_ids"]) - 1)], -1)


def _nullable(values, mask):
    out = np.asarray(values).astype(object)
    out[~np.asarray(mask, dtype=bool)] = None
    return out


def _insert(model, columns, n, now):
    """INSERT `n` rows of `model`: the given columns (arrays or constants; ``*_at``/``*_due`` as days before
    `now`), every other concrete column its default."""
    connection = connections[model.objects.db]
    fields = [f for f in model._meta.concrete_fields if f.column in columns or not f.primary_key]
    values = []
    for field in fields:
        if field.column in columns:
            value = columns[field.column]
            if field.get_internal_type() == "DateTimeField":
                value = _datetimes(now, value, n, connection.vendor)
            elif isinstance(value, np.ndarray):
                value = value.tolist()
            else:
                value = [value] * n
        else:
            default = field.get_default() if field.has_default() or not field.null else None
            if field.get_internal_type() == "DateTimeField" and default in (None, "") and not field.null:
                default = now  # created_at, updated_at
            value = [field.get_db_prep_save(default, connection)] * n
        values.append(value)
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(zip(*values, strict=True)))


def _datetimes(now, days_before, n, vendor):
    """Days before `now` (NaN: null) as the column values Django would write."""
    days_before = np.broadcast_to(np.asarray(days_before, dtype=float), (n,))
    micro = (now.timestamp() - days_before * 86400.0) * 1e6
    null = np.isnan(micro)
    text = np.datetime_as_string(np.where(null, 0, micro).astype("int64").astype("datetime64[us]"), unit="us")
    text = np.char.replace(text, "T", " ")
    if vendor != "sqlite":
        text = np.char.add(text, "+00:00")
    out = text.astype(object)
    out[null] = None
    return out.tolist()


# ---------------------------------------------------------------------------------------------- timing


def measure(rows, dispatches, *, days, now, out, repeat=3, label=""):
    from fengqiao.accounts.scope import Scope
    from fengqiao.areas.models import Area
    from fengqiao.matters.stats import GROUP_BY, StatsQuery, matter_stats

    end = timezone.localdate(now)
    start = end - datetime.timedelta(days=days - 1)
    everything = Scope(unrestricted=True)
    town = Area.objects.filter(code__startswith=COUNTY[:6], level=4).order_by("code").first()
    timings = {}
    for code in (CITY, COUNTY, town.code if town else None):
        if code is None:
            continue
        within = Area.objects.get(code=code)
        cells = []
        for group_by in (None, *GROUP_BY):
            if group_by == "grid" and code == CITY:
                continue  # refused: grids are grouped for a county or below
            query = StatsQuery(start=start, end=end, within=within, group_by=group_by)
            times, cpu = [], []
            for _ in range(1 + repeat):
                started, cpu_started = time.perf_counter(), time.process_time()
                report = matter_stats(query, scope=everything, now=now)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
            timings[(code, group_by)] = min(times[1:]) if repeat else times[0]
            best_cpu = min(cpu[1:]) if repeat else cpu[0]
            cells.append(f"{group_by or 'total'} {times[0]:.0f}/{timings[(code, group_by)]:.0f}/{best_cpu:.0f}")
        received = report["total"]["received"]
        # CPU time as well: on a shared machine the wall time also measures the other processes.
        out(f"{label}: {within.name} ({received} matters in {days} days), ms first/best/best CPU: " + ", ".join(cells))
    (code, group_by), slowest = max(timings.items(), key=lambda item: item[1])
    county = max(ms for (within, _group_by), ms in timings.items() if within == COUNTY)
    out(
        f"stats: {slowest:.0f} ms slowest (group_by={group_by or 'none'} within {code}), county {county:.0f} ms, "
        f"for {rows} matters, {dispatches} dispatches ({label})"
    )
    return timings
