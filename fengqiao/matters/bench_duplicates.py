"""`fengqiao bench duplicates`: how good and how fast the duplicate suggestions are (ADR 0019).

    fengqiao bench duplicates [--rows 1000000] [--top 5] [--calls 1000] [--seed 1] [--keep FILE]
    # last line: "duplicates: precision P, recall R (top K) on N matters; suggest p99 X ms at M rows"

In a scratch database (a fresh SQLite file, or ``<name>_duplicates_bench`` on PostgreSQL; the real one is never
touched), with the division tree of 清远市 from the demo fixture:

**Quality.** The real citizen messages of the 2020 Teddy Cup data (SHARED_DATA_DIR/complaints): the 9,210
labelled titles of 附件2 (title only) and the 4,326 messages of 附件3 (title and 留言详情). Duplicates are the
messages with the same title, or (附件3) the same 留言详情, once spaces, punctuation and full-width forms are ignored
— 附件2 alone has 609 rows sharing a whitespace-normalised title (split.csv's grouping), 627 by this rule — joined
transitively into groups. Every message becomes a matter of 佛冈县, placed by this seeded recipe:

* the county's six towns get synthetic centres, uniform in `POOL_BBOX`;
* each group (a message without duplicates is a group of one) gets a town — the one its district token
  (A3区, K8县, … in the first member's title) maps to, else a random one —, a place drawn around the town's centre
  (normal, sd `TOWN_SD_M` in each direction) and a moment uniform over the year;
* its members lie within `MEMBER_RADIUS_M` of the group's place (uniform in the disc) and within `MEMBER_DAYS`
  after its first member; each matter has a point with probability `POINT_SHARE`, else only its town (a hotline
  record without coordinates).

Every matter asks `duplicates.suggest(matter, limit=top)`; a suggestion is right when it is in the matter's group.
Precision = right suggestions / suggestions; recall = right suggestions / the other members of every matter's
group. Reported at the configured threshold (FENGQIAO_DUPLICATE_MIN_SCORE) and, for the trade-off, at others.
The matters are split in two halves by group (seeded): "dev" is the half the scoring was designed on; "test" is
the other half, and the figure reported.

**Speed.** Then synthetic matters are added up to `rows` in all of 清远市 over the year before (ending
`GAP_DAYS` before the pool's: they never fall in a pool matter's window): texts drawn from the real messages
(附件3 and 附件4 with their details), 92 towns with synthetic centres uniform in `CITY_BBOX` and lognormal
weights, points around them (sd `TOWN_SD_M`) for `POINT_SHARE` of them, else a village (70 %) or the town.
`calls` random matters of those ask `suggest` (the first `WARMUP` untimed); p50 and p99 per call are reported.
Finally the index ``matter_place`` is dropped and built again, timed (what migration 0009 costs a database).
"""

import collections
import csv
import datetime
import math
import re
import time
import unicodedata
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import connections, transaction
from django.utils import timezone

from fengqiao.core.bench import scratch_database

DIVISIONS = Path(__file__).resolve().parent.parent / "demo" / "fixtures" / "qingyuan_divisions.csv"
CITY = "441800000000"
COUNTY = "441821000000"  # 佛冈县
LABELLED = "teddy2020c_fj2_subject_labels.csv"
MESSAGES = "teddy2020c_fj3_messages_votes.csv"
REPLIES = "teddy2020c_fj4_messages_replies.csv"

POOL_BBOX = (113.40, 23.78, 113.72, 24.05)  # roughly 佛冈县 (WGS84): west, south, east, north
CITY_BBOX = (112.30, 23.55, 113.90, 25.10)  # roughly 清远市
TOWN_SD_M = 2000.0
MEMBER_RADIUS_M = 150.0
MEMBER_DAYS = 7.0
POINT_SHARE = 0.7
POOL_DAYS = 365.0
GAP_DAYS = 60.0
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8)
CURVE_MIN = 0.25  # the pool is asked once with this threshold; higher ones are read off the ranked lists
WARMUP = 20
BATCH = 20_000
METRES_PER_DEGREE = 111_320.0
_DISTRICT = re.compile(r"[A-K]\d{1,2}[区县市]")
_SPACE = re.compile(r"[\W_]+")


def add_arguments(parser):
    """`fengqiao bench duplicates` (registered with `fengqiao.core.bench.register` in `MattersConfig.ready`)."""
    parser.add_argument("--rows", type=int, default=1_000_000, help="matters for the speed part (1000000; 0: skip)")
    parser.add_argument("--top", type=int, default=5, help="suggestions asked per matter (5)")
    parser.add_argument("--calls", type=int, default=1000, help="timed suggest calls (1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, help="complaints folder (default: SHARED_DATA_DIR/complaints)")
    parser.add_argument("--keep", metavar="FILE", help="keep the scratch SQLite file here")


def command(out, *, rows, top, calls, seed, data=None, keep=None, **_):
    if rows < 0 or top < 1 or calls < 1:
        raise CommandError("--rows must be at least 0, --top and --calls at least 1")
    folder = Path(data) if data else Path(settings.SHARED_DATA_DIR) / "complaints"
    missing = [name for name in (LABELLED, MESSAGES, REPLIES) if not (folder / name).is_file()]
    if missing:
        raise CommandError(
            f"complaint files not found in {folder}: {', '.join(missing)} (set FENGQIAO_SHARED_DATA_DIR)"
        )
    run(rows, top=top, calls=calls, seed=seed, folder=folder, out=out, path=keep, keep=bool(keep))


def run(rows=1_000_000, *, top=5, calls=1000, seed=1, folder=None, out=print, scratch=True, path=None, keep=False,
        limit=None):  # fmt: skip
    """Measure; returns a dict of the figures. ``scratch=False`` uses the current database (tests); ``limit``
    (tests): a part of the messages (see `read_messages`; background texts: the first `limit` of each file)."""
    folder = Path(folder) if folder else Path(settings.SHARED_DATA_DIR) / "complaints"
    if not scratch:
        return _run(rows, top=top, calls=calls, seed=seed, folder=folder, out=out, limit=limit)
    with scratch_database("duplicates", path=path, keep=keep, out=out):
        return _run(rows, top=top, calls=calls, seed=seed, folder=folder, out=out, limit=limit)


def _run(rows, *, top, calls, seed, folder, out, limit):
    from fengqiao.areas.divisions import import_division_files
    from fengqiao.areas.models import Area
    from fengqiao.matters.duplicates import rules_for

    if not Area.objects.filter(code=CITY).exists():
        import_division_files([DIVISIONS], actor="bench", edition="2022")
    now = timezone.now()
    records, groups = read_messages(folder, limit=limit)
    sizes = collections.Counter(collections.Counter(groups).values())
    in_groups = sum(size * count for size, count in sizes.items() if size > 1)
    out(
        f"pool: {len(records)} messages ({sum(r['source'] == LABELLED for r in records)} labelled titles of 附件2, "
        f"{sum(r['source'] == MESSAGES for r in records)} messages of 附件3); {in_groups} in "
        f"{sum(c for s, c in sizes.items() if s > 1)} duplicate groups (sizes {dict(sorted(sizes.items()))})"
    )
    ids = place_pool(records, groups, seed=seed, now=now)
    rules = rules_for(None)
    out(
        f"rules: radius {rules.radius_m:g} m, window ±{rules.window_days:g} days, min score {rules.min_score:g}; "
        f"recipe: members within {MEMBER_RADIUS_M:g} m and {MEMBER_DAYS:g} days, {POINT_SHARE:.0%} with a point"
    )
    started = time.perf_counter()
    ranked = ask(ids, top=top)
    out(f"asked {len(ids)} matters in {time.perf_counter() - started:.1f} s")
    half = halves(groups, seed=seed)
    result = {}
    for part in ("dev", "test"):
        chosen = [i for i, h in enumerate(half) if h == part]
        cells = []
        for threshold in THRESHOLDS:
            precision, recall, _n = score(ranked, ids, groups, chosen, threshold)
            cells.append(f"{threshold:g}: P {precision:.3f} R {recall:.3f}")
        out(f"{part} ({len(chosen)} matters), by threshold: " + "; ".join(cells))
        result[part] = score(ranked, ids, groups, chosen, rules.min_score)
    precision, recall, suggested = result["test"]
    out(
        f"at {rules.min_score:g}: dev P {result['dev'][0]:.3f} R {result['dev'][1]:.3f}; test P {precision:.3f} "
        f"R {recall:.3f} ({suggested} suggestions)"
    )
    by_source = {}
    for source in (LABELLED, MESSAGES):
        chosen = [i for i, h in enumerate(half) if h == "test" and records[i]["source"] == source]
        by_source[source] = score(ranked, ids, groups, chosen, rules.min_score)
        out(f"  test, {source}: P {by_source[source][0]:.3f} R {by_source[source][1]:.3f}")
    figures = {"precision": precision, "recall": recall, "top": top, "pool": len(ids), "by_source": by_source}
    figures["dev"] = result["dev"]
    if rows:
        figures |= speed(rows, calls=calls, seed=seed, folder=folder, now=now, out=out, limit=limit)
        out(
            f"duplicates: precision {precision:.3f}, recall {recall:.3f} (top {top}) on {len(ids)} matters; "
            f"suggest p99 {figures['p99']:.1f} ms at {figures['rows']} rows"
        )
    else:
        out(f"duplicates: precision {precision:.3f}, recall {recall:.3f} (top {top}) on {len(ids)} matters")
    return figures


# ---------------------------------------------------------------------------------------------- quality


def _plain(text):
    return _SPACE.sub("", unicodedata.normalize("NFKC", text or "").lower())


def read_messages(folder, *, limit=None):
    """(records, group of each record): 附件2 titles and 附件3 messages, grouped by equal title or detail.
    ``limit`` (tests): only the first `limit` duplicate groups and `limit` messages without a duplicate."""
    records = []
    for name, detail in ((LABELLED, None), (MESSAGES, "留言详情")):
        with (Path(folder) / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                body = " ".join((row.get(detail) or "").split()) if detail else ""
                records.append({"source": name, "title": " ".join(row["留言主题"].split()), "description": body})
    parent = list(range(len(records)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first = {}
    for i, record in enumerate(records):
        keys = [("title", _plain(record["title"]))]
        if record["description"]:
            keys.append(("detail", _plain(record["description"])))
        for key in keys:
            if not key[1]:
                continue
            if key in first:
                parent[find(i)] = find(first[key])
            else:
                first[key] = i
    groups = [find(i) for i in range(len(records))]
    if limit is not None:  # the first `limit` duplicate groups and the first `limit` messages without duplicates
        size = collections.Counter(groups)
        several = set(sorted(g for g in size if size[g] > 1)[:limit])
        single = [i for i, g in enumerate(groups) if size[g] == 1][:limit]
        keep = sorted({i for i, g in enumerate(groups) if g in several} | set(single))
        records, groups = [records[i] for i in keep], [groups[i] for i in keep]
    return records, groups


def _towns(county_code):
    from fengqiao.areas.models import Area

    county = Area.objects.get(code=county_code)
    return list(
        Area.objects.filter(path__startswith=county.path, level=4, name__regex=r"(镇|街道|乡)$")
        .order_by("code")
        .values_list("pk", flat=True)
    )


def _disc(rng, n, radius_m, lat):
    """`n` offsets (dlon, dlat in degrees) uniform in a disc of `radius_m`."""
    r = radius_m * np.sqrt(rng.random(n))
    a = rng.random(n) * 2 * math.pi
    return r * np.cos(a) / (METRES_PER_DEGREE * math.cos(math.radians(lat))), r * np.sin(a) / METRES_PER_DEGREE


def place_pool(records, groups, *, seed, now):
    """Insert the pool's matters as the recipe says; returns their ids in record order."""
    from fengqiao.matters.models import Matter

    rng = np.random.default_rng(seed)
    towns = _towns(COUNTY)
    west, south, east, north = POOL_BBOX
    centres = np.column_stack([rng.uniform(west, east, len(towns)), rng.uniform(south, north, len(towns))])
    lat0 = (south + north) / 2
    members = collections.defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    n = len(records)
    lon, lat, days, town = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, dtype=int)
    for g in sorted(members):
        first = members[g][0]
        token = _DISTRICT.search(records[first]["title"])
        t = _stable(token.group(0)) % len(towns) if token else int(rng.integers(len(towns)))
        centre = centres[t] + rng.normal(0, TOWN_SD_M, 2) / [
            METRES_PER_DEGREE * math.cos(math.radians(lat0)),
            METRES_PER_DEGREE,
        ]
        start = rng.uniform(MEMBER_DAYS, POOL_DAYS)  # days before now
        k = len(members[g])
        dlon, dlat = _disc(rng, k, MEMBER_RADIUS_M, lat0)
        later = np.concatenate([[0.0], rng.uniform(0, MEMBER_DAYS, k - 1)])
        for j, i in enumerate(members[g]):
            lon[i], lat[i] = centre[0] + dlon[j], centre[1] + dlat[j]
            days[i], town[i] = start - later[j], t
    pointed = rng.random(n) < POINT_SHARE
    first_id = (Matter.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    ids = np.arange(first_id, first_id + n)
    area = np.array(towns)[town]
    columns = _columns(ids, records, lon, lat, pointed, area, area, days)
    with transaction.atomic():
        _insert_matters(columns, n, now)
    return ids.tolist()


def _stable(text):
    """A hash that does not change between runs (Python's does)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(text))


def _columns(ids, records, lon, lat, pointed, area, handling, days):
    from fengqiao.matters.bench_stats import _nullable

    return {
        "id": ids,
        "tracking_code": np.char.add("FD", np.char.zfill(ids.astype(str), 10)),
        "channel": "12345",
        "title": np.array([r["title"][:200] for r in records], dtype=object),
        "description": np.array([r["description"][:10000] for r in records], dtype=object),
        "lon": _nullable(lon, pointed),
        "lat": _nullable(lat, pointed),
        "area_id": area,
        "handling_area_id": handling,
        "location_method": np.where(pointed, "point", "area"),
        "state": "submitted",
        "state_changed_at": days,
        "submitted_at": days,
    }


def _insert_matters(columns, n, now):
    from fengqiao.matters.bench_stats import _insert
    from fengqiao.matters.models import Matter

    _insert(Matter, columns, n, now)
    connection = connections[Matter.objects.db]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Matter]):
            cursor.execute(sql)


def ask(ids, *, top):
    """{matter id: [(suggested id, score), …]} with the threshold `CURVE_MIN` (higher ones: a prefix)."""
    from fengqiao.matters.duplicates import suggest
    from fengqiao.matters.models import Matter

    ranked = {}
    for first in range(0, len(ids), 2000):
        chunk = ids[first : first + 2000]
        for matter in Matter.objects.select_related("area", "category").filter(pk__in=chunk):
            ranked[matter.pk] = [(s.matter_id, s.score) for s in suggest(matter, limit=top, min_score=CURVE_MIN)]
    return ranked


def halves(groups, *, seed):
    """ "dev" or "test" per record, by group (seeded)."""
    rng = np.random.default_rng(seed + 7)
    side = {g: ("dev" if rng.random() < 0.5 else "test") for g in sorted(set(groups))}
    return [side[g] for g in groups]


def score(ranked, ids, groups, chosen, threshold):
    """(precision, recall, suggestions) of the matters `chosen` (record indexes) at `threshold`."""
    group_of = dict(zip(ids, groups, strict=True))
    size = collections.Counter(groups)
    right = made = wanted = 0
    for i in chosen:
        pk = ids[i]
        found = [s for s, value in ranked[pk] if value >= threshold]
        made += len(found)
        right += sum(group_of.get(s) == groups[i] for s in found)
        wanted += size[groups[i]] - 1
    return (right / made if made else 1.0), (right / wanted if wanted else 1.0), made


# ---------------------------------------------------------------------------------------------- speed


def background_texts(folder, *, limit=None):
    texts = []
    for name in (MESSAGES, REPLIES):
        with (Path(folder) / name).open(encoding="utf-8", newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh)):
                if limit is not None and n >= limit:
                    break
                texts.append(
                    {"title": " ".join(row["留言主题"].split()), "description": " ".join(row["留言详情"].split())}
                )
    return texts


def speed(rows, *, calls, seed, folder, now, out, limit=None):
    from fengqiao.areas.models import Area
    from fengqiao.matters import duplicates
    from fengqiao.matters.models import Matter

    existing = Matter.objects.count()
    rng = np.random.default_rng(seed + 3)
    if rows > existing:
        started = time.perf_counter()
        texts = background_texts(folder, limit=limit)
        city = Area.objects.get(code=CITY)
        towns = list(Area.objects.filter(path__startswith=city.path, level=4).order_by("code").values("pk", "path"))
        villages = collections.defaultdict(list)
        for pk, path in Area.objects.filter(path__startswith=city.path, level=5).values_list("pk", "path"):
            villages[path.rsplit("/", 2)[0] + "/"].append(pk)
        west, south, east, north = CITY_BBOX
        centres = np.column_stack([rng.uniform(west, east, len(towns)), rng.uniform(south, north, len(towns))])
        weight = rng.lognormal(0.0, 0.8, len(towns))
        weight /= weight.sum()
        first_id = (Matter.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        todo = rows - existing
        for first in range(0, todo, BATCH):
            n = min(BATCH, todo - first)
            t = rng.choice(len(towns), n, p=weight)
            lat0 = centres[t, 1]
            lon = centres[t, 0] + rng.normal(0, TOWN_SD_M, n) / (METRES_PER_DEGREE * np.cos(np.radians(lat0)))
            lat = lat0 + rng.normal(0, TOWN_SD_M, n) / METRES_PER_DEGREE
            pointed = rng.random(n) < POINT_SHARE
            in_village = rng.random(n) < 0.7
            area = np.array(
                [_village(rng, villages, towns[k]) if v else towns[k]["pk"] for k, v in zip(t, in_village, strict=True)]
            )
            area = np.where(pointed, np.array([_village(rng, villages, towns[k]) for k in t]), area)
            days = POOL_DAYS + GAP_DAYS + rng.random(n) * POOL_DAYS
            picked = [texts[k] for k in rng.integers(0, len(texts), n)]
            ids = np.arange(first_id + first, first_id + first + n)
            handling = np.array([towns[k]["pk"] for k in t])
            columns = _columns(ids, picked, lon, lat, pointed, area, handling, days)
            with transaction.atomic():
                _insert_matters(columns, n, now)
        out(f"added {todo} matters in {time.perf_counter() - started:.1f} s ({Matter.objects.count()} in all)")
    connection = connections[Matter.objects.db]
    if connection.vendor == "sqlite" and Path(connection.settings_dict["NAME"]).is_file():
        out(f"database file: {Path(connection.settings_dict['NAME']).stat().st_size / 2**20:.0f} MiB")
    newest = Matter.objects.order_by("-submitted_at").values_list("submitted_at", flat=True).first()
    background = list(
        Matter.objects.filter(submitted_at__lt=newest - datetime.timedelta(days=POOL_DAYS + GAP_DAYS / 2))
        .order_by("pk")
        .values_list("pk", flat=True)
    ) or list(Matter.objects.values_list("pk", flat=True))
    chosen = [background[k] for k in rng.integers(0, len(background), calls + WARMUP)]
    matters = {m.pk: m for m in Matter.objects.select_related("area", "category").filter(pk__in=chosen)}
    read = []
    original = duplicates._values

    def counting(queryset):
        values = original(queryset)
        read.append(len(values))
        return values

    times, kinds, reads = [], [], []
    duplicates._values = counting  # counts the candidate rows each call reads
    try:
        for n, pk in enumerate(chosen):
            matter, mark = matters[pk], len(read)
            started = time.perf_counter()
            duplicates.suggest(matter)
            elapsed = (time.perf_counter() - started) * 1000
            if n >= WARMUP:
                times.append(elapsed)
                kinds.append(matter.lon is not None)
                reads.append(sum(read[mark:]))
    finally:
        duplicates._values = original
    times, kinds, reads = np.array(times), np.array(kinds), np.array(reads)
    p50, p99 = np.percentile(times, 50), np.percentile(times, 99)
    by_kind = ", ".join(
        f"{label} p50 {np.percentile(times[mask], 50):.1f} / p99 {np.percentile(times[mask], 99):.1f} ms"
        for label, mask in (("with a point", kinds), ("without", ~kinds))
        if mask.any()
    )
    out(f"suggest × {len(times)}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {times.max():.1f} ms ({by_kind})")
    out(f"rows read per query: mean {reads.mean():.0f}, max {reads.max()}")
    explain(matters[chosen[0]], out)
    rebuild = rebuild_index(out)
    return {"p50": p50, "p99": p99, "rows": Matter.objects.count(), "index_seconds": rebuild}


def _village(rng, villages, town):
    options = villages.get(town["path"])
    return options[int(rng.integers(len(options)))] if options else town["pk"]


def explain(matter, out):
    """The plans of the candidate queries (they must read the indexes, not scan)."""
    from django.db.models import F

    from fengqiao.matters.duplicates import AREA_CANDIDATES
    from fengqiao.matters.models import Matter, PlaceCell

    connection = connections[Matter.objects.db]
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    at = matter.submitted_at
    window = datetime.timedelta(days=30)
    recent = Matter.objects.filter(submitted_at__gte=at - window, submitted_at__lte=at + window)
    bounds = {"lon__gte": 0, "lat__gte": 0, "lon__isnull": False, "lat__isnull": False}
    near = recent.alias(cell=PlaceCell(F("lon"), F("lat"))).filter(cell__in=[1, 2], **bounds)
    area = recent.filter(area_id=matter.area_id, lon__isnull=True, submitted_at__lte=at).order_by("-submitted_at")
    for label, queryset in (("near", near.order_by()), ("area", area[:AREA_CANDIDATES])):
        sql, params = queryset.values("pk", "title").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(prefix + sql, params)
            out(f"plan ({label}): " + "; ".join(row[-1].strip() for row in cursor.fetchall()))


def rebuild_index(out):
    from fengqiao.matters.models import Matter

    connection = connections[Matter.objects.db]
    index = next(i for i in Matter._meta.indexes if i.name == "matter_place")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # deferred foreign-key checks of the inserts (tests: one transaction)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(index.name)}")
        started = time.perf_counter()
        cursor.execute(str(index.create_sql(Matter, connection.schema_editor())))
        seconds = time.perf_counter() - started
    out(f"index matter_place built in {seconds:.1f} s on {Matter.objects.count()} matters")
    return seconds
