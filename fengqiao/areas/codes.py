"""Division codes: 12-digit statistical codes (统计用区划代码 = GB/T 2260 + 3 town + 3 village digits) and the
15-digit local extension for villager groups (village code + 3 digits). See domain.md §3 and ADR 0003."""

import re

from django.db import models
from django.utils.translation import gettext_lazy as _

CODE_RE = re.compile(r"^(\d{12}|\d{15})$")


class Level(models.IntegerChoices):
    PROVINCE = 1, _("province")
    CITY = 2, _("city")
    COUNTY = 3, _("county / district")
    TOWN = 4, _("town / street")
    VILLAGE = 5, _("village / community")
    GROUP = 6, _("villager group")


class CodeError(ValueError):
    pass


URBAN_RURAL_CODES = {
    "111": _("main urban area"),
    "112": _("urban-rural fringe"),
    "121": _("town centre"),
    "122": _("town-rural fringe"),
    "123": _("special area"),
    "210": _("township centre"),
    "220": _("village"),
}


def level_of(code: str) -> Level:
    """The level a code implies. Raises CodeError for a malformed code."""
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise CodeError(f"code {code!r} must be 12 digits (or 15 for a villager group)")
    if code[:2] == "00":
        raise CodeError(f"code {code} has no province part")
    if len(code) == 15:
        if code[9:12] == "000" or code[12:] == "000":
            raise CodeError(f"villager group code {code} must extend a village code with 3 non-zero digits")
        return Level.GROUP
    if code[2:] == "0" * 10:
        return Level.PROVINCE
    if code[4:] == "0" * 8:
        return Level.CITY
    if code[6:] == "0" * 6:
        return Level.COUNTY
    if code[9:] == "000":
        return Level.TOWN
    if code[6:9] == "000":
        raise CodeError(f"village code {code} has no town part")
    return Level.VILLAGE


def parent_candidates(code: str) -> list[str]:
    """Codes that may be the parent of `code`, nearest first.

    A town of a city without counties (Dongguan 4419, Zhongshan 4420) sits directly under the city: its
    county digits are 00, so its county code equals the city code.
    """
    level = level_of(code)
    chain = {
        Level.PROVINCE: [],
        Level.CITY: [code[:2] + "0" * 10],
        # xx90yy: county-level unit directly under the province (GB/T 2260)
        Level.COUNTY: [code[:2] + "0" * 10] if code[2:4] == "90" else [code[:4] + "0" * 8],
        Level.TOWN: [code[:4] + "0" * 8] if code[4:6] == "00" else [code[:6] + "0" * 6],
        Level.VILLAGE: [code[:9] + "000"],
        Level.GROUP: [code[:12]],
    }[level]
    seen, out = set(), []
    for candidate in chain:
        if candidate != code and candidate not in seen:
            seen.add(candidate)
            out.append(candidate)
    return out


def significant_prefix(code: str) -> str:
    """The part of a code that its descendants share: 440000000000 -> 44, 441821000000 -> 441821."""
    level = level_of(code)
    return {
        Level.PROVINCE: code[:2],
        Level.CITY: code[:4],
        Level.COUNTY: code[:6],
        Level.TOWN: code[:9],
        Level.VILLAGE: code[:12],
        Level.GROUP: code,
    }[level]


def check_parent(code: str, parent_code: str | None):
    """Raise CodeError unless `parent_code` is a valid parent for `code` (prefix and level)."""
    level = level_of(code)
    if level == Level.PROVINCE:
        if parent_code:
            raise CodeError(f"province {code} cannot have a parent")
        return
    if not parent_code:
        raise CodeError(f"{code} needs a parent")
    parent_level = level_of(parent_code)
    if parent_level >= level:
        raise CodeError(f"parent {parent_code} ({parent_level.label}) is not above {code} ({level.label})")
    if not code.startswith(significant_prefix(parent_code)):
        raise CodeError(f"code {code} does not start with its parent's prefix {significant_prefix(parent_code)}")
    if parent_code not in parent_candidates(code):
        raise CodeError(f"{parent_code} cannot be the parent of {code}")
