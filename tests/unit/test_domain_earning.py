"""Earn rules: rounding down once per order, multipliers, campaigns, proportional returns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.earning import CampaignTerms, Line, points_for_order, points_kept_after_return
from domain.rules import ProgramRules

RULES = ProgramRules()
D = Decimal


@pytest.mark.parametrize(
    ("amount", "points"),
    [("0", 0), ("0.01", 0), ("99.99", 0), ("100", 1), ("100.00", 1), ("199.99", 1), ("200", 2), ("24999.99", 249)],
)
def test_one_point_per_100_inr_rounded_down(amount: str, points: int) -> None:
    assert points_for_order(RULES, D(amount), [], "silver") == points


def test_negative_amount_earns_nothing() -> None:
    assert points_for_order(RULES, D("-500"), [], "silver") == 0


@pytest.mark.parametrize(("tier", "points"), [("silver", 10), ("gold", 12), ("platinum", 15), ("unknown", 10)])
def test_tier_multiplier_applies_before_rounding(tier: str, points: int) -> None:
    # 1000 INR: 10 x 1.25 = 12.5 -> 12 for gold.
    assert points_for_order(RULES, D("1000"), [], tier) == points


def test_rounding_happens_once_per_order_not_per_line() -> None:
    lines = [Line(D("150")), Line(D("150"))]
    assert points_for_order(RULES, D("300"), lines, "silver") == 3  # per line it would be 1 + 1


def test_discounted_bill_split_in_thirds_keeps_its_exact_value() -> None:
    lines = [Line(D("100")), Line(D("100")), Line(D("100"))]
    # Lines add to 300 but the bill, after discount, is 100: still exactly 1 point, not 0.
    assert points_for_order(RULES, D("100"), lines, "silver") == 1


def test_category_multiplier_weights_its_lines_only() -> None:
    rules = ProgramRules(category_multipliers={"footwear": D("2")})
    lines = [Line(D("1000"), "Footwear"), Line(D("1000"), "apparel")]
    assert points_for_order(rules, D("2000"), lines, "silver") == 30


def test_category_multiplier_scaled_to_the_discounted_net_amount() -> None:
    rules = ProgramRules(category_multipliers={"footwear": D("2")})
    lines = [Line(D("1000"), "footwear"), Line(D("1000"), "apparel")]
    # Net is half the lines: (500 x 2 + 500) / 100 = 15.
    assert points_for_order(rules, D("1000"), lines, "silver") == 15


def test_campaign_multiplier_and_bonus() -> None:
    diwali = CampaignTerms(multiplier=D("2"), bonus_points=25, name="Diwali")
    assert points_for_order(RULES, D("1000"), [], "silver", [diwali]) == 20 + 25


def test_campaign_minimum_amount() -> None:
    big_spend = CampaignTerms(multiplier=D("3"), bonus_points=10, min_amount=D("5000"))
    assert points_for_order(RULES, D("4999"), [], "silver", [big_spend]) == 49
    assert points_for_order(RULES, D("5000"), [], "silver", [big_spend]) == 150 + 10


def test_category_campaign_only_multiplies_its_category_and_gives_its_bonus_when_bought() -> None:
    shoes = CampaignTerms(multiplier=D("3"), bonus_points=5, category="Footwear")
    with_shoes = [Line(D("1000"), "footwear"), Line(D("1000"), "apparel")]
    without = [Line(D("2000"), "apparel")]
    assert points_for_order(RULES, D("2000"), with_shoes, "silver", [shoes]) == 30 + 10 + 5
    assert points_for_order(RULES, D("2000"), without, "silver", [shoes]) == 20


def test_campaigns_multiply_together_with_the_tier() -> None:
    a = CampaignTerms(multiplier=D("2"))
    b = CampaignTerms(multiplier=D("1.5"))
    # 1000 INR gold: 10 x 2 x 1.5 x 1.25 = 37.5 -> 37
    assert points_for_order(RULES, D("1000"), [], "gold", iter([a, b])) == 37


def test_earn_rate_is_configurable() -> None:
    rules = ProgramRules(points_per_unit=3, spend_unit=D("50"))
    assert points_for_order(rules, D("149.99"), [], "silver") == 8  # 8.9994 -> 8


def test_shop_local_date_decides_the_campaign_day() -> None:
    # 20:00 UTC on 31 Oct is 01:30 on 1 Nov in India.
    assert RULES.local_date(dt.datetime(2026, 10, 31, 20, 0, tzinfo=dt.UTC)) == dt.date(2026, 11, 1)
    assert RULES.local_date(dt.datetime(2026, 10, 31, 18, 29, tzinfo=dt.UTC)) == dt.date(2026, 10, 31)


@pytest.mark.parametrize(
    ("returned", "kept"),
    [("0", 100), ("1", 99), ("250", 75), ("333.33", 66), ("999.99", 0), ("1000", 0), ("1500", 0)],
)
def test_points_kept_after_return_are_proportional_and_rounded_down(returned: str, kept: int) -> None:
    assert points_kept_after_return(100, D("1000"), D(returned)) == kept


def test_cumulative_partial_returns_equal_one_full_return() -> None:
    awarded, net = 37, D("3700")
    first = awarded - points_kept_after_return(awarded, net, D("1234.56"))
    second = points_kept_after_return(awarded, net, D("1234.56")) - points_kept_after_return(awarded, net, D("3700"))
    assert first + second == awarded


def test_zero_amount_order_keeps_nothing() -> None:
    assert points_kept_after_return(10, D("0"), D("0")) == 0
