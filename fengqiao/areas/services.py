"""Writes to the area tree. Bulk edition imports live in `divisions.py`; this module holds single writes."""

import datetime

from django.db import transaction

from fengqiao.areas.codes import Level, check_parent, level_of
from fengqiao.areas.models import Area, AreaChange
from fengqiao.audit import services as audit


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
