"""The points ledger on SQLite and PostgreSQL: idempotency, FIFO lots, expiry, warnings, verify."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from domain import expiry, ledger
from domain.audit import AuditEntry
from domain.customers import Customer
from domain.db import Database
from domain.errors import InsufficientPoints, ValidationError
from domain.ledger import LedgerEntry
from tests.domain_factories import NOW, balance, entries, give_points, make_customer, notifications, record_order

US = dt.timedelta(microseconds=1)
DAY = dt.timedelta(days=1)


def test_same_order_applied_twice_is_a_no_op(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        assert record_order(s, cid, "A-1", "1000").value == "created"
    with database.unit_of_work() as s:
        assert record_order(s, cid, "A-1", "1000").value == "unchanged"
    with database.unit_of_work() as s:
        assert balance(s, cid) == (10, 0)
        assert [(e.kind, e.delta, e.idempotency_key) for e in entries(s, cid)] == [("earn", 10, "erp:order:A-1")]
        assert len(notifications(s, cid, "points_earned")) == 1
        assert ledger.verify(s) == []


def test_a_key_is_applied_once_even_with_other_points(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        give_points(s, cid, 50, key="erp:order:9")
        again = give_points(s, cid, 70, key="erp:order:9")
        assert again.delta == 50
        assert balance(s, cid) == (50, 0)


def test_credit_and_debit_refuse_nonsense(database: Database) -> None:
    with database.unit_of_work() as s:
        customer = make_customer(s)
        with pytest.raises(ValidationError):
            ledger.credit(s, customer, kind="redeem", points=5, key="k1", now=NOW, expires_at=None)
        with pytest.raises(ValidationError):
            ledger.credit(s, customer, kind="earn", points=0, key="k2", now=NOW, expires_at=None)
        with pytest.raises(ValidationError):
            ledger.debit(s, customer, kind="earn", points=5, key="k3", now=NOW)


def test_spending_takes_the_soonest_expiring_points_first(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        late = give_points(s, cid, 100, expires_at=NOW + 300 * DAY).id
        early = give_points(s, cid, 30, expires_at=NOW + 10 * DAY).id
        forever = give_points(s, cid, 40, expires_at=NOW + 9999 * DAY).id
        customer = ledger.lock_customer(s, cid)
        ledger.debit(s, customer, kind="redeem", points=50, key="spend-1", now=NOW)
    with database.unit_of_work() as s:
        remaining = {e.id: e.remaining for e in entries(s, cid)}
        assert (remaining[early], remaining[late], remaining[forever]) == (0, 80, 40)
        assert balance(s, cid) == (120, 0)


def test_debit_beyond_the_balance_is_refused_saying_how_many_more(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        give_points(s, cid, 60)
    with database.unit_of_work() as s, pytest.raises(InsufficientPoints, match="40 more needed") as info:
        ledger.debit(s, ledger.lock_customer(s, cid), kind="redeem", points=100, key="too-much", now=NOW)
    assert info.value.details["short"] == 40
    with database.unit_of_work() as s:
        assert balance(s, cid) == (60, 0)


def test_points_expire_exactly_at_their_expiry_time(database: Database) -> None:
    expires = NOW + 30 * DAY
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        give_points(s, cid, 25, expires_at=expires)
    with database.unit_of_work() as s:
        assert expiry.expire_due(s, expires - US) == 0
    with database.unit_of_work() as s:
        assert balance(s, cid) == (25, 0)
        assert expiry.expire_due(s, expires) == 1
    with database.unit_of_work() as s:
        assert balance(s, cid) == (0, 0)
        assert [(e.kind, e.delta) for e in entries(s, cid, "expire")] == [("expire", -25)]
        assert expiry.expire_due(s, expires + US) == 0  # a rerun expires nothing twice
        assert ledger.verify(s) == []


def test_only_what_is_left_of_a_partly_spent_lot_expires(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        give_points(s, cid, 100, expires_at=NOW + 5 * DAY)
        give_points(s, cid, 50, expires_at=NOW + 50 * DAY)
        ledger.debit(s, ledger.lock_customer(s, cid), kind="redeem", points=70, key="spend", now=NOW)
    with database.unit_of_work() as s:
        assert expiry.expire_due(s, NOW + 6 * DAY) == 1
    with database.unit_of_work() as s:
        assert [e.delta for e in entries(s, cid, "expire")] == [-30]
        assert balance(s, cid) == (50, 0)
        assert ledger.verify(s) == []


def test_expiry_is_oldest_first_and_leaves_later_lots(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        give_points(s, cid, 10, expires_at=NOW + 1 * DAY)
        give_points(s, cid, 20, expires_at=NOW + 2 * DAY)
        give_points(s, cid, 40, expires_at=NOW + 3 * DAY)
    with database.unit_of_work() as s:
        expiry.expire_due(s, NOW + 2 * DAY)
    with database.unit_of_work() as s:
        assert sorted(e.delta for e in entries(s, cid, "expire")) == [-20, -10]
        assert balance(s, cid) == (40, 0)


def test_expiry_works_in_batches(database: Database) -> None:
    with database.unit_of_work() as s:
        ids = [make_customer(s).id for _ in range(5)]
        for cid in ids:
            give_points(s, cid, 10, expires_at=NOW)
    done = []
    while True:
        with database.unit_of_work() as s:
            n = expiry.expire_due(s, NOW, batch=2)
        done.append(n)
        if n == 0:
            break
    assert done == [2, 2, 1, 0]


def test_expiring_soon_for_the_customers_own_view(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        give_points(s, cid, 30, expires_at=NOW + 3 * DAY)
        give_points(s, cid, 10, expires_at=NOW + 20 * DAY)
    with database.unit_of_work() as s:
        soon = expiry.expiring_soon(s, cid, NOW, 7)
        assert soon is not None and (soon.points, soon.expires_at) == (30, NOW + 3 * DAY)
        assert expiry.expiring_soon(s, cid, NOW, 1) is None


def test_manual_adjustment_writes_ledger_and_audit(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        ledger.adjust(s, cid, 75, reason="goodwill", actor="asha@shop", key="adj-1", now=NOW, expires_at=None)
        ledger.adjust(s, cid, -25, reason="typo", actor="asha@shop", key="adj-2", now=NOW, expires_at=None)
        ledger.adjust(s, cid, 75, reason="goodwill", actor="asha@shop", key="adj-1", now=NOW, expires_at=None)
    with database.unit_of_work() as s:
        assert balance(s, cid) == (50, 0)
        rows = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        assert [(r.actor, r.action, r.entity_id, r.reason, r.details["points"]) for r in rows] == [
            ("asha@shop", "points.adjust", str(cid), "goodwill", 75),
            ("asha@shop", "points.adjust", str(cid), "typo", -25),
        ]
        assert all(r.created_at == NOW for r in rows)


def test_manual_adjustment_needs_a_reason_and_a_change(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        with pytest.raises(ValidationError, match="reason"):
            ledger.adjust(s, cid, 5, reason=" ", actor="x", key="a", now=NOW, expires_at=None)
        with pytest.raises(ValidationError):
            ledger.adjust(s, cid, 0, reason="why", actor="x", key="b", now=NOW, expires_at=None)
        with pytest.raises(InsufficientPoints):
            ledger.adjust(s, cid, -5, reason="why", actor="x", key="c", now=NOW, expires_at=None)


def test_verify_is_clean_then_finds_a_corrupted_cached_balance(database: Database) -> None:
    with database.unit_of_work() as s:
        a = make_customer(s).id
        b = make_customer(s).id
        give_points(s, a, 40)
        give_points(s, b, 10)
        assert ledger.verify(s) == []
    with database.unit_of_work() as s:
        s.execute(update(Customer).where(Customer.id == b).values(points_balance=11))
    with database.unit_of_work() as s:
        (drift,) = ledger.verify(s)
        assert (drift.customer_id, drift.cached_balance, drift.ledger_balance, drift.lots_remaining) == (b, 11, 10, 10)


def test_verify_finds_lots_that_disagree_with_the_deltas(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        lot = give_points(s, cid, 40)
    with database.unit_of_work() as s:
        s.execute(update(LedgerEntry).where(LedgerEntry.id == lot.id).values(remaining=39))
    with database.unit_of_work() as s:
        assert [d.lots_remaining for d in ledger.verify(s)] == [39]


def test_history_newest_first(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        give_points(s, cid, 1, now=NOW)
        give_points(s, cid, 2, now=NOW + DAY)
        assert [e.delta for e in ledger.history(s, cid)] == [2, 1]


def test_verify_finds_impossible_lots_even_when_the_sums_agree(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        a = give_points(s, cid, 40)
        b = give_points(s, cid, 10)
    with database.unit_of_work() as s:
        s.execute(update(LedgerEntry).where(LedgerEntry.id == a.id).values(remaining=55))
        s.execute(update(LedgerEntry).where(LedgerEntry.id == b.id).values(remaining=-5))
    with database.unit_of_work() as s:
        (drift,) = ledger.verify(s)
        assert (drift.cached_balance, drift.ledger_balance, drift.lots_remaining, drift.bad_lots) == (50, 50, 50, 2)
