"""Staff passwords: length without the padding, variety, the common list, the email."""

from __future__ import annotations

import pytest

from domain.errors import ValidationError
from domain.passwords import common_passwords, weakness
from domain.users import validate_password


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        (" " * 10, "at least 10 characters"),
        (" " * 30, "at least 10 characters"),
        ("  short  ", "at least 10 characters"),
        ("aaaaaaaaaa", "different characters"),
        ("ababababababab", "different characters"),
        ("1212121212", "different characters"),
        ("1234567890", "most common"),
        ("abcdefghij", "run of keys"),
        ("9876543210", "run of keys"),
        ("qwertyuiop", "most common"),
        ("password123", "most common"),
        ("Password2024!", "most common"),
        ("P@ssw0rd2025", "most common"),
        ("iloveyou!!!", "most common"),
        ("Welcome@123", "most common"),
        ("x" * 201, "at most 200"),
    ],
)
def test_weak_passwords_are_refused(password: str, reason: str) -> None:
    found = weakness(password)
    assert found is not None and reason in found
    with pytest.raises(ValidationError, match=reason):
        validate_password(password)


def test_a_password_made_of_the_email_is_refused() -> None:
    assert weakness("ravishankar2026", "ravishankar@shop.example") is not None
    assert weakness("ravishankar2026", "someone@shop.example") is None


@pytest.mark.parametrize("password", ["correct horse battery", "a much better passphrase", "Tr4m-L1ne-Ch@i"])
def test_good_passwords_pass(password: str) -> None:
    assert weakness(password, "boss@example.com") is None


def test_the_common_list_is_loaded_lower_case() -> None:
    listed = common_passwords()
    assert len(listed) > 250
    assert all(entry == entry.lower() for entry in listed)
