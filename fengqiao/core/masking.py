"""Masking of personal data for display (ADR 0005). Defaults follow domain.md §6: phone 3+4, ID 6+4; both are
configurable (FENGQIAO_MASK_PHONE, FENGQIAO_MASK_ID as "start,end")."""


def mask(value, keep_start, keep_end, fill="*"):
    if not value:
        return value or ""
    value = str(value)
    if len(value) <= keep_start + keep_end:
        return fill * len(value)
    return value[:keep_start] + fill * (len(value) - keep_start - keep_end) + value[len(value) - keep_end :]


def _keep(setting, default):
    from django.conf import settings

    return getattr(settings, setting, default)


def mask_phone(value):
    """Phone numbers keep their first 3 and last 4 digits by default (FENGQIAO_MASK_PHONE)."""
    return mask(value, *_keep("MASK_PHONE_KEEP", (3, 4)))


def mask_id_number(value):
    """ID numbers keep their first 6 (the region) and last 4 by default, hiding the birth date (FENGQIAO_MASK_ID)."""
    return mask(value, *_keep("MASK_ID_KEEP", (6, 4)))


def mask_name(value):
    """张三 -> 张*, 欧阳娜娜 -> 欧***; Latin names keep their first letter."""
    if not value:
        return value or ""
    return value[0] + "*" * max(len(value) - 1, 1)
