"""Password complexity for 等保 level 3, next to Django's length, common-password and similarity validators."""

import string

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

CLASSES = (
    ("lower", lambda ch: ch.islower()),
    ("upper", lambda ch: ch.isupper()),
    ("digit", lambda ch: ch.isdigit()),
    ("symbol", lambda ch: ch in string.punctuation or not (ch.isalnum() or ch.isspace())),
)


class CharacterClassesValidator:
    """At least `min_classes` of: lower-case letters, upper-case letters, digits, symbols."""

    def __init__(self, min_classes=3):
        self.min_classes = min_classes

    def validate(self, password, user=None):
        used = sum(1 for _name, test in CLASSES if any(test(ch) for ch in password))
        if used < self.min_classes:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self):
        return _(
            "Your password must mix at least %(n)d of: lower-case letters, upper-case letters, digits, symbols."
        ) % {"n": self.min_classes}
