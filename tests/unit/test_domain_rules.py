"""Program rules: defaults from the issue, JSON round trip, validation with clear reasons."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import ValidationError
from domain.rules import ProgramRules


def test_defaults_match_the_issue() -> None:
    rules = ProgramRules()
    assert (rules.points_per_unit, rules.spend_unit) == (1, Decimal("100"))
    assert rules.tier_thresholds == {"silver": 0, "gold": Decimal("25000"), "platinum": Decimal("75000")}
    assert rules.affiliate_window_days == 60
    rules.validate()


def test_json_round_trip_keeps_decimals() -> None:
    rules = ProgramRules(spend_unit=Decimal("50"), category_multipliers={"footwear": Decimal("1.5")})
    again = ProgramRules.from_json(rules.to_json())
    assert again == rules


def test_from_json_coerces_and_ignores_unknown_keys() -> None:
    rules = ProgramRules.from_json({"expiry_months": "6", "category_multipliers": {"Shoes": 2}, "nonsense": 1})
    assert rules.expiry_months == 6
    assert rules.category_multipliers == {"shoes": Decimal("2")}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"spend_unit": "0"}, "spend unit"),
        ({"points_per_unit": -1}, "points per unit"),
        ({"expiry_months": 0}, "expiry"),
        ({"tier_thresholds": {"silver": 0, "gold": 80000, "platinum": 75000}}, "rise"),
        ({"tier_thresholds": {"silver": 10, "gold": 20, "platinum": 30}}, "start at 0"),
        ({"tier_thresholds": {"silver": 0, "gold": 1}}, "silver, gold and platinum"),
        ({"tier_multipliers": {"silver": -1, "gold": 1, "platinum": 1}}, "negative"),
        ({"tier_multipliers": {"diamond": 2}}, "unknown tiers"),
        ({"referrer_bonus": -5}, "bonuses"),
        ({"voucher_valid_days": 0}, "voucher validity"),
        ({"affiliate_window_days": 0}, "affiliate window"),
        ({"affiliate_commission_percent": "101"}, "between 0 and 100"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"currency": "RUPEES"}, "ISO code"),
        ({"expiry_months": "soon"}, "not a valid value"),
    ],
)
def test_invalid_rules_are_refused_with_the_reason(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        ProgramRules.from_json(changes)
