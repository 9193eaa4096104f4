"""Writes to the area tree. Bulk edition imports live in `divisions.py`; this module holds single writes."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from fengqiao.areas.codes import URBAN_RURAL_CODES, Level, check_parent, level_of
from fengqiao.areas.models import Area, AreaChange
from fengqiao.audit import services as audit
from fengqiao.core.changes import apply_changes


def short_name_of(name: str, level: int) -> str:
    """汤塘镇 -> 汤塘, 荔湾区 -> 荔湾, 翠洲社区居民委员会 -> 翠洲, 石角村委会 -> 石角 (for address matching)."""
    suffixes = {
        Level.PROVINCE: ["壮族自治区", "自治区", "省", "市"],
        Level.CITY: ["自治州", "地区", "盟", "市"],
        Level.COUNTY: ["自治县", "县", "区", "市", "旗"],
        Level.TOWN: ["街道办事处", "街道", "镇", "乡", "民族乡", "办事处"],
        Level.VILLAGE: [
            "社区居民委员会",
            "居民委员会",
            "社区居委会",
            "村民委员会",
            "村委会",
            "居委会",
            "社区",
            "村",
        ],
        Level.GROUP: ["村民小组", "小组", "组"],
    }.get(level, [])
    for suffix in sorted(suffixes, key=len, reverse=True):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def path_for(code: str, parent: Area | None) -> str:
    return f"{parent.path if parent else ''}{code}/"


@transaction.atomic
def create_area(*, actor, code, name, parent=None, urban_rural_code="", edition="manual", valid_from=None):
    """Create one area (e.g. a villager group, which no statistical edition lists)."""
    check_parent(code, parent.code if parent else None)
    level = level_of(code)
    area = Area.objects.create(
        code=code,
        name=name,
        short_name=short_name_of(name, level),
        level=level,
        parent=parent,
        path=path_for(code, parent),
        urban_rural_code=urban_rural_code,
        valid_from=valid_from or datetime.date.today(),
        edition=edition,
    )
    AreaChange.objects.create(area=area, edition=edition, kind=AreaChange.Kind.CREATED, after={"name": name})
    audit.record(actor=actor, action="area.create", obj=area, summary=f"{code} {name}")
    return area


@transaction.atomic
def update_area(*, actor, area, name=None, short_name=None, urban_rural_code=None, edition="manual"):
    """Correct an area's names or urban-rural code by hand (codes and parents only change through editions).

    A new name recomputes the short name unless one is given. The change is kept as an AreaChange row; the next
    division edition that lists the code is authoritative again and records its own change.
    """
    area = Area.objects.select_for_update().get(pk=area.pk)
    if name is not None and short_name is None and name.strip() != area.name:
        short_name = short_name_of(name.strip(), area.level)
    changed = apply_changes(area, {"name": name, "short_name": short_name, "urban_rural_code": urban_rural_code})
    if not changed:
        return area
    if "urban_rural_code" in changed and area.urban_rural_code and area.urban_rural_code not in URBAN_RURAL_CODES:
        raise ValidationError({"urban_rural_code": f"{area.urban_rural_code!r} is not an urban-rural code (111…220)"})
    if "name" in changed and not area.name:
        raise ValidationError({"name": "an area needs a name"})
    area.save(update_fields=[*changed, "updated_at"])
    AreaChange.objects.create(
        area=area,
        edition=edition,
        kind=AreaChange.Kind.CHANGED,
        before={k: old for k, (old, _new) in changed.items()},
        after={k: new for k, (_old, new) in changed.items()},
    )
    audit.record(
        actor=actor,
        action="area.update",
        obj=area,
        summary=f"{area.code}: {', '.join(changed)}",
        data={"changed": changed},
    )
    return area
