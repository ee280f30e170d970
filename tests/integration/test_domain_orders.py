"""Orders into points: returns, cancellations, corrections, campaigns, tiers."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from domain import ledger, orders, tiers
from domain.customers import Customer
from domain.db import Database
from domain.earning import Campaign
from domain.errors import NotFound, ValidationError
from domain.sales import Order, OrderReturn
from tests.domain_factories import (
    NOW,
    RULES,
    balance,
    entries,
    give_points,
    make_customer,
    notifications,
    record_order,
    record_return,
)

DAY = dt.timedelta(days=1)


def _order(database: Database, amount: str = "1000", erp_id: str = "O-1") -> int:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        record_order(s, cid, erp_id, amount)
    return cid


def test_order_earns_points_expiring_months_after_the_sale(database: Database) -> None:
    cid = _order(database, "2550.75")
    with database.unit_of_work() as s:
        (lot,) = entries(s, cid)
        assert (lot.kind, lot.delta, lot.remaining) == ("earn", 25, 25)
        assert lot.expires_at == dt.datetime(2027, 6, 15, 10, 0, tzinfo=dt.UTC)
        (note,) = notifications(s, cid, "points_earned")
        assert note.payload["points"] == 25 and note.payload["balance"] == 25


def test_partial_return_takes_back_points_in_proportion(database: Database) -> None:
    cid = _order(database, "1000")
    with database.unit_of_work() as s:
        assert record_return(s, "R-1", "O-1", "300").value == "created"
    with database.unit_of_work() as s:
        assert balance(s, cid) == (7, 0)
        ret = s.query(OrderReturn).one()
        assert ret.points_clawed == 3
        assert [e.delta for e in entries(s, cid, "clawback")] == [-3]
        assert notifications(s, cid, "points_returned")[0].payload["points"] == 3


def test_full_return_takes_back_everything(database: Database) -> None:
    cid = _order(database, "1000")
    with database.unit_of_work() as s:
        record_return(s, "R-1", "O-1", "1000")
    with database.unit_of_work() as s:
        assert balance(s, cid) == (0, 0)


def test_two_partial_returns_equal_one_full_return(database: Database) -> None:
    cid = _order(database, "999")  # 9 points: 9 x 500/999 is not whole
    with database.unit_of_work() as s:
        record_return(s, "R-1", "O-1", "499.50")
    with database.unit_of_work() as s:
        assert balance(s, cid) == (4, 0)
        record_return(s, "R-2", "O-1", "499.50")
    with database.unit_of_work() as s:
        assert balance(s, cid) == (0, 0)
        assert sum(r.points_clawed for r in s.query(OrderReturn)) == 9
        assert ledger.verify(s) == []


def test_a_return_is_applied_only_once(database: Database) -> None:
    cid = _order(database, "1000")
    with database.unit_of_work() as s:
        record_return(s, "R-1", "O-1", "500")
    with database.unit_of_work() as s:
        assert record_return(s, "R-1", "O-1", "500").value == "unchanged"
    with database.unit_of_work() as s:
        assert balance(s, cid) == (5, 0)
        assert len(entries(s, cid, "clawback")) == 1


def test_a_corrected_return_amount_posts_only_the_difference(database: Database) -> None:
    cid = _order(database, "1000")
    with database.unit_of_work() as s:
        record_return(s, "R-1", "O-1", "500")
    with database.unit_of_work() as s:
        assert record_return(s, "R-1", "O-1", "200").value == "updated"
    with database.unit_of_work() as s:
        assert balance(s, cid) == (8, 0)
        assert s.query(OrderReturn).one().points_clawed == 2


def test_returns_cannot_exceed_the_order_or_be_for_unknown_orders(database: Database) -> None:
    _order(database, "1000")
    with database.unit_of_work() as s:
        record_return(s, "R-1", "O-1", "800")
    with database.unit_of_work() as s, pytest.raises(ValidationError, match="above the order"):
        record_return(s, "R-2", "O-1", "200.01")
    with database.unit_of_work() as s, pytest.raises(NotFound):
        record_return(s, "R-3", "NOPE", "10")
    with database.unit_of_work() as s, pytest.raises(ValidationError):
        record_return(s, "R-4", "O-1", "0")


def test_cancellation_takes_back_all_points(database: Database) -> None:
    cid = _order(database, "1000")
    with database.unit_of_work() as s:
        assert record_order(s, cid, "O-1", "1000", status="cancelled").value == "updated"
    with database.unit_of_work() as s:
        assert balance(s, cid) == (0, 0)
        assert [e.delta for e in entries(s, cid, "clawback")] == [-10]
        # A return after the cancellation takes nothing more.
        record_return(s, "R-1", "O-1", "1000")
    with database.unit_of_work() as s:
        assert balance(s, cid) == (0, 0)
        assert ledger.verify(s) == []


def test_return_of_spent_points_records_what_is_owed_and_never_goes_negative(database: Database) -> None:
    cid = _order(database, "1000")
    with database.unit_of_work() as s:
        ledger.debit(s, ledger.lock_customer(s, cid), kind="redeem", points=8, key="spent", now=NOW)
    with database.unit_of_work() as s:
        record_return(s, "R-1", "O-1", "1000")
    with database.unit_of_work() as s:
        assert balance(s, cid) == (0, 8)
        (claw,) = entries(s, cid, "clawback")
        assert (claw.delta, claw.owed_delta) == (-2, 8)
        assert ledger.verify(s) == []
    with database.unit_of_work() as s:
        give_points(s, cid, 5)  # settles 5 of the 8 owed
    with database.unit_of_work() as s:
        assert balance(s, cid) == (0, 3)
        give_points(s, cid, 10)
    with database.unit_of_work() as s:
        assert balance(s, cid) == (7, 0)
        assert ledger.verify(s) == []


def test_order_amount_change_is_corrected_by_the_difference(database: Database) -> None:
    cid = _order(database, "1000")
    with database.unit_of_work() as s:
        assert record_order(s, cid, "O-1", "1500").value == "updated"
    with database.unit_of_work() as s:
        assert balance(s, cid) == (15, 0)
        record_order(s, cid, "O-1", "1200")
    with database.unit_of_work() as s:
        assert balance(s, cid) == (12, 0)
        assert [e.delta for e in entries(s, cid)] == [10, 5, -3]
        assert s.query(Order).one().revision == 2


def test_order_cannot_move_to_another_customer(database: Database) -> None:
    _order(database, "1000")
    with database.unit_of_work() as s:
        other = make_customer(s).id
    with database.unit_of_work() as s, pytest.raises(ValidationError, match="another customer"):
        record_order(s, other, "O-1", "1000")


def test_invalid_orders_are_refused(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        with pytest.raises(ValidationError, match="negative"):
            record_order(s, cid, "X", "-1")
        with pytest.raises(ValidationError, match="status"):
            record_order(s, cid, "Y", "10", status="refunded")


def test_a_return_after_the_earn_rate_changed_never_gives_points(database: Database) -> None:
    cid = _order(database, "1000")
    doubled = dataclasses.replace(RULES, points_per_unit=2)
    with database.unit_of_work() as s:
        record_return(s, "R-1", "O-1", "100", rules=doubled)
    with database.unit_of_work() as s:
        assert balance(s, cid) == (9, 0)
        assert entries(s, cid, "earn")[0].delta == 10 and len(entries(s, cid, "earn")) == 1


def test_order_first_recorded_cancelled_earns_when_completed(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        record_order(s, cid, "O-1", "1000", status="cancelled")
    with database.unit_of_work() as s:
        assert balance(s, cid) == (0, 0)
        record_order(s, cid, "O-1", "1000")
    with database.unit_of_work() as s:
        assert balance(s, cid) == (10, 0)

        assert s.get(Customer, cid).first_purchase_at == NOW  # type: ignore[union-attr]


def _campaign(s: object, **kw: object) -> None:
    values: dict[str, object] = {
        "name": "Diwali",
        "starts_on": dt.date(2026, 11, 1),
        "ends_on": dt.date(2026, 11, 5),
        "multiplier": Decimal("2"),
        "bonus_points": 0,
        "min_amount": 0,
        "active": True,
    }
    values.update(kw)
    s.add(Campaign(**values))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("when", "points"),
    [
        (dt.datetime(2026, 10, 31, 18, 29, tzinfo=dt.UTC), 10),  # 23:59 on 31 Oct in India
        (dt.datetime(2026, 10, 31, 18, 30, tzinfo=dt.UTC), 20),  # 00:00 on 1 Nov in India
        (dt.datetime(2026, 11, 5, 18, 29, tzinfo=dt.UTC), 20),  # last minute of 5 Nov
        (dt.datetime(2026, 11, 5, 18, 30, tzinfo=dt.UTC), 10),
    ],
)
def test_campaign_runs_on_its_shop_local_dates(database: Database, when: dt.datetime, points: int) -> None:
    with database.unit_of_work() as s:
        _campaign(s)
        cid = make_customer(s).id
        record_order(s, cid, "O-1", "1000", when=when)
    with database.unit_of_work() as s:
        assert balance(s, cid) == (points, 0)


def test_category_campaign_and_inactive_campaigns(database: Database) -> None:
    when = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)
    lines = (orders.LineData(1, Decimal("600"), category="Footwear"), orders.LineData(2, Decimal("400"), "apparel"))
    with database.unit_of_work() as s:
        _campaign(s, category="footwear", multiplier=Decimal("3"), bonus_points=7)
        _campaign(s, name="Off", active=False, multiplier=Decimal("10"))
        cid = make_customer(s).id
        record_order(s, cid, "O-1", "1000", when=when, lines=lines)
    with database.unit_of_work() as s:
        assert balance(s, cid) == (18 + 4 + 7, 0)


def test_tier_upgrades_at_once_and_downgrades_only_at_review(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        record_order(s, cid, "O-1", "24999.99", when=NOW - 300 * DAY)
    with database.unit_of_work() as s:
        assert s.get(Customer, cid).tier == "silver"  # type: ignore[union-attr]
        record_order(s, cid, "O-2", "0.01", when=NOW)
    with database.unit_of_work() as s:
        customer = s.get(Customer, cid)
        assert customer is not None and customer.tier == "gold"
        (note,) = notifications(s, cid, "tier_changed")
        assert note.payload == {"from": "silver", "to": "gold", "upgrade": True}
        # The order that crossed the line earned at the old tier; the next earns at gold.
        record_order(s, cid, "O-3", "1000", when=NOW)
    with database.unit_of_work() as s:
        assert entries(s, cid, "earn")[-1].delta == 12
    later = NOW + 100 * DAY  # O-1 leaves the 12-month window: spend is now 1000.01
    with database.unit_of_work() as s:
        record_order(s, cid, "O-4", "100", when=later)
        customer = s.get(Customer, cid)
        assert customer is not None and customer.tier == "gold"  # no downgrade outside the review
        assert tiers.evaluate(s, customer, RULES, later) is None
    with database.unit_of_work() as s:
        assert tiers.review(s, RULES, later) == (cid, 1)
    with database.unit_of_work() as s:
        customer = s.get(Customer, cid)
        assert customer is not None and customer.tier == "silver"
        assert [n.payload["upgrade"] for n in notifications(s, cid, "tier_changed")] == [True, False]


def test_returns_lower_the_rolling_spend(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        record_order(s, cid, "O-1", "30000")
        record_order(s, cid, "O-2", "5000", status="cancelled")
    with database.unit_of_work() as s:
        record_return(s, "R-1", "O-1", "10000")
    with database.unit_of_work() as s:
        assert tiers.rolling_spend(s, cid, NOW, 365) == Decimal("20000.00")
        assert s.get(Customer, cid).tier == "gold"  # type: ignore[union-attr]
        tiers.review(s, RULES, NOW)
    with database.unit_of_work() as s:
        assert s.get(Customer, cid).tier == "silver"  # type: ignore[union-attr]


def test_changed_lines_replace_the_old_ones(database: Database) -> None:
    first = (orders.LineData(1, Decimal("600"), category="footwear"), orders.LineData(2, Decimal("400")))
    second = (orders.LineData(1, Decimal("700"), category="footwear"), orders.LineData(2, Decimal("300")))
    rules = dataclasses.replace(RULES, category_multipliers={"footwear": Decimal("2")})
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        record_order(s, cid, "O-1", "1000", lines=first, rules=rules)
    with database.unit_of_work() as s:
        assert balance(s, cid) == (16, 0)
        assert record_order(s, cid, "O-1", "1000", lines=second, rules=rules).value == "updated"
    with database.unit_of_work() as s:
        assert balance(s, cid) == (17, 0)
        assert [(ln.line_no, ln.amount) for ln in s.query(Order).one().lines] == [
            (1, Decimal("700.00")),
            (2, Decimal("300.00")),
        ]
