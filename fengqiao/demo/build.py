"""Build a demo database: real division codes and county boundaries, synthetic towns, villages and grids (marked
so), governance centres, departments with a catalogue of responsibilities, and a few demo users.

    build_demo(actor=..., scale="county")    # 清远市 with 佛冈县 in full; works from a bare clone (fixture)
    build_demo(actor=..., scale="province")  # all of Guangdong; needs the shared reference data

The build is idempotent: it computes the same synthetic geography from the same inputs and seed, writes only what
is missing or different, and records one audit event for what it wrote. Real data always wins: a real
(non-synthetic) boundary or grid is never overwritten.

Phases: reference data → divisions → real boundaries → plan (pure computation, in worker processes for the
province) → synthetic boundaries and grids → centres → departments → users (with their second factor when it is
required, see `institutions`) → synthetic residents (households, persons, buildings, places and organisations;
county scale only, see `residents`) → special care records of some of them (`care`). Each phase is timed.
"""

import concurrent.futures
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import shapely
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from fengqiao.areas import locate
from fengqiao.areas.boundaries import import_boundary_file, save_boundary
from fengqiao.areas.codes import Level
from fengqiao.areas.coverage import check_coverage
from fengqiao.areas.divisions import import_division_files
from fengqiao.areas.models import Area, Boundary, Grid, GridLayer
from fengqiao.areas.seed import seed_grid_layers
from fengqiao.audit import services as audit
from fengqiao.centres.models import Centre, ServiceSpace, SpaceType
from fengqiao.centres.seed import seed_space_types
from fengqiao.demo import care, geography, institutions, loop, residents, sources
from fengqiao.demo import plan as planning
from fengqiao.demo.catalogue import COUNTY_DEPARTMENTS, TOWN_DEPARTMENTS
from fengqiao.demo.institutions import DemoUser
from fengqiao.demo.sources import DemoError
from fengqiao.departments.models import Category, Department, Responsibility
from fengqiao.departments.seed import seed_categories
from fengqiao.people.models import Building, Household, Organisation, Person, Place, SpecialCare

SCALES = ("county", "province")
__all__ = ["COUNTY_DEPARTMENTS", "SCALES", "TOWN_DEPARTMENTS", "DemoError", "DemoReport", "build_demo"]


@dataclass
class DemoReport:
    """What a build did: timed phases, rows written this run, what the demo holds, users, coverage, notes."""

    scale: str
    seed: int
    origin: str = ""
    phases: list[tuple[str, float]] = field(default_factory=list)
    written: Counter = field(default_factory=Counter)  # what this run created/updated/retired
    counts: dict = field(default_factory=dict)  # what the demo scope holds afterwards
    users: list[DemoUser] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    coverage: dict = field(default_factory=dict)  # layer code -> (percent covered, gaps/overlaps ≥ 1 m²)
    demo_county: str = sources.DEMO_COUNTY

    @property
    def seconds(self):
        return sum(s for _name, s in self.phases)

    @property
    def changed(self):
        return any(self.written.values())

    def summary_lines(self):
        lines = [f"demo ({self.scale}, seed {self.seed}, data from the {self.origin}) built in {self.seconds:.1f} s"]
        lines += [f"  {name:<28} {seconds:7.2f} s" for name, seconds in self.phases]
        lines.append("contents:")
        lines += [f"  {name:<28} {value:>9,}" for name, value in self.counts.items()]
        written = ", ".join(f"{k} {v:,}" for k, v in sorted(self.written.items()) if v) or "nothing (already built)"
        lines.append(f"written this run: {written}")
        lines += [f"note: {n}" for n in self.notes]
        return lines


def _progress_or_silent(progress):
    return progress if callable(progress) else (lambda message: None)


@contextmanager
def _phase(report, name, progress):
    progress(f"{name} …")
    started = time.perf_counter()
    yield
    report.phases.append((name, time.perf_counter() - started))


def build_demo(*, actor, scale="county", data_dir=None, seed=42, progress=None):
    """Build (or bring up to date) the demo data and return a DemoReport.

    `data_dir` is the shared reference data folder (default settings.SHARED_DATA_DIR); the county scale falls
    back to the committed fixture when it is absent, the province scale raises DemoError.
    """
    if scale not in SCALES:
        raise DemoError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    progress = _progress_or_silent(progress)
    password = institutions.demo_password()  # a weak chosen password fails now, not after the build
    shared_dir = Path(data_dir) if data_dir is not None else Path(settings.SHARED_DATA_DIR)
    report = DemoReport(scale=scale, seed=seed)
    profile = planning.PROFILES[scale]

    with tempfile.TemporaryDirectory(prefix="fengqiao-demo-") as workdir:
        if scale == "county":
            src = sources.county_sources(shared_dir, workdir)
            unit_codes = {sources.DEMO_COUNTY}
        else:
            src = sources.province_sources(shared_dir)
            unit_codes = None
        report.origin = "shared data" if src.origin == "shared" else "committed fixture"

        with _phase(report, "reference data", progress):
            _seed_reference_data(report)
        with _phase(report, "divisions", progress):
            result = import_division_files(src.division_files, actor=actor, edition=sources.EDITION)
            report.written["areas created"] += result.created
            report.written["areas changed"] += result.changed + result.revived + result.retired
            units_in = sources.read_units(src.division_files, only=unit_codes)

    with _phase(report, "real boundaries", progress):
        cities_file = shared_dir / sources.CITIES_FILE
        if scale == "province" and cities_file.is_file():
            # the 21 real city outlines too, so coverage checks and locate's fallback work at city level
            cities = import_boundary_file(cities_file, actor=actor, crs="gcj02")
            report.written["real boundaries"] += cities.created + cities.replaced
        unit_geoms = _real_boundaries(report, src, set(units_in), actor=actor)
    units = [
        planning.UnitIn(code, name, shapely.to_wkb(unit_geoms[code]), towns)
        for code, (name, towns) in units_in.items()
        if code in unit_geoms
    ]
    with _phase(report, f"plan ({len(units)} unit(s))", progress):
        plans = _plan(units, seed=seed, profile=profile)
    with transaction.atomic():
        areas = _areas_by_code(units)
        with _phase(report, "synthetic boundaries", progress):
            geography.write_boundaries(report, plans, areas, seed=seed)
        with _phase(report, "grids", progress):
            geography.write_grids(report, plans, areas, units)
        scope = institutions.make_scope({u.code for u in units}, areas)
        with _phase(report, "centres", progress):
            institutions.write_centres(report, scope)
        with _phase(report, "departments", progress):
            institutions.write_departments(report, scope)
        with _phase(report, "users", progress):
            institutions.write_users(report, actor=actor, password=password)
        if scale == "county":
            with _phase(report, "synthetic residents", progress):
                residents.write_residents(report, scope, seed=seed)
            with _phase(report, "special care records", progress):
                care.write_care(report, scope, actor=actor, seed=seed)
            locate.invalidate()  # the matters are placed by the grids just written
            with _phase(report, "closed-loop matters", progress):
                loop.write_matters(report, scope, actor=actor, seed=seed)
        if report.changed:
            audit.record(
                actor=actor,
                action="demo.build",
                object_type="areas.area",
                # the area the demo fills: the county, or the province for the province scale
                object_id=units[0].code if len(units) == 1 else (units[0].code[:2] + "0" * 10 if units else ""),
                summary=f"demo {scale} (seed {seed}): "
                + ", ".join(f"{k} {v}" for k, v in sorted(report.written.items()) if v),
                data={
                    "scale": scale,
                    "seed": seed,
                    "origin": src.origin,
                    "units": [u.code for u in units],
                    "written": dict(report.written),
                    "phases": {name: round(s, 3) for name, s in report.phases},
                },
            )
    locate.invalidate()  # this process's locate indexes; others notice the new rows themselves
    with _phase(report, "coverage check", progress):
        _check_coverage(report, scope)
    report.counts = _counts(scope, units)
    return report


# --- reference data and real boundaries --------------------------------------------------------------------


def _seed_reference_data(report):
    """The data migrations seed these; seeding again repairs a database whose reference rows were deleted."""
    report.written["reference rows"] += (
        seed_grid_layers(GridLayer) + seed_space_types(SpaceType) + seed_categories(Category)
    )
    from fengqiao.matters.deadlines import seed_policies

    report.written["reference rows"] += seed_policies()


def _real_boundaries(report, src, unit_codes, *, actor):
    """The current real boundary of each unit: the one stored if it is real, else the file's, saved now."""
    stored = {
        b.area.code: b
        for b in Boundary.objects.filter(valid_to__isnull=True, area__code__in=unit_codes).select_related("area")
    }
    wanted = {code for code in unit_codes if code not in stored or stored[code].synthetic}
    from_file = sources.read_boundaries(src.boundary_file, crs=src.boundary_crs, only=wanted) if wanted else {}
    geoms = {}
    for code in sorted(unit_codes):
        if code in stored and not stored[code].synthetic:
            geoms[code] = stored[code].geometry
            continue
        real = from_file.get(code)
        if real is None:
            report.notes.append(f"no boundary for {code} in {src.boundary_file.name}: no synthetic geography for it")
            continue
        area = Area.objects.get(code=code)
        boundary, created = save_boundary(
            actor=actor,
            area=area,
            geometry=real.geometry,
            source=f"{src.boundary_file.name} (Aliyun DataV.GeoAtlas, {src.boundary_crs} → WGS84)",
            source_crs=src.boundary_crs,
            repaired=real.repaired,
            synthetic=False,
        )
        report.written["real boundaries"] += bool(created)
        geoms[code] = boundary.geometry  # plan on exactly what is stored
    return geoms


# --- planning --------------------------------------------------------------------------------------------


def _workers(n_units):
    configured = os.environ.get("FENGQIAO_DEMO_WORKERS")
    workers = int(configured) if configured else (os.cpu_count() or 1)
    return max(1, min(workers, n_units))


def _plan(units, *, seed, profile):
    """Plan every unit; in worker processes when there are many (spawned, so no database connection is
    inherited). The result does not depend on the number of workers."""
    jobs = [(unit, seed, profile) for unit in units]
    workers = _workers(len(units))
    if workers == 1 or len(units) < 4:
        return [planning.plan_job(job) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # largest units first keeps both workers busy to the end; results are re-ordered by unit code
        order = sorted(range(len(jobs)), key=lambda i: -sum(len(t.villages) + 1 for t in jobs[i][0].towns))
        results = dict(zip(order, pool.map(planning.plan_job, [jobs[i] for i in order], chunksize=1), strict=True))
    return [results[i] for i in range(len(jobs))]


def _areas_by_code(units):
    codes = [u.code for u in units]
    paths = list(Area.objects.filter(code__in=codes).values_list("path", flat=True))
    areas = {}
    for path in paths:
        areas.update({a.code: a for a in Area.objects.filter(path__startswith=path)})
    # the chain above the units (province, city) for centres
    for unit in list(areas.values()):
        if unit.code in codes:
            for ancestor in unit.ancestors(include_self=False):
                areas.setdefault(ancestor.code, ancestor)
    return areas


# --- summary ---------------------------------------------------------------------------------------------


def _counts(scope, units):
    paths = tuple(a.path for a in scope.units)
    in_scope = Area.objects.current()
    if paths:
        q = Q()
        for p in paths:
            q |= Q(path__startswith=p)
        in_scope = in_scope.filter(q)
    by_level = Counter(in_scope.values_list("level", flat=True))
    grids = Counter(Grid.objects.current().filter(area__in=in_scope).values_list("layer__code", flat=True))
    counts = {
        "areas (all levels, all data)": Area.objects.current().count(),
        "county-level units built": len(units),
        "towns in them": by_level.get(Level.TOWN, 0),
        "villages in them": by_level.get(Level.VILLAGE, 0),
        "comprehensive grids": grids.get(planning.COMPREHENSIVE, 0),
        "forest-chief grids": grids.get(planning.FOREST, 0),
        "river-chief grids": grids.get(planning.RIVER, 0),
        "boundaries (current)": Boundary.objects.filter(valid_to__isnull=True).count(),
        "centres": Centre.objects.count(),
        "service spaces": ServiceSpace.objects.count(),
        "departments": Department.objects.count(),
        "responsibilities": Responsibility.objects.count(),
        "users": get_user_model().objects.count(),
        "households": Household.objects.count(),
        "persons": Person.objects.count(),
        "buildings": Building.objects.count(),
        "places": Place.objects.count(),
        "organisations": Organisation.objects.count(),
        "special care records": SpecialCare.objects.count(),
    }
    return counts


def _check_coverage(report, scope):
    county = scope.demo_county
    if county is None or not Boundary.objects.filter(area=county, valid_to__isnull=True).exists():
        return
    for layer in (planning.COMPREHENSIVE, planning.FOREST):
        result = check_coverage(county, layer=layer, tolerance_m2=1.0)
        bad = len(result.gaps) + len(result.overlaps)
        report.coverage[layer] = (result.percent, bad)
        report.notes.append(
            f"coverage of {county.name} by {layer} grids: {result.percent:.4f}% covered, {bad} gaps/overlaps ≥ 1 m²"
        )
