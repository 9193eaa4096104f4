"""Validation of identity documents and phone numbers (PIPL-relevant personal data; domain.md §3, §6).

Error messages never repeat the value (it would end up in API responses, import reports and logs).

GB 11643-1999 citizen ID number: 6-digit address code + 8-digit birth date + 3-digit sequence (odd = male)
+ check digit (ISO 7064 MOD 11-2, "X" = 10). The birth date and sex are derived from the number instead of
being asked for twice.
"""

import datetime
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")


class IdentityError(ValueError):
    """An ID or phone number that cannot be right; the message says what is wrong."""


@dataclass(frozen=True)
class IdNumber:
    number: str
    region_code: str  # the 6-digit address code (GB/T 2260) at the time of issue
    birth_date: datetime.date
    sex: str  # "male" / "female" (GB/T 2261.1 codes 1 / 2)


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def parse_id_number(value, *, today=None) -> IdNumber:
    """Validate an 18-digit citizen ID number and derive its birth date and sex."""
    number = "".join(str(value or "").split()).upper()
    if not _ID_RE.match(number):
        raise IdentityError(_("An ID number has 18 characters: 17 digits and a digit or X."))
    if number[:2] in ("00", "10") or number[:2] < "11":
        raise IdentityError(_("The region code (first 6 digits) of the ID number is not a Chinese division code."))
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentityError(_("The birth date in the ID number (characters 7–14) is not a date.")) from None
    today = today or datetime.date.today()
    if birth > today or birth.year < 1880:
        raise IdentityError(
            _("The birth date in the ID number (characters 7–14) is impossible (in the future or before 1880).")
        )
    if number[17] != check_digit(number[:17]):
        raise IdentityError(_("The check digit of the ID number does not match (a typing error?)."))
    return IdNumber(number, number[:6], birth, "male" if int(number[16]) % 2 else "female")


def normalise_phone(value) -> str:
    """A mainland mobile (11 digits, 1[3-9]…) or a landline with area code; +86/0086 and separators removed."""
    raw = str(value or "").strip()
    phone = re.sub(r"[\s()（）]", "", raw).replace("—", "-")
    phone = re.sub(r"^(\+86|0086)-?", "", phone)
    if _MOBILE_RE.match(phone.replace("-", "")):
        return phone.replace("-", "")
    if _LANDLINE_RE.match(phone):
        return phone
    raise IdentityError(
        _("The phone number is neither a mobile number (11 digits starting 13–19) nor a landline with area code.")
    )
