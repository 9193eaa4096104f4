"""Masking personal data in what audit events keep (ADR 0008). Audit rows are never unmasked: they are read by
auditors and exported, so they hold personal values only as `core.masking` shows them to staff.

A key is personal when it is listed in PERSONAL_KEYS, when the caller names it (`record(personal=[...])`), or when
the audited object's model stores it in an EncryptedTextField. Keys are matched at every depth, and a value that is a
list (the `[old, new]` pairs of `core.changes.jsonable`) is masked item by item.

Free text (an unmask reason, a note, a summary) has no keys: `redact_text` masks whatever in it looks like a mainland
mobile or landline number or a citizen ID number."""

import re

from fengqiao.core.crypto import EncryptedTextField
from fengqiao.core.masking import mask, mask_id_number, mask_name, mask_phone


def mask_other(value):
    return mask(value, 1, 1)


# Exact key names that always hold a private person's data. Duty phones of offices are public (ADR 0005).
PERSONAL_KEYS = {
    "phone": mask_phone,
    "mobile": mask_phone,
    "visitor_phone": mask_phone,
    "contact_phone": mask_phone,
    "id_number": mask_id_number,
    "id_card": mask_id_number,
    "visitor_name": mask_name,
    "full_name": mask_name,
    "person_name": mask_name,
    "contact_name": mask_name,
    "address_detail": mask_other,
}


def masker_for(key):
    if key in PERSONAL_KEYS:
        return PERSONAL_KEYS[key]
    if "phone" in key or "mobile" in key:
        return mask_phone
    if "id_number" in key or "id_card" in key:
        return mask_id_number
    if key.endswith("name"):
        return mask_name
    return mask_other


def personal_fields(model):
    """Names (and attnames) of a model's encrypted fields: personal by construction."""
    if model is None:
        return set()
    return {f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)}


def _mask_value(value, masker):
    if value is None or value == "" or isinstance(value, bool):
        return value
    if isinstance(value, list | tuple):
        return [_mask_value(v, masker) for v in value]
    if isinstance(value, dict):
        return {k: _mask_value(v, masker) for k, v in value.items()}
    return masker(str(value))


def redact(value, extra=frozenset()):
    """A copy of `value` (JSON-like) with the values of personal keys masked."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            key = str(key)
            if key in PERSONAL_KEYS or key in extra:
                out[key] = _mask_value(item, masker_for(key))
            else:
                out[key] = redact(item, extra)
        return out
    if isinstance(value, list | tuple):
        return [redact(item, extra) for item in value]
    return value


# Not preceded or followed by another digit (or a letter, for the ID's X), so longer numbers (a timestamp, an order
# number) are left alone; Chinese text around a number is no boundary problem.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")
_LANDLINE = re.compile(r"(?<![\d+])(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3})[\s-]?\d{7,8}(?!\d)")


def _mobile(match):
    digits = re.sub(r"\D", "", match.group())
    return mask_phone(digits[-11:])


def _landline(match):
    return mask_phone(re.sub(r"[^\d-]", "", match.group()))


def redact_text(text):
    """`text` with every substring shaped like an ID number (18 characters; the 15-digit first-generation cards
    expired in 2013 and look like villager-group codes), a mobile number (11 digits from
    13–19, with or without +86 and separators) or a landline with area code masked as `core.masking` shows them."""
    if not text or not isinstance(text, str):
        return text
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group().upper()), text)
    text = _MOBILE.sub(_mobile, text)
    return _LANDLINE.sub(_landline, text)
