"""Plan the synthetic geography of one county-level unit: town and village polygons, grids of the three layers,
households and population. Pure computation (no Django, no database), so the province build can plan counties in
worker processes; `build.py` writes the plans.

Everything is deterministic: a unit's plan depends only on its inputs and the seed, never on which other units
are planned or in what order.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np
import shapely

from fengqiao.demo.synthetic import partition, river_polygon, rng_for

COMPREHENSIVE = "comprehensive"
FOREST = "forest-chief"
RIVER = "river-chief"
SYNTHETIC_MARK = "（模拟）"
HOUSEHOLDS_PER_GRID = 300  # rural grid ≈ 300 households (domain.md §3, grid sizing)


@dataclass(frozen=True)
class Profile:
    """How many households a village has (uniform ranges), hence how many grids (≈300 households each)."""

    name: str
    urban_households: tuple[int, int]
    rural_households: tuple[int, int]
    max_grids_per_village: int
    town_grids: tuple[int, int]  # grids of a town without villages (Dongguan, Zhongshan)


# county: 1–4 grids per village, as the demo brief asks; province: ≈7 per village (≈180,000 grids in Guangdong)
COUNTY = Profile("county", (550, 1200), (200, 1150), 4, (20, 40))
PROVINCE = Profile("province", (1500, 3600), (600, 2200), 20, (40, 120))
PROFILES = {p.name: p for p in (COUNTY, PROVINCE)}


@dataclass
class VillageIn:
    code: str
    name: str
    urban_rural_code: str = ""


@dataclass
class TownIn:
    code: str
    name: str
    villages: list[VillageIn] = field(default_factory=list)

    @property
    def special(self):
        """政企合一 units (forest farms, reserves, farms): township codes 400–599."""
        return self.code[6] in "45"


@dataclass
class UnitIn:
    """A county-level unit with a real boundary (WKB, WGS84, valid): a county, or a city without counties."""

    code: str
    name: str
    wkb: bytes
    towns: list[TownIn]


@dataclass
class PlannedGrid:
    layer: str
    code: str
    name: str
    area_code: str
    wkb: bytes
    households: int = 0
    population: int = 0


@dataclass
class UnitPlan:
    code: str
    boundaries: list[tuple[str, bytes]]  # (area code, WKB) of synthetic town and village polygons
    grids: list[PlannedGrid]
    seconds: float = 0.0


def place_label(name: str) -> str:
    """汤塘村委会 -> 汤塘村, 翠洲社区居民委员会 -> 翠洲社区 (how people name a village or community)."""
    for suffix, label in (
        ("社区居民委员会", "社区"),
        ("社区居委会", "社区"),
        ("居民委员会", "社区"),
        ("居委会", "社区"),
        ("村民委员会", "村"),
        ("村委会", "村"),
    ):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + label
    return name


def _is_urban(village):
    return village.urban_rural_code.startswith("1")


def grid_count(households, profile):
    return int(min(max(math.ceil(households / HOUSEHOLDS_PER_GRID), 1), profile.max_grids_per_village))


def _spread(total, n, rng):
    """Split `total` into `n` positive integers around total/n."""
    shares = rng.uniform(0.8, 1.2, n)
    parts = np.floor(shares / shares.sum() * total).astype(int)
    parts[: total - parts.sum()] += 1
    return [max(int(p), 1) for p in parts]


def _grid_name(label, i):
    return f"{label} 第{i}网格{SYNTHETIC_MARK}"


def plan_unit(unit: UnitIn, *, seed: int, profile: Profile) -> UnitPlan:
    started = time.perf_counter()
    geom = shapely.from_wkb(unit.wkb)
    boundaries, grids = [], []

    town_weights = []
    for town in unit.towns:
        rng = rng_for(seed, town.code, "town-weight")
        weight = max(len(town.villages), 1) * (3 if town.special else 1)
        town_weights.append(weight * rng.uniform(0.8, 1.25))
    town_geoms = partition(geom, weights=town_weights, rng=rng_for(seed, unit.code, "towns"), samples_per_piece=24)

    for town, town_geom in zip(unit.towns, town_geoms, strict=True):
        boundaries.append((town.code, shapely.to_wkb(town_geom)))
        if town.villages:
            grids.extend(_plan_villages(town, town_geom, boundaries, seed=seed, profile=profile))
        else:  # Dongguan, Zhongshan: grids directly under the town
            grids.extend(_plan_town_grids(town, town_geom, seed=seed, profile=profile))
        grids.extend(_plan_forest(town, town_geom, seed=seed))

    grids.extend(_plan_rivers(unit, geom, town_geoms, seed=seed))
    return UnitPlan(unit.code, boundaries, grids, time.perf_counter() - started)


def plan_job(args):
    """`plan_unit` for a process pool: one picklable argument; lives here so workers never import Django."""
    unit, seed, profile = args
    return plan_unit(unit, seed=seed, profile=profile)


def _plan_villages(town, town_geom, boundaries, *, seed, profile):
    weights = []
    for village in town.villages:
        rng = rng_for(seed, village.code, "village-weight")
        weights.append((0.35 if _is_urban(village) else 1.0) * rng.uniform(0.7, 1.4))
    village_geoms = partition(
        town_geom, weights=weights, rng=rng_for(seed, town.code, "villages"), samples_per_piece=16
    )
    for village, village_geom in zip(town.villages, village_geoms, strict=True):
        boundaries.append((village.code, shapely.to_wkb(village_geom)))
        rng = rng_for(seed, village.code, "households")
        low, high = profile.urban_households if _is_urban(village) else profile.rural_households
        households = int(rng.integers(low, high + 1))
        n = grid_count(households, profile)
        pieces = partition(village_geom, n=n, rng=rng_for(seed, village.code, "grids"), organic=False)
        label = place_label(village.name)
        for i, (piece, hh) in enumerate(zip(pieces, _spread(households, n, rng), strict=True), start=1):
            yield PlannedGrid(
                layer=COMPREHENSIVE,
                code=f"{village.code}-{i:02d}",
                name=_grid_name(label, i),
                area_code=village.code,
                wkb=shapely.to_wkb(piece),
                households=hh,
                population=round(hh * rng.uniform(2.6, 3.4)),
            )


def _plan_town_grids(town, town_geom, *, seed, profile):
    rng = rng_for(seed, town.code, "town-grids")
    n = int(rng.integers(profile.town_grids[0], profile.town_grids[1] + 1))
    households = int(n * rng.uniform(280, 420))
    pieces = partition(town_geom, n=n, rng=rng_for(seed, town.code, "grids"), organic=False)
    width = 3 if n >= 100 else 2
    for i, (piece, hh) in enumerate(zip(pieces, _spread(households, n, rng), strict=True), start=1):
        yield PlannedGrid(
            layer=COMPREHENSIVE,
            code=f"{town.code}-{i:0{width}d}",
            name=_grid_name(town.name, i),
            area_code=town.code,
            wkb=shapely.to_wkb(piece),
            households=hh,
            population=round(hh * rng.uniform(2.6, 3.4)),
        )


def _plan_forest(town, town_geom, *, seed):
    rng = rng_for(seed, town.code, "forest")
    n = int(rng.integers(2, 4))
    pieces = partition(town_geom, n=n, rng=rng, samples_per_piece=12)
    for i, piece in enumerate(pieces, start=1):
        yield PlannedGrid(
            layer=FOREST,
            code=f"{town.code}-L{i}",
            name=f"{town.name} 第{i}林长网格{SYNTHETIC_MARK}",
            area_code=town.code,
            wkb=shapely.to_wkb(piece),
        )


def _plan_rivers(unit, geom, town_geoms, *, seed):
    rng = rng_for(seed, unit.code, "river")
    river = river_polygon(geom, rng, width_m=float(rng.uniform(90, 160)), tributaries=int(rng.integers(1, 4)))
    if river is None:
        return
    shapely.prepare(river)
    for town, town_geom in zip(unit.towns, town_geoms, strict=True):
        if not shapely.intersects(river, town_geom):
            continue
        piece = shapely.intersection(river, town_geom)
        parts = [p for p in shapely.get_parts(piece) if p.geom_type == "Polygon" and p.area > 1e-10]
        if not parts:
            continue
        piece = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
        if not piece.is_valid:
            piece = shapely.make_valid(piece)
            if piece.geom_type not in ("Polygon", "MultiPolygon"):
                continue
        yield PlannedGrid(
            layer=RIVER,
            code=f"{town.code}-H1",
            name=f"{town.name} 河长网格{SYNTHETIC_MARK}",
            area_code=town.code,
            wkb=shapely.to_wkb(piece),
        )
