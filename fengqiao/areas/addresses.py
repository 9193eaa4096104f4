"""Address resolution (地址解析, ADR 0018): free text → the deepest area of the division tree it names, and → a
grid through the standard-address registry (标准地址: address → building point → grid).

    resolve("佛冈县汤塘镇汤塘村委会附近")        # → 汤塘村委会 (level 5), each level's span, method, ambiguity
    resolve("汤塘镇人民路12号", within=county)  # → the registry's grid when 人民路12号 is a standard address

`NameIndex` (pure, no database) finds every division name in the text with a trie of name stems (汤塘), then
reads the type suffix after each stem (镇/村委会/社区居委会…: "exact" when it fits the area's level, "short" when
there is none, rejected when it belongs to another level or a road: 人民路 is not 人民村). Stems followed by a type
suffix are also looked up with one character wildcarded ("fuzzy", names of three or more characters). Every
matched area is scored by its own match plus its ancestors' matches elsewhere in the text; the best score wins,
and a tie between places that nothing in the text tells apart gives their common ancestor (ambiguous).
`RegistryIndex` then looks for a standard address's key (the normalised text after its division names) ending at
a house number or at the end of the text, among entries that agree with the division found.

`resolver()` keeps one index per process, rebuilt when the tree or the registry changes (as `locate` does).
"""

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from fengqiao.areas import locate
from fengqiao.areas.codes import Level
from fengqiao.areas.models import Area, AreaChange, Grid, GridLayer, StandardAddress
from fengqiao.audit import services as audit
from fengqiao.core.geo import GeoError, check_lonlat, gcj02_to_wgs84
from fengqiao.core.textfiles import FileFormatError, read_csv_dicts

MAX_TEXT = 300  # characters of an address that are read (hotline address fields are far shorter)

# --- text --------------------------------------------------------------------------------------------------

_FOLD = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)}  # full-width ASCII → ASCII
_FOLD |= {i: i + 32 for i in range(0x41, 0x5B)} | {i: i - 0xFEE0 + 32 for i in range(0xFF21, 0xFF3B)}  # A-Z → a-z
_FOLD |= {0x3000: " ", **{ord(a): b for a, b in zip("號縣鎮區鄉會員東門", "号县镇区乡会员东门", strict=True)}}
_NEEDS_FOLD = re.compile("[" + "".join(map(chr, _FOLD)) + "]")
_DROP = set(" \t\r\n,.;:!?'\"()[]<>{}|/\\`~_*，。、；：！？“”‘’（）【】《》〈〉「」『』·•…—")
_HOUSE_NUMBER = re.compile(r"(?<=\d)号")
_KEY_END = set("号栋座幢室楼弄巷")
NOISE = ("附近", "对面", "对出", "旁边", "门口", "口", "一带", "周边", "前面", "后面", "楼下", "里面", "交界处")


def fold(text):
    """(folded text, positions): full-width → half-width, a few traditional forms (號縣鎮區…) → simplified, ASCII
    lower case (one character to one), spaces and punctuation dropped; positions[i] is the index in `text` of
    folded character i (None when nothing was dropped)."""
    text = text[:MAX_TEXT]
    if _NEEDS_FOLD.search(text):
        text = text.translate(_FOLD)
    if not _DROP.intersection(text):
        return text, None
    kept = [(i, c) for i, c in enumerate(text) if c not in _DROP]
    return "".join(c for _, c in kept), [i for i, _ in kept]


def address_key(text):
    """The registry's normal form of an address: folded, 号 after a house number dropped (12号 = 12 = １２號),
    trailing 附近/对面/… dropped."""
    key = _HOUSE_NUMBER.sub("", fold(text)[0])
    stripped = True
    while stripped:
        stripped = False
        for word in NOISE:
            # 口 alone only after a road word: 人民路口 is at 人民路, 港口 is a name
            if word == "口" and not key.endswith(("路口", "街口", "道口", "巷口")):
                continue
            if key.endswith(word) and len(key) > len(word):
                key, stripped = key[: -len(word)], True
    return key


# --- division names -----------------------------------------------------------------------------------------

# Type suffixes that may follow a stem, by level and kind: the kind of the area's own name gives an "exact" match
# (村委会 = 村民委员会 = 村), another kind of the same level a "short" one (汤塘村委会 for 汤塘社区).
SUFFIX_KINDS = {
    (Level.PROVINCE, "province"): ("省", "自治区"),
    (Level.CITY, "city"): ("市", "自治州", "地区"),
    (Level.COUNTY, "county"): ("县", "自治县"),
    (Level.COUNTY, "district"): ("区",),
    (Level.COUNTY, "city"): ("市",),
    (Level.TOWN, "town"): ("镇",),
    (Level.TOWN, "township"): ("乡", "民族乡"),
    (Level.TOWN, "street"): ("街道办事处", "街道办", "街道", "办事处", "街"),
    (Level.VILLAGE, "village"): ("村民委员会", "村委会", "村委", "村"),
    (Level.VILLAGE, "community"): (
        "社区居民委员会",
        "社区居委会",
        "社区委员会",
        "居民委员会",
        "居委会",
        "居民区",
        "社区",
        "居委",
    ),
}
LEVEL_SUFFIXES = {
    level: tuple(w for (lvl, _kind), words in SUFFIX_KINDS.items() if lvl == level for w in words) for level in Level
}
ROAD_WORDS = ("路", "大道", "大街", "街", "巷", "弄", "胡同")  # a stem before these names a road, not the place
NEUTRAL_WORDS = ("市场", "路口")  # 汤塘市场 is in 汤塘 (市 is no city suffix here); 板岭路口 is at 板岭
LEVEL_WEIGHT = {1: 1.0, 2: 3.0, 3: 4.0, 4: 3.0, 5: 2.0}  # how much a name at each level tells
METHOD_FACTOR = {"exact": 1.0, "short": 0.6, "fuzzy": 0.5}  # a bare stem tells less than a name with its suffix
FUZZY_MAX_STEM = 6
_TERM = ""  # trie key of a node's payload (characters are never empty)


def stem_of(name, level):
    """The name without its type suffixes: 汤塘镇 → 汤塘, 黄麻布社区居委 → 黄麻布 (at least 2 characters kept)."""
    suffixes = sorted(LEVEL_SUFFIXES.get(level, ()), key=len, reverse=True)
    stem, again = name, True
    while again:
        again = False
        for suffix in suffixes:
            if stem.endswith(suffix) and len(stem) - len(suffix) >= 2:
                stem, again = stem[: -len(suffix)], level == Level.VILLAGE
                break
    return stem


def _suffix_trie():
    kinds = {}
    for tag, ((level, _kind), words) in enumerate(SUFFIX_KINDS.items()):
        for word in words:
            entry = kinds.setdefault(word, [set(), set(), False, False])
            entry[0].add(tag)
            entry[1].add(int(level))
    for word in ROAD_WORDS:
        kinds.setdefault(word, [set(), set(), False, False])[2] = True
    for word in NEUTRAL_WORDS:
        kinds.setdefault(word, [set(), set(), False, False])[3] = True
    trie = {}
    for word, (tags, levels, road, neutral) in kinds.items():
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[_TERM] = (len(word), frozenset(tags), frozenset(levels), road, neutral)
    return trie


_SUFFIXES = _suffix_trie()
_SUFFIX_START = re.compile("[" + "".join(sorted(_SUFFIXES)) + "]")


def kind_of(name, level):
    """The tag (position in SUFFIX_KINDS) of the type suffix `name` ends with, or None."""
    best, tag = 0, None
    for position, ((lvl, _kind), words) in enumerate(SUFFIX_KINDS.items()):
        for word in words:
            if lvl == level and name.endswith(word) and len(word) > best:
                best, tag = len(word), position
    return tag


def _suffixes_at(text, end):
    """Suffix words starting at `end`, shortest first: [(length, tags, levels, road, neutral)]."""
    found, node = [], _SUFFIXES
    for char in text[end : end + 7]:
        node = node.get(char)
        if node is None:
            break
        if _TERM in node:
            found.append(node[_TERM])
    return found


def _fit(suffixes, level, tag, full, namesakes=frozenset()):
    """(method, suffix length) for a stem of an area (level, kind tag) followed by `suffixes`, or None.

    The area's own kind of suffix makes an exact match that includes it; another kind of the same level a short
    one without it (汤塘村委会 for 汤塘社区). A road word rejects the match (人民路 is no village), and so does a
    suffix of another level when an area of that level has the same stem (汤塘村 is no town when there is a
    汤塘村); otherwise (湛江镇中社区: there is no 湛江镇) the match stands as short."""
    exact = same_level = 0
    for length, tags, levels, _road, _neutral in suffixes:
        if level in levels:
            same_level = length
            if tag is None or tag in tags:
                exact = length
    if exact:
        return "exact", exact
    if same_level or full:
        return ("short", 0) if same_level and not full else ("exact", 0)
    if suffixes:
        _length, _tags, levels, road, neutral = suffixes[-1]
        if not neutral and (road or levels & namesakes):
            return None
    return "short", 0


class NameIndex:
    """The current division tree (province to village) as name stems, for `find`."""

    def __init__(self, rows):
        """rows: (id, code, name, short_name, level, parent_id, path), parents before children."""
        self.ids, self.codes, self.names, self.levels, self.paths, self.ancestors = [], [], [], [], [], []
        self.tags, self.above = [], []
        self.forms = {}  # position → names and stems of an area above village level (longest first)
        self.position = {}
        self.trie = {}
        self.fuzzy = {}  # wildcard pattern → [(position, original character)]
        self.fuzzy_under = {}  # (ancestor position, pattern) → same, for 2-character town and village stems
        for pk, code, name, short, level, parent_id, path in rows:
            if level > Level.VILLAGE:
                continue
            i = len(self.ids)
            parent = self.position.get(parent_id)
            self.position[pk] = i
            self.ids.append(pk)
            self.codes.append(code)
            self.names.append(name)
            self.levels.append(int(level))
            self.tags.append(kind_of(name, level))
            self.paths.append(path)
            self.ancestors.append((*self.ancestors[parent], i) if parent is not None else (i,))
            self.above.append(frozenset(self.ancestors[i][:-1]))
            stems = {s for s in (short, stem_of(name, level)) if s and len(s) >= 2}
            forms = {(stem, stem == name) for stem in stems}
            if name not in stems and not any(name == s + x for s in stems for x in LEVEL_SUFFIXES.get(level, ())):
                forms.add((name, True))  # 海傍农场生活区: no type suffix to take off
            for stem, full in forms:
                self._add(self._without_ancestors(stem, i), i, full=full)
            if level < Level.VILLAGE:
                self.forms[i] = sorted({name, *stems}, key=len, reverse=True)
        self.levels_by_id = dict(zip(self.ids, self.levels, strict=True))
        self._freeze(self.trie)

    def _freeze(self, node):
        """Payloads become (levels with this stem, ((level, kind tag, full, positions), …))."""
        stack = [node]
        while stack:
            node = stack.pop()
            for key, child in node.items():
                if key == _TERM:
                    node[key] = (frozenset(k[0] for k in child), tuple((*k, tuple(v)) for k, v in child.items()))
                else:
                    stack.append(child)

    def _without_ancestors(self, stem, i):
        """东源县半江镇竹园 → 竹园: some source names repeat their ancestors' names, which the text names apart."""
        for a in self.ancestors[i][:-1]:
            for form in self.forms.get(a, ()):
                if stem.startswith(form) and len(stem) - len(form) >= 2:
                    stem = stem[len(form) :]
                    break
        return stem

    def _add(self, stem, i, *, full):
        node = self.trie
        for char in stem:
            node = node.setdefault(char, {})
        groups = node.setdefault(_TERM, {})  # (level, kind tag, full) → positions: one suffix test per group
        groups.setdefault((self.levels[i], self.tags[i], full), []).append(i)
        if full or len(stem) > FUZZY_MAX_STEM:
            return
        level = self.levels[i]
        scoped = len(stem) == 2 and level >= Level.TOWN  # "?塘村" alone would match hundreds of villages
        for k, char in enumerate(stem):
            pattern = stem[:k] + "\0" + stem[k + 1 :]
            if not scoped:
                self.fuzzy.setdefault(pattern, []).append((i, char))
                continue
            for a in self.ancestors[i][:-1]:
                if self.levels[a] >= Level.CITY:
                    self.fuzzy_under.setdefault((a, pattern), []).append((i, char))

    def find(self, text):
        """{position: [(weight, start, end, method)]} for every name in the folded `text`."""
        n, trie = len(text), self.trie
        groups, suffix_cache, exact_ends, exact_spans = [], {}, set(), []
        for start in range(n - 1):
            node = trie.get(text[start])
            if node is None:
                continue
            node = node.get(text[start + 1])  # stems have two characters or more
            end = start + 2
            while node is not None:
                payload = node.get(_TERM)
                if payload is not None:
                    suffixes = suffix_cache.get(end)
                    if suffixes is None:
                        suffixes = suffix_cache[end] = _suffixes_at(text, end)
                    namesakes, payload = payload
                    for level, tag, full, positions in payload:
                        if suffixes:
                            fit = _fit(suffixes, level, tag, full, namesakes)
                            if fit is None:
                                continue
                            method, extra = fit
                            if extra and method == "exact":
                                exact_ends.add(end)
                                exact_spans.append((start, end + extra))
                        elif full:
                            method, extra = "exact", 0
                        elif end - start == 2 and (text[end - 1] in "路街巷" or text[start:end] == "大道"):
                            continue  # a road: 迎宾大道 does not name 大道村
                        else:
                            method, extra = "short", 0
                        groups.append(
                            ((LEVEL_WEIGHT[level] * METHOD_FACTOR[method], start, end + extra, method), positions)
                        )
                if end >= n:
                    break
                node = node.get(text[end])
                end += 1
        if exact_ends:
            # A bare stem inside a longer name with its suffix is part of that name (西村 in 桃西村委会).
            spans = [(m[1], m[2]) for m, _ in groups if m[3] == "exact" and m[2] - m[1] > 2]
            groups = [
                (m, positions)
                for m, positions in groups
                if m[3] != "short" or not any(s <= m[1] and m[2] <= e and e - s > m[2] - m[1] for s, e in spans)
            ]
        found = {}
        for match, positions in groups:
            for i in positions:
                if i in found:
                    found[i].append(match)
                else:
                    found[i] = [match]
        fuzzy_spans = self._find_fuzzy(text, found, exact_ends, exact_spans)
        for start, end in fuzzy_spans:  # 二村 in 屏女二村民委员会 (屏山二 with a typo) is part of that name
            for i in [
                i for i, own in found.items() if all(m[3] == "short" and start <= m[1] and m[2] <= end for m in own)
            ]:
                del found[i]
        return found

    def _find_fuzzy(self, text, found, exact_ends, exact_spans):
        """Stems with one wrong character, where a type suffix follows that no exact name explains (and outside
        every exact name: 道河村 in 大石街道河村 is no typo of 清河村)."""
        supporters = [i for i in found if Level.CITY <= self.levels[i] <= Level.TOWN]
        fuzzy, fuzzy_under = self.fuzzy, self.fuzzy_under
        spans = set()
        for found_suffix in _SUFFIX_START.finditer(text, 2):
            end = found_suffix.start()
            if end in exact_ends:
                continue
            suffixes = [s for s in _suffixes_at(text, end) if s[2]]
            if not suffixes:
                continue
            floor = max((e for s, e in exact_spans if s < end), default=0)
            for length in range(2, min(end - floor, FUZZY_MAX_STEM) + 1):
                segment = text[end - length : end]
                for k in range(length):
                    pattern = segment[:k] + "\0" + segment[k + 1 :]
                    hits = fuzzy.get(pattern)
                    if supporters:
                        under = [h for a in supporters for h in fuzzy_under.get((a, pattern), ())]
                        hits = [*hits, *under] if hits and under else hits or under
                    if hits:
                        spans |= self._add_fuzzy(hits, segment[k], suffixes, end - length, end, found)
        return [span for span in spans if span[1] - span[0] > 2]

    def _add_fuzzy(self, hits, char, suffixes, start, end, found):
        spans = set()
        for i, own_char in hits:
            if own_char == char or any(m[3] != "fuzzy" for m in found.get(i, ())):
                continue
            fit = _fit(suffixes, self.levels[i], self.tags[i], False)
            if fit is not None and fit[0] == "exact":
                weight = LEVEL_WEIGHT[self.levels[i]] * METHOD_FACTOR["fuzzy"]
                found.setdefault(i, []).append((weight, start, end + fit[1], "fuzzy"))
                spans.add((start, end + fit[1]))
        return spans

    def best(self, found, within=None):
        """(winner positions, score, chains) of the best-scoring areas. An area's score is its own best match
        plus, for each ancestor named elsewhere in the text (no overlap), that name's weight; chains[i] is the
        list of (position, match) that made area i's score, its own first."""
        best_score, winners, chains = -1.0, [], {}
        paths, above, levels = self.paths, self.above, self.levels
        named = [a for a in found if levels[a] < Level.VILLAGE]  # possible ancestors (few)
        named.sort(reverse=True)  # positions grow with depth: nearest ancestor first
        for i, own in found.items():
            if within and not paths[i].startswith(within):
                continue
            mine = own[0] if len(own) == 1 else max(own)
            score, used = mine[0], [(i, mine)]
            mine_above = above[i]
            for a in named:
                if a not in mine_above:
                    continue
                matches = found[a]
                for match in matches if len(matches) == 1 else sorted(matches, reverse=True):
                    start, end = match[1], match[2]
                    for _, u in used:
                        if end > u[1] and start < u[2]:
                            if u is mine and match[3] == mine[3] == "exact" and mine[1] <= start and end <= mine[2]:
                                continue  # 梯面镇居民委员会: the ancestor's name is part of the name
                            break
                    else:
                        used.append((a, match))
                        score += match[0]
                        break
            chains[i] = used
            if score > best_score + 1e-9:
                best_score, winners = score, [i]
            elif score > best_score - 1e-9:
                winners.append(i)
        return winners, max(best_score, 0.0), chains

    def common_ancestor(self, positions):
        chains = [self.ancestors[i] for i in positions]
        shared = None
        for column in zip(*chains, strict=False):
            if len(set(column)) != 1:
                break
            shared = column[0]
        return shared


# --- the registry -------------------------------------------------------------------------------------------


class RegistryIndex:
    """Standard addresses by key: key → [(address id, area position, grid id, lon, lat)]."""

    def __init__(self, rows, names):
        """rows: (address id, key, area id, grid id, lon, lat); `names` places the areas."""
        self.by_key = {}
        for pk, key, area_id, grid_id, lon, lat in rows:
            i = names.position.get(area_id)
            if i is not None and key:
                self.by_key.setdefault(key, []).append((pk, i, grid_id, lon, lat))
        self.lengths = sorted({len(k) for k in self.by_key}, reverse=True)

    def __len__(self):
        return len(self.by_key)

    def find(self, text):
        """(key, entries) of the longest key in `text` that ends at a house number or at the end, else None."""
        if not self.by_key:
            return None
        key = address_key(text)
        ends = {len(key)} | {
            e + 1 for e, c in enumerate(key) if c in _KEY_END or (c.isdigit() and not key[e + 1 : e + 2].isdigit())
        }
        for length in self.lengths:
            for end in sorted(ends, reverse=True):
                if end >= length and (entries := self.by_key.get(key[end - length : end])):
                    return key[end - length : end], entries
        return None


# --- resolution ---------------------------------------------------------------------------------------------


class NameMatch(NamedTuple):
    """One level of a resolution: which area, which part of the text named it, and how."""

    level: int
    area_id: int
    code: str
    name: str
    start: int  # span in the input text
    end: int
    text: str  # the input's own characters
    method: str  # exact (the name or an equivalent type suffix), short (the name without it) or fuzzy


@dataclass(slots=True)
class Resolution:
    """What `resolve` made of a text. `area_id` is None when no division name (or standard address) was found."""

    text: str
    area_id: int | None = None
    code: str = ""
    name: str = ""
    path: str = ""
    level: int | None = None  # the level reached
    method: str = "none"  # how the deepest level was matched: exact, short, fuzzy, registry or none
    matches: tuple = ()  # NameMatch per level, shallowest first
    ambiguous: bool = False  # several places fit equally well: `area_id` is their common ancestor
    candidates: tuple = ()  # the area ids that tied, when ambiguous
    score: float = 0.0
    address_id: int | None = None  # the standard address matched
    address_key: str = ""
    grid_id: int | None = None
    lon: float | None = None
    lat: float | None = None

    @property
    def found(self):
        return self.area_id is not None

    @property
    def exact(self):
        """Found, unambiguous, and no name needed a typo forgiven."""
        return self.found and not self.ambiguous and all(m.method != "fuzzy" for m in self.matches)

    def by_level(self):
        return {m.level: m for m in self.matches}

    def area(self):
        return Area.objects.filter(pk=self.area_id).first() if self.area_id is not None else None

    def explain(self):
        """One line for staff: 佛冈县 (exact) → 汤塘镇 (short) → 汤塘村委会 (fuzzy: 汤糖村委会); standard address …"""
        if not self.found:
            return "no division name or standard address found"
        parts = [f"{m.name} ({m.method}{': ' + m.text if m.method == 'fuzzy' else ''})" for m in self.matches]
        line = " → ".join(parts) or self.name
        if self.ambiguous:
            line += f"; {len(self.candidates)} places fit equally well, kept their common area {self.name}"
        if self.address_id is not None:
            line += f"; standard address {self.address_key!r}" + (f", grid {self.grid_id}" if self.grid_id else "")
        return line


class AddressResolver:
    """Division names plus the registry. `resolve` is pure (no queries)."""

    def __init__(self, names, registry=None):
        self.names = names
        self.registry = registry or RegistryIndex([], names)

    def resolve(self, text, *, within=None):
        """Resolve `text`, optionally only to areas inside `within` (an Area, or its path)."""
        text = text or ""
        within_path = getattr(within, "path", within) or None
        folded, positions = fold(text)
        names = self.names
        winners, score, chains = names.best(names.find(folded), within_path)
        result = Resolution(text=text, score=round(score, 3))
        place = None
        if winners:
            pairs = chains[winners[0]]
            result.method = pairs[0][1][3]
            if len(winners) > 1:
                place = names.common_ancestor(winners)
                shared = set.intersection(*(set(chains[w]) for w in winners))
                pairs = [p for p in pairs if p in shared]
                result.ambiguous, result.candidates = True, tuple(sorted(names.ids[w] for w in winners))
            else:
                place = winners[0]
            result.matches = tuple(
                sorted((self._match(text, positions, i, m) for i, m in pairs), key=lambda m: m.level)
            )
        place = self._registry(folded, result, place, winners, within_path)
        if place is not None:
            result.area_id, result.code, result.name = names.ids[place], names.codes[place], names.names[place]
            result.path, result.level = names.paths[place], names.levels[place]
        return result

    def _match(self, text, positions, i, match):
        _weight, start, end, method = match
        if positions is not None:
            start, end = positions[start], positions[end - 1] + 1
        names = self.names
        return NameMatch(
            names.levels[i], names.ids[i], names.codes[i], names.names[i], start, end, text[start:end], method
        )

    def _registry(self, folded, result, place, winners, within_path):
        """Narrow `place` with a standard address the text contains; sets the grid. Returns the place."""
        hit = self.registry.find(folded)
        if hit is None:
            return place
        key, entries = hit
        paths = self.names.paths
        anchor = paths[place] if place is not None else ""
        fits = [e for e in entries if (not within_path or paths[e[1]].startswith(within_path))]
        fits = [e for e in fits if paths[e[1]].startswith(anchor) or anchor.startswith(paths[e[1]])]
        if result.ambiguous:  # only an address inside one of the tied places can settle the tie
            fits = [e for e in fits if any(paths[e[1]].startswith(paths[w]) for w in winners)]
        if not fits:
            return place
        if len({(e[1], e[2]) for e in fits}) > 1:
            result.ambiguous = True
            result.candidates = tuple(sorted({self.names.ids[e[1]] for e in fits}))
            return place
        pk, i, grid_id, lon, lat = fits[0]
        result.address_id, result.address_key, result.grid_id, result.lon, result.lat = pk, key, grid_id, lon, lat
        if place is None or (paths[i].startswith(anchor) and paths[i] != anchor):
            result.method, result.ambiguous, result.candidates = "registry", False, ()
            return i
        if result.ambiguous and paths[i].startswith(anchor):
            result.ambiguous, result.candidates = False, ()
        return place

    def local_key(self, text):
        """The registry key of a standard address: its normalised text after the division names it starts with."""
        folded, _positions = fold(text)
        winners, _score, chains = self.names.best(self.names.find(folded))
        end = max((m[2] for w in winners for _, m in chains[w]), default=0)
        rest = address_key(folded[end:])
        return rest if len(rest) >= 2 else address_key(folded)


# --- the process's resolver -----------------------------------------------------------------------------


def _names_signature():
    areas = Area.objects.aggregate(n=Count("id"), top=Max("id"), last=Max("updated_at"))
    return (areas["n"], areas["top"], areas["last"], AreaChange.objects.aggregate(top=Max("id"))["top"])


def _build_names():
    rows = (
        Area.objects.current()
        .filter(level__lte=Level.VILLAGE)
        .order_by("level", "code")
        .values_list("id", "code", "name", "short_name", "level", "parent_id", "path")
    )
    return NameIndex(rows.iterator(chunk_size=5000))


def _registry_signature():
    """The registry's rows and the grids they point to (a retired grid is no answer)."""
    agg = StandardAddress.objects.aggregate(n=Count("id"), top=Max("id"), last=Max("updated_at"))
    grids = Grid.objects.aggregate(n=Count("id", filter=Q(valid_to__isnull=True)), last=Max("updated_at"))
    return (agg["n"], agg["top"], agg["last"], grids["n"], grids["last"])


def name_index():
    """The process's index of division names (rebuilt when the tree changes; `locate.invalidate()` drops it)."""
    return locate._cached(("address-names",), _names_signature, _build_names)


def resolver():
    """The process's resolver: division names and standard addresses, each rebuilt when it changes."""
    names = name_index()

    def build():
        rows = StandardAddress.objects.values_list("id", "key", "area_id", "grid_id", "lon", "lat", "grid__valid_to")
        rows = ((pk, key, a, None if retired else g, x, y) for pk, key, a, g, x, y, retired in rows.iterator(5000))
        return AddressResolver(names, RegistryIndex(rows, names))

    return locate._cached(("address-registry",), lambda: (*_registry_signature(), id(names)), build)


def resolve(text, *, within=None):
    """Resolve an address text (see the module docstring). Costs no query while the cached index is fresh."""
    return resolver().resolve(text, within=within)


class ScopedResolver:
    """A resolver bound to the area an importer covers, with the importer's former interface (`find`, `levels`)."""

    def __init__(self, within, base=None):
        self.within = within
        self.base = base or resolver()
        self.levels = self.base.names.levels_by_id

    def resolve(self, text):
        return self.base.resolve(text, within=self.within)

    def find(self, text):
        """(area id, exact) or (None, False)."""
        result = self.resolve(text)
        return result.area_id, result.exact


def for_area(area):
    """A resolver limited to `area`'s subtree, fetched once (e.g. per import)."""
    return ScopedResolver(area)


# --- the registry: import and relocation ----------------------------------------------------------------

COLUMNS = {  # column → accepted header names
    "address": ("address", "地址", "标准地址"),
    "lon": ("lon", "longitude", "经度"),
    "lat": ("lat", "latitude", "纬度"),
    "area_code": ("area_code", "区划代码"),
}
MAX_REPORTED_ERRORS = 50


class AddressImportError(ValueError):
    def __init__(self, path, errors):
        self.errors = errors
        shown = "\n".join(errors[:MAX_REPORTED_ERRORS])
        more = f"\n… and {len(errors) - MAX_REPORTED_ERRORS} more" if len(errors) > MAX_REPORTED_ERRORS else ""
        super().__init__(f"{path}: {len(errors)} problem(s), nothing imported:\n{shown}{more}")


@dataclass
class AddressImportReport:
    path: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    in_grid: int = 0
    seconds: float = 0.0

    def summary(self):
        return (
            f"{self.path}: {self.rows} standard addresses, {self.in_grid} in a grid; {self.created} created, "
            f"{self.updated} updated, {self.unchanged} unchanged in {self.seconds:.1f} s"
        )


def _columns(path, header):
    found, missing = {}, []
    for column, aliases in COLUMNS.items():
        name = next((a for a in aliases if a in header), None)
        if name is not None:
            found[column] = name
        elif column != "area_code":
            missing.append(f"{column} (or {' / '.join(aliases[1:])})")
    if missing:
        raise AddressImportError(path, [f"line 1: missing column(s) {', '.join(missing)}; found {', '.join(header)}"])
    return found


def _read_rows(path, crs):
    """(rows, errors): valid rows as (line, address, normalised, lon, lat, area_code), and one error per bad line.
    Raises AddressImportError for a file that cannot be read at all."""
    try:
        raw = read_csv_dicts(path)
    except FileFormatError as exc:
        raise AddressImportError(path, [str(exc)]) from None
    if not raw:
        raise AddressImportError(path, ["no data rows (an empty file, or only a header)"])
    columns = _columns(path, list(raw[0][1]))
    rows, errors, seen = [], [], {}
    for line, row in raw:
        address, area_code = row[columns["address"]], row.get(columns.get("area_code", ""), "")
        try:
            if not address:
                raise GeoError("the address is empty")
            normalised = address_key(address)
            if len(address) > 200 or len(normalised) < 2:
                raise GeoError(f"address {address!r} must have 2 to 200 characters")
            if normalised in seen:
                raise GeoError(f"{address!r} is the same address as line {seen[normalised]} ({normalised})")
            seen[normalised] = line
            lon, lat = check_lonlat(row[columns["lon"]] or None, row[columns["lat"]] or None)
            if crs == "gcj02":
                lon, lat = (float(v) for v in gcj02_to_wgs84(lon, lat))
            rows.append((line, address, normalised, lon, lat, area_code))
        except GeoError as exc:
            errors.append(f"line {line}: {exc}")
    return rows, errors


def _place(address, grid, given, boundary_area, base):
    """The area id of an address: the deepest of its grid's area and area_code (which must agree), else the
    boundary the point lies in, refined by the division names in the text when they go deeper unambiguously.
    Raises GeoError when the grid and area_code disagree or nothing places the address."""
    anchor = grid.area if grid is not None else None
    if given is not None:
        if anchor is not None and not (given.path.startswith(anchor.path) or anchor.path.startswith(given.path)):
            raise GeoError(
                f"the point lies in grid {grid.code} of {anchor.name} ({anchor.code}), not in area_code "
                f"{given.code} {given.name}"
            )
        anchor = given if anchor is None or given.path.startswith(anchor.path) else anchor
    anchor = anchor or boundary_area
    named = base.resolve(address, within=anchor)
    if named.found and not named.ambiguous and (anchor is None or named.level > anchor.level):
        return named.area_id
    if anchor is None:
        raise GeoError("the point lies in no grid or area boundary and the text names no area; give an area_code")
    return anchor.pk


@transaction.atomic
def import_address_file(path, *, actor, layer=GridLayer.COMPREHENSIVE, crs="wgs84"):
    """Create or update standard addresses from CSV (UTF-8 or GBK), all or nothing, idempotent.

    Columns: address (or 地址/标准地址), lon (经度), lat (纬度), optionally area_code (区划代码). Points are WGS84,
    or GCJ-02 with crs="gcj02". Each point is located in `layer`'s grids; an address is keyed by its normalised
    text, so importing a file again changes nothing, and a corrected point or area updates its row."""
    from fengqiao.areas.grids import UnknownLayerError, get_layer

    started = time.perf_counter()
    path = Path(path)
    try:
        layer = get_layer(layer)
    except UnknownLayerError as exc:
        raise AddressImportError(path, [str(exc)]) from None
    rows, errors = _read_rows(path, (crs or "wgs84").lower())
    grid_ids = locate.locate_many([r[3] for r in rows], [r[4] for r in rows], layer, strict=False).tolist()
    grids = Grid.objects.select_related("area").in_bulk({g for g in grid_ids if g >= 0})
    codes = sorted({r[5] for r in rows if r[5]})
    given_areas = {}
    for start in range(0, len(codes), 2000):
        given_areas.update(Area.objects.in_bulk(codes[start : start + 2000], field_name="code"))
    base = AddressResolver(name_index())  # division names only: the registry is what is being written
    boundaries, boundary_areas = locate.boundary_index(), {}
    placed = []
    for (line, address, normalised, lon, lat, area_code), grid_id in zip(rows, grid_ids, strict=True):
        grid = grids.get(grid_id)
        try:
            given = given_areas.get(area_code) if area_code else None
            if area_code and (given is None or given.valid_to is not None or given.level > Level.VILLAGE):
                raise GeoError(f"area_code {area_code}: no current area down to village level has this code")
            boundary_area = None
            if grid is None and given is None and (found := boundaries.find(lon, lat)) is not None:
                if found not in boundary_areas:
                    boundary_areas[found] = Area.objects.get(pk=found)
                boundary_area = boundary_areas[found]
            area_id = _place(address, grid, given, boundary_area, base)
            placed.append((normalised, address, base.local_key(address), lon, lat, area_id, grid))
        except GeoError as exc:
            errors.append(f"line {line}: {exc}")
    if errors:
        errors.sort(key=lambda e: int(e.split(":")[0].split()[1]))
        raise AddressImportError(path, errors)

    report = AddressImportReport(path=str(path), rows=len(placed))
    now = timezone.now()
    existing = {}
    keys = [p[0] for p in placed]
    for start in range(0, len(keys), 2000):
        chunk = StandardAddress.objects.select_for_update().filter(normalised__in=keys[start : start + 2000])
        existing.update({a.normalised: a for a in chunk})
    to_create, to_update = [], []
    for normalised, address, key, lon, lat, area_id, grid in placed:
        report.in_grid += grid is not None
        values = {"address": address, "key": key, "lon": lon, "lat": lat, "area_id": area_id}
        values["grid_id"] = grid.pk if grid else None
        obj = existing.get(normalised)
        if obj is None:
            to_create.append(StandardAddress(normalised=normalised, source=path.name, **values))
        elif any(getattr(obj, k) != v for k, v in values.items()):
            for name, value in values.items():
                setattr(obj, name, value)
            obj.source, obj.updated_at = path.name, now  # bulk_update skips auto_now; the cache signature needs it
            to_update.append(obj)
        else:
            report.unchanged += 1
    StandardAddress.objects.bulk_create(to_create, batch_size=1000)
    StandardAddress.objects.bulk_update(to_update, [*values, "source", "updated_at"], batch_size=1000)
    report.created, report.updated = len(to_create), len(to_update)
    report.seconds = time.perf_counter() - started
    counts = {"rows": report.rows, "created": report.created, "updated": report.updated}
    audit.record(
        actor=actor,
        action="standard_address.import",
        object_type="areas.standardaddress",
        summary=report.summary()[:255],
        data={"file": path.name, "layer": layer.code, "crs": crs, **counts, "unchanged": report.unchanged},
    )
    return report


@transaction.atomic
def relocate_addresses(*, actor, addresses, layer=GridLayer.COMPREHENSIVE):
    """Locate the points of `addresses` (a queryset) again, after grids changed. Returns how many changed."""
    rows = list(addresses.select_for_update(of=("self",)).select_related("area"))  # PostgreSQL: area may be null
    if not rows:
        return 0
    grid_ids = locate.locate_many([a.lon for a in rows], [a.lat for a in rows], layer, strict=False).tolist()
    grids = Grid.objects.select_related("area").in_bulk({g for g in grid_ids if g >= 0})
    changed = []
    for obj, grid_id in zip(rows, grid_ids, strict=True):
        grid = grids.get(grid_id)
        area = obj.area
        if grid is not None and not (area.path.startswith(grid.area.path) or grid.area.path.startswith(area.path)):
            area = grid.area  # the point now lies in another place's grid: the grid is the authority
        elif grid is not None and grid.area.path.startswith(area.path):
            area = grid.area
        if (grid.pk if grid else None) != obj.grid_id or area.pk != obj.area_id:
            before = {"grid": obj.grid_id, "area": obj.area.code}
            obj.grid, obj.area = grid, area
            obj.save(update_fields=["grid", "area", "updated_at"])
            changed.append(obj.pk)
            audit.record(
                actor=actor,
                action="standard_address.update",
                obj=obj,
                summary=f"relocated {obj.address}"[:255],
                before=before,
                after={"grid": obj.grid_id, "area": area.code},
            )
    return len(changed)
