"""Password rules for 等保 level 3, next to Django's length, common-password and similarity validators:
complexity (character classes) and no reuse of recent passwords."""

import string

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from fengqiao.security import clock
from fengqiao.security.models import PasswordHistory

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


class PasswordHistoryValidator:
    """A new password may not be the current one nor one of the user's last ``settings.PASSWORD_HISTORY``
    (0: no check). Each former password costs one hash check, so N stays small.

    Django calls `password_changed` whenever a password set with `set_password` is saved: the new hash is added
    to the user's history there and the history is cut to N rows."""

    def count(self):
        return max(0, int(getattr(settings, "PASSWORD_HISTORY", 0)))

    def validate(self, password, user=None):
        n = self.count()
        if n == 0 or user is None or user.pk is None:
            return
        former = list(PasswordHistory.objects.filter(user=user).values_list("password_hash", flat=True)[:n])
        stored = get_user_model()._default_manager.filter(pk=user.pk).values_list("password", flat=True).first()
        hashes = dict.fromkeys([h for h in (stored, *former) if h])  # the current one first; no hash twice
        if any(check_password(password, encoded) for encoded in hashes):
            raise ValidationError(
                _("You used this password recently: choose one that is not among your last %(n)d passwords.")
                % {"n": n},
                code="password_reused",
            )

    def password_changed(self, password, user=None):
        n = self.count()
        if n == 0 or user is None or user.pk is None:
            return
        PasswordHistory.objects.create(user=user, password_hash=user.password, set_at=clock.now())
        keep = PasswordHistory.objects.filter(user=user).values_list("pk", flat=True)[:n]
        PasswordHistory.objects.filter(user=user).exclude(pk__in=list(keep)).delete()

    def get_help_text(self):
        n = self.count()
        if n == 0:
            return ""
        return _("Your password cannot be one of your last %(n)d passwords.") % {"n": n}
