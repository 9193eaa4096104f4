"""The unified social credit code of an organisation (统一社会信用代码, GB 32100-2015).

18 characters from a 31-character alphabet (digits and capitals without I, O, Z, S, V): registering authority,
organisation type, 6-digit division code, 9-character organisation code, and a check character (MOD 31).
"""

import re

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
_RE = re.compile(rf"^[{ALPHABET}]{{18}}$")


class CreditCodeError(ValueError):
    pass


def credit_check_char(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def parse_credit_code(value) -> str:
    """The normalised code (stripped, upper case), or CreditCodeError saying what is wrong."""
    code = "".join(str(value or "").split()).upper()
    if not _RE.match(code):
        raise CreditCodeError(
            "a unified social credit code has 18 characters: digits and capitals except I, O, Z, S, V"
        )
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        raise CreditCodeError(f"the check character is {code[17]}, expected {expected} (a typing error?)")
    return code
