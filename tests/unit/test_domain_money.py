"""One money formatter for the bot and the console (Babel, the shop's locale and currency)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.texts import texts_for
from domain.money import format_money


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("426.25"), "₹426.25"),
        (Decimal("123456"), "₹1,23,456.00"),
        (Decimal("12345678.9"), "₹1,23,45,678.90"),
        (0, "₹0.00"),
        (Decimal("-50"), "-₹50.00"),
    ],
)
def test_the_console_writes_money_for_en_in(amount: Decimal, expected: str) -> None:
    assert format_money(amount, "INR", "en_IN") == expected


def test_other_locales_and_currencies() -> None:
    assert format_money(Decimal("1234.5"), "USD", "en_US") == "$1,234.50"
    assert format_money(Decimal("1234.5"), "EUR", "de_DE") == "1.234,50\xa0€"


def test_the_bot_shares_it_and_drops_zero_paise_in_chat() -> None:
    t = texts_for("en", {"DEFAULT_LOCALE": "en_IN", "CURRENCY": "INR"})
    assert t.money(Decimal("25000")) == "₹25,000" == format_money(25000, "INR", "en_IN", drop_zero_paise=True)
    assert t.money(Decimal("426.25")) == "₹426.25"
