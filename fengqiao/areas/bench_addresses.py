"""`fengqiao bench addresses [--count 20000] [--seed 1]`: address resolution measured on a test set generated from
the real Guangdong division list (ADR 0018). No database: the index is built in memory from the files.

The recipe (fixed before measuring; change it only with the ADR, never to raise the score):

1. Read settings.SHARED_DATA_DIR/divisions/guangdong_villages_2022.csv and
   guangdong_dongguan_zhongshan_towns_2022.csv as `import-divisions` does (`divisions.parse_division_files`) and
   index every area (short names by `services.short_name_of`, as the import stores them).
2. Draw `count` targets uniformly, with replacement, from the villages and the Dongguan/Zhongshan towns (which
   have no villages), with `random.Random(seed)`.
3. Write one address per target, from the province down to the target, each level named independently with
   probability province 0.1, city 0.3, county 0.6, town 0.75, village 0.85 (at least the town or the village);
   each named level in its full name (0.45), its short name (0.35) or another suffix of the same kind (0.2:
   村民委员会/村委会/村委/村, 社区居民委员会/社区居委会/社区/居委会, 街道/街道办事处/街道办). Then the noise:
   - a typo (0.2): one character of one named name of three or more characters replaced by another character
     drawn from all division names;
   - extra words (0.5): 附近/对面/路口/旁边/门口/一带, or a road with a number ("人民路12号", "建设大道8号附近") from
     common road names, many of which are also village names; a lead-in (0.1): 我在/地址：/反映/位于;
   - order (0.15): the deepest name moved to the front; separators "" (0.85), " " (0.1) or "，" (0.05).
4. Resolve each address (timed, one core) and compare the resolved area's county, town and village with the
   target's. A level counts in the addresses whose text names it or a deeper level (village: only those naming
   the village); "wrong" = another place at that level, "not reached" = the resolution stopped above it.

Last line: ``addresses: accuracy county X, town Y, village Z on N addresses (K/s)``.
"""

import random
import time
from array import array
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from fengqiao.areas.addresses import AddressResolver, NameIndex
from fengqiao.areas.codes import Level
from fengqiao.areas.divisions import parse_division_files
from fengqiao.areas.services import short_name_of

FILES = ("guangdong_villages_2022.csv", "guangdong_dongguan_zhongshan_towns_2022.csv")
NAMED = {Level.PROVINCE: 0.1, Level.CITY: 0.3, Level.COUNTY: 0.6, Level.TOWN: 0.75, Level.VILLAGE: 0.85}
TAILS = ("附近", "对面", "路口", "旁边", "门口", "一带")
HEADS = ("我在", "地址：", "反映", "位于")
ROADS = (
    "人民", "建设", "解放", "中山", "新华", "环城", "工业", "朝阳", "沿江", "文化", "青年", "和平", "东风", "光明",
    "胜利", "新兴", "城南", "城北", "东山", "府前", "市场", "迎宾", "滨江", "江滨", "体育", "学府", "长安", "金山",
)  # fmt: skip
LEVELS = (Level.COUNTY, Level.TOWN, Level.VILLAGE)
ALTERNATIVES = {  # suffixes people write for one another; 居委会 before 委员会 so that the longest own suffix is found
    Level.TOWN: (("街道办事处", "街道办", "街道"),),
    Level.VILLAGE: (("村民委员会", "村委会", "村委", "村"), ("社区居民委员会", "社区居委会", "社区", "居委会")),
}


def add_arguments(parser):
    parser.add_argument("--count", type=int, default=20_000, help="addresses in the test set (20000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, help="division folder (default: SHARED_DATA_DIR/divisions)")
    parser.add_argument("--show", type=int, default=0, metavar="N", help="print N misses at the village level")


def load(folder):
    """(index rows, {code: (level, name, parent code)}) from the division files."""
    paths = [folder / name for name in FILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise CommandError(f"division files not found: {', '.join(missing)} (set FENGQIAO_SHARED_DATA_DIR)")
    records, errors = parse_division_files(paths)
    if errors:
        raise CommandError("\n".join(errors[:10]))
    rows, tree, path = [], {}, {}
    for code, rec in sorted(records.items(), key=lambda item: (item[1].level, item[0])):
        path[code] = path.get(rec.parent_code, "") + code + "/"
        rows.append((code, code, rec.name, short_name_of(rec.name, rec.level), rec.level, rec.parent_code, path[code]))
        tree[code] = (int(rec.level), rec.name, rec.parent_code)
    return rows, tree


def chain_of(code, tree):
    """{level: code} from the province down to `code`."""
    out = {}
    while code:
        level, _name, parent = tree[code]
        out[level] = code
        code = parent
    return out


def other_suffix(name, level, rng):
    """The name with another type suffix of the same kind as people write it (汤塘村委会 → 汤塘村), else the name."""
    for words in ALTERNATIVES.get(level, ()):
        own = max((w for w in words if name.endswith(w)), key=len, default=None)
        if own and len(name) - len(own) >= 2:
            return name[: -len(own)] + rng.choice([w for w in words if w != own])
    return name


def render(target, tree, rng, alphabet):
    """(address text, levels it names, had a typo)."""
    chain = chain_of(target, tree)
    deepest = max(chain)
    named = {lv: rng.random() < p for lv, p in NAMED.items() if lv in chain}
    if not any(named.get(lv) for lv in (Level.TOWN, Level.VILLAGE)):
        named[deepest] = True
    parts = []
    for level in sorted(chain):
        if not named.get(level):
            continue
        name = tree[chain[level]][1]
        roll = rng.random()
        if roll < 0.35:
            name = short_name_of(name, level)
        elif roll < 0.55:
            name = other_suffix(name, level, rng)
        parts.append([level, name])
    typo = False
    if rng.random() < 0.2:
        long_enough = [p for p in parts if len(p[1]) >= 3]
        if long_enough:
            part = rng.choice(long_enough)
            k = rng.randrange(len(part[1]))
            char = rng.choice(alphabet)
            while char == part[1][k]:
                char = rng.choice(alphabet)
            part[1] = part[1][:k] + char + part[1][k + 1 :]
            typo = True
    if len(parts) > 1 and rng.random() < 0.15:
        parts.insert(0, parts.pop())
        parts[0][1] += rng.choice(("，", " "))
    text = ""
    for _level, name in parts:
        roll = rng.random()
        text += ("" if roll < 0.85 else " " if roll < 0.95 else "，") + name if text else name
    if rng.random() < 0.5:
        roll = rng.random()
        if roll < 0.4:
            text += rng.choice(TAILS)
        else:
            road = rng.choice(ROADS) + rng.choice(("路", "路", "大道", "街"))
            text += f"{road}{rng.randint(1, 300)}号" + (rng.choice(TAILS) if roll > 0.8 else "")
    if rng.random() < 0.1:
        text = rng.choice(HEADS) + text
    return text, {lv for lv, yes in named.items() if yes}, typo


def run(out, *, count=20_000, seed=1, data=None, show=0, **_):
    if count < 1:
        raise CommandError("--count must be positive")
    folder = Path(data) if data else Path(settings.SHARED_DATA_DIR) / "divisions"
    started = time.perf_counter()
    rows, tree = load(folder)
    index = NameIndex(rows)
    resolver = AddressResolver(index)
    by_level = Counter(level for level, _n, _p in tree.values())
    levels = ", ".join(f"{Level(k).name.lower()} {v}" for k, v in sorted(by_level.items()))
    out(f"index: {len(index.ids)} areas ({levels}) from {folder}, built in {time.perf_counter() - started:.1f} s")
    rng = random.Random(seed)
    targets = [c for c, (lv, _n, p) in tree.items() if lv == Level.VILLAGE or (lv == Level.TOWN and p[4:6] == "00")]
    targets.sort()
    alphabet = sorted({ch for _lv, name, _p in tree.values() for ch in name})
    cases = [(t, *render(t, tree, rng, alphabet)) for t in (rng.choice(targets) for _ in range(count))]
    typos = sum(1 for c in cases if c[3])
    out(f"test set: {count} addresses (seed {seed}) for {len(targets)} villages and towns; {typos} with a typo")
    for _target, text, _named, _typo in cases[:5]:
        out(f"  e.g. {text}")

    texts = [c[1] for c in cases]
    resolver.resolve(texts[0])
    results, each = [], array("d", bytes(8 * count))
    clock = time.perf_counter
    t = clock()
    for k, text in enumerate(texts):
        started = clock()
        result = resolver.resolve(text)
        each[k] = clock() - started
        results.append((result.code, result.ambiguous, result.candidates, result.explain if show else None))
    rate = count / (clock() - t)
    each = sorted(each)
    out(
        f"speed: median {each[count // 2] * 1e6:.0f} µs, 90th percentile {each[count * 9 // 10] * 1e6:.0f} µs, "
        f"99th {each[count * 99 // 100] * 1e6:.0f} µs per address (one core, with the time of the loop around it)"
    )

    tally = {lv: Counter() for lv in LEVELS}
    misses = []
    for (target, text, named, typo), (code, ambiguous, candidates, explain) in zip(cases, results, strict=True):
        truth = chain_of(target, tree)
        got = chain_of(code, tree) if code else {}
        for level in LEVELS:
            if level not in truth or not any(lv >= level for lv in named):
                continue
            outcome = "right" if got.get(level) == truth[level] else "wrong" if level in got else "missing"
            if (
                outcome == "missing"
                and ambiguous
                and any(chain_of(c, tree).get(level) == truth[level] for c in candidates)
            ):
                tally[level]["tied"] += 1  # the text fits the target and other places equally well
            tally[level][outcome] += 1
            tally[level][f"{outcome}-typo" if typo else f"{outcome}-clean"] += 1
            if level == Level.VILLAGE and outcome != "right" and len(misses) < show:
                misses.append(f"  {outcome}: {text} → {explain()} (truth {tree[target][1]})")
    accuracy = {}
    for level in LEVELS:
        c = tally[level]
        n = c["right"] + c["wrong"] + c["missing"]
        accuracy[level] = c["right"] / n if n else 0.0
        clean = c["right-clean"] / max(1, c["right-clean"] + c["wrong-clean"] + c["missing-clean"])
        typo = c["right-typo"] / max(1, c["right-typo"] + c["wrong-typo"] + c["missing-typo"])
        out(
            f"{Level(level).name.lower()}: {accuracy[level]:.1%} right, {c['wrong'] / max(1, n):.1%} wrong, "
            f"{c['missing'] / max(1, n):.1%} not reached ({c['tied'] / max(1, n):.1%} tied with a namesake) of {n}; "
            f"without a typo {clean:.1%} right, with one {typo:.1%}"
        )
    for line in misses:
        out(line)
    out(
        f"addresses: accuracy county {accuracy[Level.COUNTY]:.3f}, town {accuracy[Level.TOWN]:.3f}, "
        f"village {accuracy[Level.VILLAGE]:.3f} on {count} addresses ({rate / 1000:.1f}K/s)"
    )
