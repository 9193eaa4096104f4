"""Partial updates in services: apply the given values, return what changed in an audit-friendly form."""

import datetime


def apply_changes(obj, values: dict) -> dict:
    """Apply the non-None `values` to `obj` (strings stripped); return {field: [old, new]} for those that differ."""
    changed = {}
    for field, value in values.items():
        if value is None:
            continue
        if isinstance(value, str):
            value = value.strip()
        old = getattr(obj, field)
        if old != value:
            changed[field] = [old, value]
            setattr(obj, field, value)
    return changed


def jsonable(changed: dict) -> dict:
    """{field: [old, new]} with dates as ISO strings and model instances as their primary keys."""

    def plain(v):
        if isinstance(v, datetime.date | datetime.datetime):
            return v.isoformat()
        if hasattr(v, "pk"):
            return v.pk
        return v

    return {k: [plain(a), plain(b)] for k, (a, b) in changed.items()}
