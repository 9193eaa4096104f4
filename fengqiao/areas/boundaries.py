"""Area boundaries: versioned writes and the GeoJSON importer (`fengqiao import-boundaries`).

Boundaries are stored in WGS84 (ADR 0004). A new geometry for an area adds version N+1 and closes the current
version (valid_to); the same geometry again changes nothing, so imports are idempotent.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from fengqiao.areas.models import Area, Boundary
from fengqiao.audit import services as audit
from fengqiao.core.geo import (
    GeoError,
    check_in_china,
    clean_polygonal,
    geometry_gcj02_to_wgs84,
    invalid_reason,
    read_geojson_features,
)

CRS_CHOICES = ("gcj02", "wgs84")
CRS_LABELS = {"gcj02": "GCJ-02", "wgs84": "WGS84"}
_ADCODE_RE = re.compile(r"^\d{6}$")
_CODE_RE = re.compile(r"^\d{12}$")


class BoundaryImportError(GeoError):
    """Bad input for a boundary import; the message names the file and the feature."""


@dataclass
class BoundaryImportReport:
    path: str
    crs: str
    features: int = 0
    created: int = 0
    replaced: int = 0
    unchanged: int = 0
    repaired: int = 0
    repaired_features: list = field(default_factory=list)  # "feature 3 (area 441821000000 佛冈县): self-…"
    unknown: list = field(default_factory=list)  # area codes with no area (only with skip_unknown)

    def summary(self):
        unknown = f", {len(self.unknown)} unknown adcodes skipped" if self.unknown else ""
        return (
            f"{self.path}: {self.features} features ({self.crs}): {self.created} created, {self.replaced} replaced, "
            f"{self.unchanged} unchanged, {self.repaired} repaired{unknown}"
        )

    def lines(self):
        """What the command prints: unknown codes skipped, each repaired feature, then the summary."""
        out = [f"unknown area codes skipped: {' '.join(self.unknown[:50])}"] if self.unknown else []
        return [*out, *(f"repaired: {r}" for r in self.repaired_features), self.summary()]


@transaction.atomic
def save_boundary(*, actor, area, geometry, source, source_crs="WGS84", repaired=False, synthetic=False):
    """Attach `geometry` (WGS84) to `area` as its current boundary. Returns (boundary, created).

    The same geometry as the current version returns that version and created=False; a different one closes
    the current version and adds the next. An invalid geometry is repaired (and marked so).
    """
    geometry, fixed = clean_polygonal(geometry, what=f"boundary of {area.code}")
    candidate = Boundary(
        area=area, source=source[:200], source_crs=source_crs, repaired=repaired or fixed, synthetic=synthetic
    )
    candidate.set_geometry(geometry)
    current = Boundary.objects.select_for_update().filter(area=area, valid_to__isnull=True).first()
    if current is not None and current.geometry_hash == candidate.geometry_hash:
        return current, False
    last = Boundary.objects.filter(area=area).aggregate(v=Max("version"))["v"] or 0
    if current is not None:
        current.valid_to = timezone.now()
        current.save(update_fields=["valid_to"])
    candidate.version = last + 1
    candidate.save()
    audit.record(
        actor=actor,
        action="boundary.replace" if current is not None else "boundary.create",
        obj=candidate,
        summary=f"{area.code} {area.name} boundary v{candidate.version} from {source}"[:255],
        data={
            "area": area.code,
            "version": candidate.version,
            "previous": current.pk if current is not None else None,
            "area_m2": round(candidate.area_m2, 1),
            "repaired": candidate.repaired,
        },
    )
    return candidate, True


def area_code_of(properties, *, where):
    """The 12-digit area code of a feature: `code` (12 digits) or `adcode` (6 digits + 000000)."""
    code = properties.get("code")
    if code not in (None, ""):
        code = str(code).strip()
        if not _CODE_RE.match(code):
            raise BoundaryImportError(f"{where}: property code={code!r} must be a 12-digit division code")
        return code
    adcode = properties.get("adcode")
    if adcode in (None, ""):
        raise BoundaryImportError(f"{where}: needs an 'adcode' (6 digits) or 'code' (12 digits) property")
    adcode = str(adcode).strip()
    if not _ADCODE_RE.match(adcode):
        raise BoundaryImportError(f"{where}: property adcode={adcode!r} must be a 6-digit GB/T 2260 code")
    return adcode + "000000"


def import_boundary_file(path, *, actor, crs="gcj02", skip_unknown=False):
    """Import a GeoJSON file of boundaries, all or nothing. Returns a BoundaryImportReport.

    Every feature is read, converted (GCJ-02 → WGS84 unless crs="wgs84"), repaired and matched to an area
    before anything is written; any bad feature raises BoundaryImportError naming the file and the feature.
    """
    path = Path(path)
    crs = (crs or "gcj02").lower()
    if crs not in CRS_CHOICES:
        raise BoundaryImportError(f"{path}: --crs must be one of {', '.join(CRS_CHOICES)}, got {crs!r}")
    report = BoundaryImportReport(path=str(path), crs=crs)
    prepared, seen = [], {}
    for feature in read_geojson_features(path):
        where = f"{path}: feature {feature.index}"
        code = area_code_of(feature.properties, where=where)
        if code in seen:
            raise BoundaryImportError(f"{where}: area {code} already given by feature {seen[code]}")
        seen[code] = feature.index
        geom = feature.geometry
        if geom.is_empty:
            raise BoundaryImportError(f"{where}: geometry is empty")
        if crs == "gcj02":
            check_in_china(geom, what=where)  # GCJ-02 is only defined over China
            geom = geometry_gcj02_to_wgs84(geom)
        reason = invalid_reason(geom)
        geom, repaired = clean_polygonal(geom, what=where)
        prepared.append((feature.index, code, geom, (reason or "invalid geometry") if repaired else None))
    report.features = len(prepared)

    areas = {}
    codes = list(seen)
    for start in range(0, len(codes), 2000):
        areas.update(Area.objects.in_bulk(codes[start : start + 2000], field_name="code"))
    missing = [(index, code) for index, code, _, _ in prepared if code not in areas]
    if missing and not skip_unknown:
        index, code = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise BoundaryImportError(
            f"{path}: feature {index}: no area with code {code}{more}; import the divisions first "
            "or pass --skip-unknown"
        )
    report.unknown = [code for _, code in missing]

    source = path.name
    with transaction.atomic():
        for index, code, geom, repaired in prepared:
            area = areas.get(code)
            if area is None:
                continue
            had_current = Boundary.objects.filter(area=area, valid_to__isnull=True).exists()
            _, created = save_boundary(
                actor=actor,
                area=area,
                geometry=geom,
                source=source,
                source_crs=CRS_LABELS[crs],
                repaired=bool(repaired),
            )
            if repaired:
                report.repaired += 1
                report.repaired_features.append(f"feature {index} (area {code} {area.name}): {repaired}")
            if not created:
                report.unchanged += 1
            elif had_current:
                report.replaced += 1
            else:
                report.created += 1
        audit.record(
            actor=actor,
            action="boundary.import",
            object_type="areas.boundary",
            summary=report.summary()[:255],
            data={
                "file": str(path),
                "crs": crs,
                "features": report.features,
                "created": report.created,
                "replaced": report.replaced,
                "unchanged": report.unchanged,
                "repaired": report.repaired,
                "repaired_features": report.repaired_features[:100],
                "unknown": report.unknown[:100],
            },
        )
    return report
