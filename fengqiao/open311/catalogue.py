"""Services and service definitions from the category tree (ADR 0014).

A service is an active category of a public scheme (``OPEN311_SCHEMES``: the 12345 hotline's and local ones by
default; dispute types stay off a public API) whose ancestors are active and which has no active children: its
``service_code`` is the category's code, its ``group`` the parent's name. Every service has metadata: the common
attributes (``title``, ``urgency``) and the `ServiceAttribute` rows of the category and its ancestors (the
nearest wins for a code).
"""

import datetime

from django.conf import settings
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from fengqiao.departments.models import Category
from fengqiao.matters.models import Urgency
from fengqiao.open311.models import LIST_TYPES, Datatype, ServiceAttribute

DEFAULT_SCHEMES = (Category.Scheme.HOTLINE, Category.Scheme.LOCAL)


def schemes():
    return tuple(getattr(settings, "OPEN311_SCHEMES", DEFAULT_SCHEMES))


def service_categories():
    """The categories that are services, in tree order."""
    categories = list(Category.objects.filter(scheme__in=schemes()).order_by("path"))
    active_codes = {c.code for c in categories if c.active}
    parents_of_active = {c.parent_id for c in categories if c.active and c.parent_id}
    by_id = {c.pk: c for c in categories}
    out = []
    for category in categories:
        if category.code not in active_codes or category.pk in parents_of_active:
            continue
        if not all(code in active_codes for code in category.ancestor_codes()):
            continue
        category.group_name = by_id[category.parent_id].name if category.parent_id in by_id else None
        out.append(category)
    return out


def service(code):
    """The service category of `code`, or None."""
    for category in service_categories():
        if category.code == code:
            return category
    return None


def service_body(category):
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.name,
        "metadata": True,
        "type": "realtime",
        "keywords": None,
        "group": getattr(category, "group_name", None),
    }


def changeset():
    """When the service list last changed (W3C datetime)."""
    from django.db.models import Max

    stamps = [
        Category.objects.aggregate(at=Max("updated_at"))["at"],
        ServiceAttribute.objects.aggregate(at=Max("updated_at"))["at"],
    ]
    stamps = [s for s in stamps if s is not None]
    return w3c(max(stamps)) if stamps else None


def common_attributes():
    return [
        {
            "variable": True,
            "code": "title",
            "datatype": Datatype.STRING.value,
            "required": False,
            "datatype_description": _("At most 200 characters."),
            "description": _("A short title of the problem"),
        },
        {
            "variable": True,
            "code": "urgency",
            "datatype": Datatype.SINGLE.value,
            "required": False,
            "datatype_description": None,
            "description": _("How urgent is it?"),
            "values": [{"key": value, "name": str(label)} for value, label in Urgency.choices],
        },
    ]


def attributes_of(category):
    """The attribute definitions of a service: the common ones, then the category's own and its ancestors'
    (the nearest category wins for a code), each with a unique ``order`` from 1."""
    ancestors = category.ancestor_codes()
    rows = ServiceAttribute.objects.filter(category__code__in=ancestors, active=True).select_related("category")
    depth = {code: i for i, code in enumerate(ancestors)}
    chosen = {}
    for row in sorted(rows, key=lambda r: depth[r.category.code]):
        chosen[row.code] = row  # deeper rows overwrite their ancestors'
    own = []
    for row in sorted(chosen.values(), key=lambda r: (r.order, r.code)):
        item = {
            "variable": row.variable,
            "code": row.code,
            "datatype": row.datatype,
            "required": row.required,
            "datatype_description": row.datatype_description or None,
            "description": row.description,
        }
        if row.datatype in LIST_TYPES:
            item["values"] = row.values()
        own.append(item)
    out = common_attributes() + own
    for i, item in enumerate(out, start=1):
        item["order"] = i
    return out


def definition_body(category):
    return {"service_code": category.code, "attributes": attributes_of(category)}


class AttributeProblem(ValueError):
    """An attribute value the service refuses; the message names the attribute."""


def check_attributes(category, given):
    """Validate the submitted attributes (``{code: [values]}``) against the service's definition; returns the
    cleaned ``{code: value or [values]}``. Codes the service does not define are kept as text (clients such as
    FixMyStreet send their own, e.g. ``fixmystreet_id``); a missing required one, a number that is not one, a
    datetime that is not one or a key outside a list is refused."""
    definitions = {a["code"]: a for a in attributes_of(category)}
    out = {}
    problems = []
    for code, definition in definitions.items():
        values = [v for v in given.get(code, []) if v.strip()]
        if not values:
            if definition["required"] and definition["variable"]:
                problems.append(_("attribute[%(code)s] is required") % {"code": code})
            continue
        datatype = definition["datatype"]
        if datatype == Datatype.MULTI:
            keys = {v["key"] for v in definition["values"]}
            wrong = [v for v in values if v not in keys]
            if wrong:
                problems.append(_("attribute[%(code)s]: unknown key %(key)s") % {"code": code, "key": wrong[0]})
            out[code] = values
            continue
        if len(values) > 1:
            problems.append(_("attribute[%(code)s] takes one value") % {"code": code})
            continue
        value = values[0].strip()
        if datatype == Datatype.SINGLE and value not in {v["key"] for v in definition["values"]}:
            problems.append(_("attribute[%(code)s]: unknown key %(key)s") % {"code": code, "key": value})
        elif datatype == Datatype.NUMBER and not _is_number(value):
            problems.append(_("attribute[%(code)s] must be a number") % {"code": code})
        elif datatype == Datatype.DATETIME and parse_when(value) is None:
            problems.append(_("attribute[%(code)s] must be an ISO 8601 date and time") % {"code": code})
        out[code] = value
    for code, values in given.items():
        if code not in definitions:
            out[code] = values[0] if len(values) == 1 else values
    if problems:
        raise AttributeProblem("; ".join(problems))
    return out


def _is_number(value):
    try:
        float(value)
    except ValueError:
        return False
    return value.lower() not in {"nan", "inf", "-inf", "infinity", "-infinity", "+inf"}


def parse_when(value):
    """A W3C/ISO 8601 datetime or date; a naive one is local time; None when it is not one. A '+' of the offset
    that arrived as a space (an unencoded query string) is restored."""
    import re

    from django.utils import timezone

    value = (value or "").strip()
    value = re.sub(r" (\d\d:?\d\d)$", r"+\1", value)
    try:
        when = parse_datetime(value)
        if when is None:
            day = parse_date(value)
            if day is None:
                return None
            when = datetime.datetime.combine(day, datetime.time.min)
    except ValueError:
        return None
    return when if timezone.is_aware(when) else timezone.make_aware(when)


def w3c(when):
    from django.utils import timezone

    return None if when is None else timezone.localtime(when).isoformat(timespec="seconds")
