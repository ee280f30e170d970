"""Tier thresholds, progress to the next tier, and month arithmetic for expiry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.rules import ProgramRules
from domain.tiers import progress, tier_for_spend
from domain.timeutil import add_months

THRESHOLDS = ProgramRules().tier_thresholds
D = Decimal


@pytest.mark.parametrize(
    ("spend", "tier"),
    [
        ("-100", "silver"),
        ("0", "silver"),
        ("24999.99", "silver"),
        ("25000", "gold"),
        ("25000.00", "gold"),
        ("74999.99", "gold"),
        ("75000", "platinum"),
        ("1000000", "platinum"),
    ],
)
def test_tier_for_spend_at_exact_thresholds(spend: str, tier: str) -> None:
    assert tier_for_spend(D(spend), THRESHOLDS) == tier


def test_progress_tells_how_far_the_next_tier_is() -> None:
    p = progress("silver", D("20000"), THRESHOLDS)
    assert (p.next_tier, p.spend_to_next) == ("gold", D("5000"))
    p = progress("gold", D("30000.50"), THRESHOLDS)
    assert (p.next_tier, p.spend_to_next) == ("platinum", D("44999.50"))


def test_progress_at_the_top_has_no_next_tier() -> None:
    p = progress("platinum", D("90000"), THRESHOLDS)
    assert (p.next_tier, p.spend_to_next) == (None, D(0))


def test_progress_never_negative_while_a_downgrade_waits_for_review() -> None:
    p = progress("silver", D("30000"), THRESHOLDS)
    assert p.spend_to_next == D(0)


def _at(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, 13, 45, 10, 123456, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (_at(2026, 1, 15), 12, _at(2027, 1, 15)),
        (_at(2026, 1, 31), 1, _at(2026, 2, 28)),
        (_at(2028, 1, 31), 1, _at(2028, 2, 29)),
        (_at(2028, 2, 29), 12, _at(2029, 2, 28)),
        (_at(2026, 3, 31), 1, _at(2026, 4, 30)),
        (_at(2026, 11, 30), 3, _at(2027, 2, 28)),
        (_at(2026, 12, 31), 1, _at(2027, 1, 31)),
        (_at(2026, 5, 31), -3, _at(2026, 2, 28)),
        (_at(2026, 1, 10), 0, _at(2026, 1, 10)),
    ],
)
def test_add_months_clamps_to_the_last_day_and_keeps_the_time(
    start: dt.datetime, months: int, expected: dt.datetime
) -> None:
    assert add_months(start, months) == expected
