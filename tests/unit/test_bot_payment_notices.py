"""The member's notices after a points payment at a till: what was paid, or why nothing was, and the balance."""

from __future__ import annotations

import pytest

from bot import notify
from bot.texts import texts_for
from domain.customers import Customer
from domain.notifications import KINDS

CONFIG = {"DEFAULT_LOCALE": "en_IN", "CURRENCY": "INR"}


def asha() -> Customer:
    return Customer(name="Asha Verma", points_balance=1380)


def test_every_notification_kind_renders() -> None:
    assert set(notify.RENDERERS) == set(KINDS)


def test_a_capture_says_what_was_paid_where_and_the_balance() -> None:
    t = texts_for("en", CONFIG)
    body, params = notify.points_paid(t, asha(), {"points": 1200, "returned": 0, "store": "FC Road", "balance": 1380})
    assert body == "You paid 1,200 points at FC Road.\nYour balance: 1,380 points."
    assert params == ("Asha", "1,200", "1,380")
    body, _ = notify.points_paid(t, asha(), {"points": 1, "returned": 20, "store": None, "balance": 9})
    assert body.splitlines() == [
        "You paid 1 point at the till.",
        "20 held points were not needed and are yours again.",
        "Your balance: 9 points.",
    ]


@pytest.mark.parametrize(
    ("why", "first"),
    [
        ("till", "The payment of 120 points at the till was cancelled, so nothing was paid."),
        ("expired", "The payment of 120 points at the till was not completed in time, so nothing was paid."),
        (
            "too many wrong codes",
            "The payment of 120 points at the till was cancelled after too many wrong codes; nothing was paid.",
        ),
    ],
)
def test_a_release_says_why_nothing_was_paid(why: str, first: str) -> None:
    body, params = notify.points_released(texts_for("en", CONFIG), asha(), {"points": 120, "balance": 500, "why": why})
    assert body.splitlines() == [first, "Your balance: 500 points."]
    assert params == ("Asha", "120", "500")


def test_the_notices_in_hindi() -> None:
    t = texts_for("hi", CONFIG)
    paid, _ = notify.points_paid(t, asha(), {"points": 120, "store": "FC Road", "balance": 380})
    assert paid.splitlines()[0] == "आपने FC Road पर 120 अंकों से भुगतान किया।"
    back, _ = notify.points_released(t, asha(), {"points": 120, "balance": 500, "why": "expired"})
    assert back.splitlines()[0] == "काउंटर पर 120 अंकों का भुगतान समय पर पूरा नहीं हुआ, इसलिए कोई भुगतान नहीं हुआ।"
