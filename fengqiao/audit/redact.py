"""Masking personal data in what audit events keep (ADR 0008). Audit rows are never unmasked: they are read by
auditors and exported, so they hold personal values only as `core.masking` shows them to staff.

A key is personal when it is listed in PERSONAL_KEYS, when the caller names it (`record(personal=[...])`), or when
the audited object's model stores it in an EncryptedTextField. Keys are matched at every depth, and a value that is a
list (the `[old, new]` pairs of `core.changes.jsonable`) is masked item by item."""

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
