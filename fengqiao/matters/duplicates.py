"""Duplicate suggestions (并单, ADR 0019): likely duplicates of a matter among the open and recent ones.

    suggest(matter, limit=5, scope=None)          # on demand (API, staff UI) and when a matter arrives
    suggest_for(title, description, lon, lat, area, at, exclude=(), category=None, address="", …)

A candidate lies near the place and within the time window (both configurable, per category too), and its text
is similar. Each `Suggestion` has a score in [0, 1] and a reason for staff ("相距 120 米 · 相隔 2 天 · 共同词语：
路灯、不亮"). Nothing is written: staff confirm a merge with the engine's ``merge`` step (`engine.perform`).

**Where** (an index, not a scan): a matter with a point reads the matters whose point lies in the cells of the
fixed lon/lat grid around it (`models.PlaceCell`, the expression index ``matter_place`` over cell, submitted_at,
lon, lat) within the window, the bounding box of the radius checked in the index; the exact distance is then
computed here. Matters without a point are compared by area: a matter without a point with those of its own area
(the (area, submitted_at) index), and a matter with a point also with the matters without one placed in its area
or one of the areas above it up to the town — at most `AREA_CANDIDATES` per area, the nearest in time.

**Text**: character bigrams of the normalised title and of the start of the description (NFKC, lower case,
punctuation and spaces dropped), compared by weighted cosine; bigrams of words every complaint uses (反映, 投诉,
问题, 尽快, …) and those with a function character (的, 了, 我, …) weigh less. Titles are compared with titles,
and whole texts with whole texts when both have a description; a title is looked for in the other's whole text
when only the other has one.

**Score** = text × place × time: place 1 at the same point, falling linearly to 0.7 at the radius (0.7 for the
same area without points, up to 1 with the same address); time 1 at the same moment, 0.8 at the window's edge.
Suggestions need `min_score` (FENGQIAO_DUPLICATE_MIN_SCORE). A candidate already merged into another matter
stands for that matter (the suggestion names the duplicate that matched). Closed matters are suggested for
reference, flagged ``mergeable=False`` (the engine merges only into an open matter).
"""

import dataclasses
import datetime
import math
import re
import unicodedata

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import F, Q
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.areas.codes import Level
from fengqiao.core import cache
from fengqiao.matters.models import CELL_ROW, CELLS_PER_DEGREE, Matter, PlaceCell
from fengqiao.matters.workflows import get_workflow

# Defaults of the settings ([I]: inferred, configurable).
RADIUS_M = 500.0  # FENGQIAO_DUPLICATE_RADIUS_M: "nearby" — a few minutes' walk
WINDOW_DAYS = 30.0  # FENGQIAO_DUPLICATE_WINDOW_DAYS: either side of the matter's submission
MIN_SCORE = 0.45  # FENGQIAO_DUPLICATE_MIN_SCORE
MAX_RADIUS_M = 5000.0  # a larger radius would read hundreds of cells: a different tool (area statistics) then
MAX_WINDOW_DAYS = 366.0
MAX_LIMIT = 20

BODY_CHARS = 300  # characters of the description compared (read as a substring: long texts are not fetched)
GENERIC_WEIGHT = 0.2
# Words of every complaint, whatever it is about: their bigrams weigh GENERIC_WEIGHT instead of 1. Chosen by
# reading, not fitted to any data.
_GENERIC = (
    "关于 反映 反应 投诉 举报 咨询 请求 要求 建议 希望 问题 情况 相关 部门 领导 尊敬 您好 你好 市民 群众 居民 我们 本人"
    " 处理 解决 尽快 严重 现在 一直 没有 什么 为什么 是否 可以 能否 如何 怎么 请问 谢谢 政府 有关 存在 导致 影响 进行"
    " 已经 目前 一个 这个 这些 多次 无人 管理 给予 予以 重视 市里 区里 县里"
)
GENERIC_WORDS = tuple(_GENERIC.split())
PLACE_AT_RADIUS = 0.7  # the place factor at the radius (1 at the same point)
PLACE_SAME_AREA = 0.7  # the place factor of the same area when a point is missing
TIME_AT_EDGE = 0.8  # the time factor at the window's edge (1 at the same moment)
CONTAINED = 0.8  # a title found in the other's whole text counts this much of a title match
INFORMATIVE_WEIGHT = 4.0  # … when it has at least this weight of bigrams (five characters of specific words)
METRES_PER_DEGREE = 111_320.0
# Matters compared by area (no point): at most this many per area, the nearest in time. A busy town can have
# thousands without a point in a month; text is compared in Python, ~50 µs a matter.
AREA_CANDIDATES = 200
AREA_TTL = 60  # seconds the ancestors of an area are cached (the tree changes with a division edition)


def _bigrams(text):
    if len(text) < 2:
        return frozenset((text,)) if text else frozenset()
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


# Function characters (particles, pronouns): a bigram with one of them says little either (题的, 我们, 了一).
FUNCTION_CHARACTERS = "的了是在和与及或我你他她们这那就也都还被把给让吗呢吧啊"
GENERIC_BIGRAMS = frozenset().union(*(_bigrams(word) for word in GENERIC_WORDS))


_FUNCTION = re.compile(f"[{FUNCTION_CHARACTERS}]")
_FUNCTION_GRAM = re.compile(f"[{FUNCTION_CHARACTERS}][^|]?|[^|][{FUNCTION_CHARACTERS}]")


def _generic(grams):
    """How many of `grams` are generic: a generic word's, or with a function character (counted in C: this runs
    for every candidate)."""
    words = GENERIC_BIGRAMS.intersection(grams)
    functional = len(_FUNCTION_GRAM.findall("|".join(grams)))
    return functional + len(words) - sum(1 for g in words if _FUNCTION.search(g))


_NOT_WORD = re.compile(r"[\W_]+")


def normalise(text) -> str:
    """NFKC (full-width → half-width), lower case, every space, punctuation mark and symbol dropped."""
    text = _NOT_WORD.sub("", text or "")  # first: NFKC is slow on full-width punctuation, and drops nothing
    if not unicodedata.is_normalized("NFKC", text):
        text = _NOT_WORD.sub("", unicodedata.normalize("NFKC", text))
    return text.lower()


def _weight(grams):
    return len(grams) - (1 - GENERIC_WEIGHT) * _generic(grams)


def _cosine(a, wa, b, wb):
    if not wa or not wb:
        return 0.0
    return _weight(a.intersection(b)) / math.sqrt(wa * wb)


class Text:
    """A matter's text, prepared for comparison: normalised title and start of the description, their bigrams
    (those of the whole text only when needed: they are the costly part)."""

    __slots__ = ("_full", "_full_weight", "body", "title", "title_grams", "title_weight")

    def __init__(self, title, description=""):
        self.title = normalise(title)
        self.body = normalise((description or "")[: BODY_CHARS * 2])[:BODY_CHARS]
        self.title_grams = _bigrams(self.title)
        self.title_weight = _weight(self.title_grams)
        self._full = None

    @property
    def full(self):
        """The bigrams of title and description."""
        if self._full is None:
            self._full = self.title_grams | _bigrams(self.body) if self.body else self.title_grams
            self._full_weight = _weight(self._full)
        return self._full

    def contains(self, gram):
        return gram in self.title or gram in self.body

    def similarity(self, other) -> float:
        """In [0, 1]: titles by weighted cosine; whole texts too when both have a description; a title found in
        the other's whole text (times CONTAINED) when only the other has one."""
        best = _cosine(self.title_grams, self.title_weight, other.title_grams, other.title_weight)
        if self.body and other.body:
            best = max(best, _cosine(self.full, self._full_weight, other.full, other._full_weight))
        elif self.body or other.body:
            short, long = (other, self) if self.body else (self, other)
            if short.title_weight:
                found = {g for g in short.title_grams if long.contains(g)}
                # A title of a few characters (您好, 业主) is found in any text: it tells little.
                informative = min(1.0, short.title_weight / INFORMATIVE_WEIGHT)
                best = max(best, CONTAINED * informative * _weight(found) / short.title_weight)
        return min(best, 1.0)

    def shared(self, other, most=4) -> list[str]:
        """The longest runs of this text's title (else its description) whose bigrams all occur in the other's
        text, generic words left out: the "shared words" of a reason."""
        phrases = []
        for text in (self.title, self.body):
            run = ""
            for i in range(len(text) - 1):
                if other.contains(text[i : i + 2]):
                    run = run + text[i + 1] if run else text[i : i + 2]
                    continue
                phrases.append(run)
                run = ""
            phrases.append(run)
            phrases = [p for p in dict.fromkeys(phrases) if len(p) >= 2 and _generic(_bigrams(p)) < len(p) - 1]
            if phrases:
                break
        phrases.sort(key=len, reverse=True)
        return [p if len(p) <= 12 else p[:12] + "…" for p in phrases[:most]]


# --- configuration ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rules:
    radius_m: float
    window_days: float
    min_score: float


def _number(name, value, low, high):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if not (low < number <= high):
        raise ImproperlyConfigured(f"{name} must be more than {low:g} and at most {high:g}, got {value!r}")
    return number


def rules_for(category=None) -> Rules:
    """The radius, window and threshold for a matter of `category` (a `Category` or None).

    FENGQIAO_DUPLICATE_CATEGORIES = {"<category code>": {"radius_m": 100, "window_days": 7}, …} overrides the
    defaults for a category and the categories below it (the nearest configured ancestor wins)."""

    def setting(name, default, high):
        return _number(f"FENGQIAO_{name}", getattr(settings, f"FENGQIAO_{name}", default), 0, high)

    radius = setting("DUPLICATE_RADIUS_M", RADIUS_M, MAX_RADIUS_M)
    window = setting("DUPLICATE_WINDOW_DAYS", WINDOW_DAYS, MAX_WINDOW_DAYS)
    minimum = setting("DUPLICATE_MIN_SCORE", MIN_SCORE, 1)
    overrides = getattr(settings, "FENGQIAO_DUPLICATE_CATEGORIES", None) or {}
    if not isinstance(overrides, dict):
        raise ImproperlyConfigured("FENGQIAO_DUPLICATE_CATEGORIES must be a JSON object {category code: {...}}")
    if category is not None and overrides:
        for code in reversed(category.ancestor_codes()):
            rule = overrides.get(code)
            if rule is None:
                continue
            name = f"FENGQIAO_DUPLICATE_CATEGORIES[{code!r}]"
            if not isinstance(rule, dict) or set(rule) - {"radius_m", "window_days"}:
                raise ImproperlyConfigured(f"{name} must be an object with radius_m and/or window_days, got {rule!r}")
            if "radius_m" in rule:
                radius = _number(f"{name}.radius_m", rule["radius_m"], 0, MAX_RADIUS_M)
            if "window_days" in rule:
                window = _number(f"{name}.window_days", rule["window_days"], 0, MAX_WINDOW_DAYS)
            break
    return Rules(radius, window, minimum)


# --- suggestions -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Suggestion:
    matter_id: int
    tracking_code: str
    title: str
    state: str
    state_label: str
    submitted_at: datetime.datetime
    score: float
    text_score: float
    distance_m: float | None  # None: compared by area (a point is missing)
    hours_apart: float
    shared: tuple[str, ...]
    mergeable: bool  # open and not merged itself: the engine's `merge` may take a matter into it
    via: str | None  # the tracking code of the duplicate merged into it that matched, if not itself
    reason: str

    def as_dict(self):
        return dataclasses.asdict(self) | {"shared": list(self.shared)}


FIELDS = ("pk", "tracking_code", "title", "lon", "lat", "address", "area_id", "submitted_at", "state", "workflow")
FIELDS += ("parent_id", "area__path", "area__name")


def suggest(matter, limit=5, *, scope=None, min_score=None) -> list["Suggestion"]:
    """Likely duplicates of `matter` (itself, what is merged into it and what it is merged into left out), best
    first. A merged matter has none: it is a duplicate already. `scope` (a `Scope`): only matters it covers."""
    if matter.parent_id is not None:
        return []
    exclude = {matter.pk, *Matter.objects.filter(parent=matter).values_list("pk", flat=True)}
    return suggest_for(
        matter.title,
        matter.description,
        matter.lon,
        matter.lat,
        matter.area,
        matter.submitted_at,
        exclude=exclude,
        category=matter.category,
        address=matter.address,
        limit=limit,
        scope=scope,
        min_score=min_score,
    )


def suggest_for(
    title,
    description,
    lon,
    lat,
    area,
    at,
    *,
    exclude=(),
    category=None,
    address="",
    limit=5,
    scope=None,
    min_score=None,
) -> list[Suggestion]:
    """Likely duplicates of a matter not (necessarily) stored: its text, point (or None), `Area`, and moment.

    `exclude`: matter ids never to suggest. `category`: a `Category` (its rules, see `rules_for`). `scope`: a
    `Scope`; only matters in it are suggested (None: all). `min_score`: instead of the configured one."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit!r}")
    if area is None:
        raise ValueError("area is required (the area the matter was placed in)")
    rules = rules_for(category)
    minimum = rules.min_score if min_score is None else min_score
    at = at or timezone.now()
    text = Text(title, description)
    if not text.title and not text.body:
        return []
    window = datetime.timedelta(days=rules.window_days)
    recent = Matter.objects.filter(submitted_at__gte=at - window, submitted_at__lte=at + window)
    point = lon is not None and lat is not None
    rows = []
    if point:
        rows += _near(recent, lon, lat, rules.radius_m)
        unplaced = Q(lon__isnull=True) | Q(lat__isnull=True)
        for area_id in _areas_up_to_town(area):
            rows += _nearest_in_time(recent.filter(unplaced, area_id=area_id), at)
    else:
        rows += _nearest_in_time(recent.filter(area_id=area.pk), at)
    exclude = set(exclude)
    allowed = None if scope is None or scope.unrestricted else scope.covers
    key = address_key(address)
    scored = {}
    for row in rows:
        if row["pk"] in exclude or row["pk"] in scored or (allowed and not allowed(row["area__path"])):
            continue
        other = Text(row["title"], row["body"])
        similarity = text.similarity(other)
        if similarity >= minimum:  # place and time only lower it
            place, distance = _place(lon, lat, area, key, row, rules.radius_m)
            if place == 0:
                continue
            hours = abs((row["submitted_at"] - at).total_seconds()) / 3600
            when = 1 - (1 - TIME_AT_EDGE) * min(hours / (rules.window_days * 24), 1.0)
            score = similarity * place * when
            if score >= minimum:
                scored[row["pk"]] = (score, similarity, distance, hours, text.shared(other), row)
    return _suggestions(scored, exclude, allowed, limit)


def _values(queryset):
    return list(queryset.annotate(body=Substr("description", 1, BODY_CHARS * 2)).values(*FIELDS, "body"))


def _nearest_in_time(queryset, at):
    """The `AREA_CANDIDATES` matters of an area nearest in time to `at` (before and after it: each read in the
    order of the (area, submitted_at) index, so a busy area costs no more than a quiet one)."""
    before = _values(queryset.filter(submitted_at__lte=at).order_by("-submitted_at")[:AREA_CANDIDATES])
    after = _values(queryset.filter(submitted_at__gt=at).order_by("submitted_at")[:AREA_CANDIDATES])
    if len(before) + len(after) <= AREA_CANDIDATES:
        return before + after
    return sorted(before + after, key=lambda row: abs(row["submitted_at"] - at))[:AREA_CANDIDATES]


def _near(recent, lon, lat, radius_m):
    """Rows whose point lies in the bounding box of the radius, read through the cells of the index."""
    dlat = radius_m / METRES_PER_DEGREE
    dlon = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    west, east, south, north = lon - dlon, lon + dlon, lat - dlat, lat + dlat
    # The rows and columns of `models.place_cell` (the same float operations as the database's).
    rows = range(int((south + 90) * CELLS_PER_DEGREE), int((north + 90) * CELLS_PER_DEGREE) + 1)
    columns = range(int((west + 180) * CELLS_PER_DEGREE), int((east + 180) * CELLS_PER_DEGREE) + 1)
    cells = [row * CELL_ROW + column for row in rows for column in columns]
    near = recent.alias(cell=PlaceCell(F("lon"), F("lat"))).filter(
        cell__in=cells,
        lon__isnull=False,
        lat__isnull=False,
        lon__gte=west,
        lon__lte=east,
        lat__gte=south,
        lat__lte=north,
    )
    return _values(near.order_by())


def _areas_up_to_town(area):
    """The ids of `area` and of the areas above it down from the town level (a matter placed only to its town
    may be at any point of it)."""

    def build():
        codes = [c for c in area.path.split("/") if c]
        prefixes = ["/".join(codes[: i + 1]) + "/" for i in range(len(codes))]
        from fengqiao.areas.models import Area

        return [
            area.pk,
            *Area.objects.filter(path__in=prefixes[:-1], level__gte=Level.TOWN).values_list("pk", flat=True),
        ]

    return cache.get(("duplicate-areas", area.pk), AREA_TTL, build)


def address_key(text):
    from fengqiao.areas.addresses import address_key as key

    return key(text) if text else ""


def _place(lon, lat, area, key, row, radius_m):
    """(place factor, distance in metres or None); factor 0: not near."""
    if lon is not None and lat is not None and row["lon"] is not None and row["lat"] is not None:
        dx = (row["lon"] - lon) * METRES_PER_DEGREE * math.cos(math.radians(lat))
        dy = (row["lat"] - lat) * METRES_PER_DEGREE
        distance = math.hypot(dx, dy)
        if distance > radius_m:
            return 0.0, distance
        return 1 - (1 - PLACE_AT_RADIUS) * distance / radius_m, distance
    place = PLACE_SAME_AREA
    other = address_key(row["address"])
    if key and other:
        place += (1 - PLACE_SAME_AREA) * Text(key).similarity(Text(other))
    return place, None


def _suggestions(scored, exclude, allowed, limit):
    """The best `limit`, a merged candidate standing for the matter it was merged into."""
    parents = {row["parent_id"] for *_, row in scored.values() if row["parent_id"] is not None}
    parents -= exclude
    rows = {}
    if parents:
        rows = {r["pk"]: r for r in Matter.objects.filter(pk__in=parents).values(*FIELDS)}
    best = {}
    for score, similarity, distance, hours, shared, row in scored.values():
        via = None
        if row["parent_id"] is not None:
            parent = rows.get(row["parent_id"])
            if parent is None or (allowed and not allowed(parent["area__path"])):
                continue
            via, row = row["tracking_code"], parent
        if row["pk"] not in best or best[row["pk"]][0] < score:
            best[row["pk"]] = (score, similarity, distance, hours, shared, row, via)
    ranked = sorted(best.values(), key=lambda s: (-s[0], s[3], s[5]["pk"]))[:limit]
    return [_suggestion(*item) for item in ranked]


def _suggestion(score, similarity, distance, hours, shared, row, via):
    workflow = get_workflow(row["workflow"])
    mergeable = row["parent_id"] is None and not workflow.state(row["state"]).terminal
    parts = []
    if distance is not None:
        parts.append(_("%(metres)s m apart") % {"metres": round(distance)})
    else:
        parts.append(_("in %(area)s (compared by area: no point)") % {"area": row["area__name"]})
    if hours < 24:
        parts.append(_("%(hours)s hours apart") % {"hours": round(hours)})
    else:
        parts.append(_("%(days)s days apart") % {"days": round(hours / 24)})
    if shared:
        parts.append(_("shared words: %(words)s") % {"words": "、".join(shared)})
    if via:
        parts.append(_("matched %(code)s, merged into it") % {"code": via})
    if not mergeable:
        parts.append(
            _("%(state)s: for reference, cannot be merged into") % {"state": workflow.state(row["state"]).label}
        )
    return Suggestion(
        matter_id=row["pk"],
        tracking_code=row["tracking_code"],
        title=row["title"],
        state=row["state"],
        state_label=str(workflow.state(row["state"]).label),
        submitted_at=row["submitted_at"],
        score=round(score, 3),
        text_score=round(similarity, 3),
        distance_m=None if distance is None else round(distance, 1),
        hours_apart=round(hours, 1),
        shared=tuple(shared),
        mergeable=mergeable,
        via=via,
        reason=" · ".join(parts),
    )
