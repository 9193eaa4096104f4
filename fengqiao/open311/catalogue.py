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
from fengqiao.open311 import text
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


def _own_attributes(category, rows):
    """The definitions of `category`'s own and inherited attributes from `rows` (ServiceAttribute rows of its
    ancestors, any order): the nearest category wins a code; ordered by (order, code)."""
    ancestors = category.ancestor_codes()
    depth = {code: i for i, code in enumerate(ancestors)}
    chosen = {}
    for row in sorted((r for r in rows if r.category.code in depth), key=lambda r: depth[r.category.code]):
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


def _rows_for(codes):
    return ServiceAttribute.objects.filter(category__code__in=codes, active=True).select_related("category")


def attributes_of(category):
    """The attribute definitions of a service: the common ones, then the category's own and its ancestors'
    (the nearest category wins for a code), each with a unique ``order`` from 1."""
    return _own_attributes(category, _rows_for(category.ancestor_codes()))


def attributes_by_category(categories):
    """{category id: {code: definition}} for several categories with one query (the request list)."""
    categories = {c.pk: c for c in categories if c is not None}
    codes = {code for c in categories.values() for code in c.ancestor_codes()}
    rows = list(_rows_for(codes)) if codes else []
    return {pk: {a["code"]: a for a in _own_attributes(c, rows)} for pk, c in categories.items()}


def definition_body(category):
    return {"service_code": category.code, "attributes": attributes_of(category)}


TITLE_LENGTH = 200  # the matter's title (the common attribute ``title``)


class AttributeProblem(ValueError):
    """Attribute values the service refuses: `problems`, one message per attribute, each naming it."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def _clean(code, datatype, value):
    """A value as plain text (markup removed; one line for single-line types); raises AttributeProblem."""
    try:
        return text.plain(value).strip() if datatype == Datatype.TEXT else text.one_line(value)
    except text.MarkupLeft:
        raise AttributeProblem(
            [_("%(param)s contains markup that cannot be removed; send plain text") % {"param": f"attribute[{code}]"}]
        ) from None


def check_attributes(category, given):
    """Validate the submitted attributes (``{code: [values]}``) against the service's definition; returns the
    cleaned ``{code: value or [values]}`` (plain text, see `text`). Codes the service does not define are kept as
    text (clients such as FixMyStreet send their own, e.g. ``fixmystreet_id``); values of informational
    attributes (``variable`` false) are dropped. Refused, each problem named: a missing required attribute, a
    number that is not one, a datetime that is not one, a key outside the list, several values for a single one,
    a title over 200 characters, markup that cannot be removed."""
    definitions = {a["code"]: a for a in attributes_of(category)}
    out = {}
    problems = []
    plain_given, refused = {}, set()
    for code, values in given.items():
        datatype = definitions[code]["datatype"] if code in definitions else Datatype.TEXT
        try:
            plain_given[code] = [v for v in (_clean(code, datatype, value) for value in values) if v]
        except AttributeProblem as exc:
            problems.extend(exc.problems)
            refused.add(code)
    given = plain_given
    for code, definition in definitions.items():
        values = given.get(code, [])
        if not definition["variable"] or code in refused:
            continue  # informational (nothing to answer), or refused already
        if not values:
            if definition["required"]:
                problems.append(_("attribute[%(code)s] is required") % {"code": code})
            continue
        problem, value = _check_value(code, definition, values)
        if problem:
            problems.append(problem)
        else:
            out[code] = value
    for code, values in given.items():
        if code not in definitions and values:
            out[code] = values[0] if len(values) == 1 else values
    if problems:
        raise AttributeProblem(problems)
    return out


def _check_value(code, definition, values):
    """(problem or None, the cleaned value) of one defined attribute."""
    datatype = definition["datatype"]
    if datatype == Datatype.MULTI:
        keys = {v["key"] for v in definition["values"]}
        wrong = [v for v in values if v not in keys]
        if wrong:
            return _("attribute[%(code)s]: unknown key %(key)s") % {"code": code, "key": wrong[0]}, None
        return None, list(dict.fromkeys(values))
    if len(values) > 1:
        return _("attribute[%(code)s] takes one value") % {"code": code}, None
    value = values[0]
    if datatype == Datatype.SINGLE and value not in {v["key"] for v in definition["values"]}:
        return _("attribute[%(code)s]: unknown key %(key)s") % {"code": code, "key": value}, None
    if datatype == Datatype.NUMBER and not _is_number(value):
        return _("attribute[%(code)s] must be a number") % {"code": code}, None
    if datatype == Datatype.DATETIME and parse_when(value) is None:
        return _("attribute[%(code)s] must be an ISO 8601 date and time") % {"code": code}, None
    if code == "title" and len(value) > TITLE_LENGTH:
        message = _("%(param)s is too long (at most %(max)d characters)")
        return message % {"param": f"attribute[{code}]", "max": TITLE_LENGTH}, None
    return None, value


def answers(definitions, attributes):
    """The submitted answers to the attributes a service defines, for the extended GET of a request:
    ``[{code, label, value, name}]`` in the definition's order (a multi-valued answer gives one item per value;
    ``label`` is the question, ``name`` the chosen option's name or the value itself). Codes the service does not
    define are left out: they are the client's own (ids, names) and not for publishing. Free text is redacted."""
    from fengqiao.audit.redact import redact_text

    out = []
    for code, definition in definitions.items():
        given = attributes.get(code)
        if given in (None, "", []) or not definition["variable"]:
            continue
        names = {v["key"]: v["name"] for v in definition.get("values", [])}
        for value in given if isinstance(given, list) else [given]:
            value = str(value)
            if definition["datatype"] in (Datatype.STRING, Datatype.TEXT):
                value = redact_text(value)
            out.append(
                {"code": code, "label": str(definition["description"]), "value": value, "name": names.get(value, value)}
            )
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
