"""Phone numbers in any shape become one E.164 customer; bad ones are refused with a reason."""

from __future__ import annotations

import pytest

from domain.errors import InvalidPhone
from domain.phones import mask_phone, normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["098123 45678", "+91-98123-45678", "919812345678", "9812345678", "+91 (98123) 45678", "0091 98123 45678"],
)
def test_the_formats_staff_erp_and_whatsapp_use_are_one_number(raw: str) -> None:
    assert normalize_phone(raw, 91) == "+919812345678"


def test_a_foreign_number_with_plus_keeps_its_country() -> None:
    assert normalize_phone("+44 7911 123456", 91) == "+447911123456"


def test_whatsapp_wa_id_of_a_foreign_number() -> None:
    assert normalize_phone("447911123456", 91) == "+447911123456"


def test_default_country_code_is_used_for_local_numbers() -> None:
    assert normalize_phone("07911 123456", 44) == "+447911123456"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "no phone number given"),
        (None, "no phone number given"),
        ("   ", "no phone number given"),
        ("98123abc78", "only digits"),
        ("+91 98123", "too few digits"),
        ("12345", "too few digits"),
        ("981234567890123", "too many digits"),
        ("+999 1234567", "unknown country code"),
    ],
)
def test_invalid_numbers_are_refused_with_a_clear_reason(raw: str | None, reason: str) -> None:
    with pytest.raises(InvalidPhone, match=reason):
        normalize_phone(raw, 91)


def test_mask_keeps_country_and_last_four_digits() -> None:
    assert mask_phone("+919812345678") == "+91******5678"
