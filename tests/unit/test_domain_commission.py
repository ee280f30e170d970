"""Pure rules of affiliates and refunds: commission amounts, the refund's expiry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.affiliate_models import Affiliate
from domain.affiliates import commission_for, in_window
from domain.customers import Customer
from domain.rewards import REFUND_GRACE, refund_expiry

D = Decimal


def _affiliate(kind: str, percent: str = "5", fixed: str = "0", window: int = 60) -> Affiliate:
    return Affiliate(commission_type=kind, commission_percent=D(percent), commission_fixed=D(fixed), window_days=window)


@pytest.mark.parametrize(
    ("percent", "amount", "first", "expected"),
    [
        ("5", "1000", True, "50.00"),
        ("5", "1000", False, "50.00"),
        ("7.5", "333.33", False, "25.00"),
        ("0", "500", True, "0.00"),
    ],
)
def test_percent_commission_on_every_purchase_rounded_to_paise(
    percent: str, amount: str, first: bool, expected: str
) -> None:
    assert commission_for(_affiliate("percent", percent), D(amount), first) == D(expected)


def test_fixed_commission_only_for_the_first_purchase() -> None:
    affiliate = _affiliate("fixed", fixed="150")
    assert commission_for(affiliate, D("99999"), True) == D("150.00")
    assert commission_for(affiliate, D("99999"), False) == D("0.00")


def test_attribution_window_is_half_open() -> None:
    start = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    customer = Customer(affiliate_attributed_at=start)
    affiliate = _affiliate("percent", window=60)
    assert in_window(affiliate, customer, start)
    assert in_window(affiliate, customer, start + dt.timedelta(days=60) - dt.timedelta(microseconds=1))
    assert not in_window(affiliate, customer, start + dt.timedelta(days=60))
    # An ERP order dated earlier the same day (date without time) still counts.
    assert in_window(affiliate, customer, start - dt.timedelta(hours=12))
    assert not in_window(affiliate, customer, start - dt.timedelta(days=2))
    assert not in_window(affiliate, Customer(affiliate_attributed_at=None), start)


def test_refund_keeps_the_spent_points_expiry_or_gets_a_grace_period() -> None:
    now = dt.datetime(2026, 6, 15, tzinfo=dt.UTC)
    later = now + dt.timedelta(days=90)
    assert refund_expiry(later, now) == later
    assert refund_expiry(now - dt.timedelta(days=1), now) == now + REFUND_GRACE
    assert refund_expiry(now, now) == now + REFUND_GRACE
    assert refund_expiry(None, now) is None
