"""Masking of personal data for display (ADR 0005). Defaults follow domain.md §6: phone 3+4, ID 6+4."""


def mask(value, keep_start, keep_end, fill="*"):
    if not value:
        return value or ""
    value = str(value)
    if len(value) <= keep_start + keep_end:
        return fill * len(value)
    return value[:keep_start] + fill * (len(value) - keep_start - keep_end) + value[len(value) - keep_end :]


def mask_phone(value):
    return mask(value, 3, 4)


def mask_id_number(value):
    return mask(value, 6, 4)


def mask_name(value):
    """张三 -> 张*, 欧阳娜娜 -> 欧***; Latin names keep their first letter."""
    if not value:
        return value or ""
    return value[0] + "*" * max(len(value) - 1, 1)
