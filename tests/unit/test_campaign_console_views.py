"""How the WhatsApp campaign pages say things: durations, segments in words, staff numbers."""

from __future__ import annotations

import pytest

from admin.campaign_views import describe, duration, reason_label
from domain.campaign_test_send import staff_numbers
from domain.errors import InvalidPhone, ValidationError


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0, "0 s"), (59, "59 s"), (60, "1 min"), (150, "2 min 30 s"), (3600, "1 h 0 min"), (5430, "1 h 30 min")],
)
def test_durations(seconds: int, said: str) -> None:
    assert duration(seconds) == said


def test_a_segment_in_words() -> None:
    assert describe({}) == ["Every member who may get marketing"]
    lines = describe(
        {
            "tiers": ["gold", "platinum"],
            "max_points": 500,
            "last_purchase_after": "2026-05-31T18:30:00+00:00",
            "spend_min": "1000",
            "spend_days": 30,
            "affiliate_referred": True,
            "birthday_months": [1, 12],
        },
        money=lambda amount: f"Rs {amount}",
    )
    assert lines == [
        "Tier: Gold, Platinum",
        "Points at most 500",
        "Bought since 2026-06-01",  # the day in Asia/Kolkata
        "Spent at least Rs 1000 in the last 30 days",
        "Joined through an affiliate",
        "Birthday in Jan, Dec",
    ]


def test_reasons_have_names_and_unknown_codes_say_the_code() -> None:
    assert reason_label("capped") == "Weekly frequency cap"
    assert reason_label("131026") == "Undeliverable (131026)"
    assert reason_label("999") == "Error 999"


def test_staff_numbers_in_any_format_once_each() -> None:
    assert staff_numbers("098765 43210\n+91 98765-43210, 9876500001", 91) == ["+919876543210", "+919876500001"]
    with pytest.raises(ValidationError, match="at least one"):
        staff_numbers(" , ", 91)
    with pytest.raises(ValidationError, match="at most 5"):
        staff_numbers(",".join(f"98765{n:05d}" for n in range(6)), 91)
    with pytest.raises(InvalidPhone):
        staff_numbers("12", 91)
