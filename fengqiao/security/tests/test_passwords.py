"""The password policy (等保 level 3): length, common passwords, all-digit passwords, character classes."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from fengqiao.security.validators import CharacterClassesValidator


@pytest.mark.parametrize(
    "weak",
    ["Ab1!", "password123", "12345678901234", "abcdefghijkl", "abcdefgh1234", "ABCDEFGH!!!!"],
    ids=["short", "common", "numeric", "one-class", "two-classes", "two-classes-upper-symbol"],
)
def test_weak_passwords_are_refused(weak):
    with pytest.raises(ValidationError):
        validate_password(weak)


@pytest.mark.parametrize("strong", ["fengqiao-demo-Qy6913", "Tangtang2026zhen", "绿水青山-jinshan-2026"])
def test_long_passwords_with_three_character_classes_are_accepted(strong):
    validate_password(strong)


def test_the_complexity_validator_says_what_is_missing():
    with pytest.raises(ValidationError) as exc:
        CharacterClassesValidator(min_classes=4).validate("Abcdefgh1234")
    assert exc.value.error_list[0].code == "password_too_simple"
    CharacterClassesValidator(min_classes=4).validate("Abcdefgh1234!")
