"""Referrals and affiliates: attribution once, abuse refused, bonuses, commission ledger."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from domain import affiliates, ledger, referrals
from domain.affiliate_models import Affiliate, Commission
from domain.audit import AuditEntry
from domain.customers import Customer
from domain.db import Database
from domain.errors import InvalidTransition, ReferralRefused
from tests.domain_factories import (
    NOW,
    RULES,
    balance,
    entries,
    make_customer,
    notifications,
    record_order,
    record_return,
)

DAY = dt.timedelta(days=1)
D = Decimal


def _pair(database: Database) -> tuple[int, int]:
    """An established referrer and a brand-new referee who used their code."""
    with database.unit_of_work() as s:
        referrer = make_customer(s, NOW - 400 * DAY, name="Asha")
        referee = make_customer(s, NOW, name="Ravi")
        assert referrals.apply_code(s, referee, referrer.referral_code.lower(), RULES, NOW) == "customer"
        return referrer.id, referee.id


def test_both_get_their_bonus_on_the_first_qualifying_purchase_once(database: Database) -> None:
    referrer, referee = _pair(database)
    with database.unit_of_work() as s:
        record_order(s, referee, "O-1", "499.99")  # below the 500 minimum
    with database.unit_of_work() as s:
        assert balance(s, referrer) == (0, 0)
        record_order(s, referee, "O-2", "500")
    with database.unit_of_work() as s:
        assert balance(s, referrer) == (100, 0)
        assert balance(s, referee) == (4 + 5 + 50, 0)
        record_order(s, referee, "O-3", "5000")
    with database.unit_of_work() as s:
        assert balance(s, referrer) == (100, 0)
        assert [e.delta for e in entries(s, referee, "referral_bonus")] == [50]
        assert notifications(s, referrer, "referral_bonus")[0].payload["role"] == "referrer"
        assert ledger.verify(s) == []


def test_bonuses_are_configurable(database: Database) -> None:
    referrer, referee = _pair(database)
    rules = dataclasses.replace(RULES, referrer_bonus=7, referee_bonus=0, referral_min_purchase=D(0))
    with database.unit_of_work() as s:
        record_order(s, referee, "O-1", "100", rules=rules)
    with database.unit_of_work() as s:
        assert balance(s, referrer) == (7, 0)
        assert entries(s, referee, "referral_bonus") == []


def test_own_code_is_refused(database: Database) -> None:
    with database.unit_of_work() as s:
        me = make_customer(s)
        with pytest.raises(ReferralRefused, match="own"):
            referrals.apply_code(s, me, me.referral_code, RULES, NOW)


def test_a_customer_is_referred_only_once(database: Database) -> None:
    _, referee = _pair(database)
    with database.unit_of_work() as s:
        other = make_customer(s, NOW - 400 * DAY)
        me = s.get(Customer, referee)
        assert me is not None
        with pytest.raises(ReferralRefused, match="already"):
            referrals.apply_code(s, me, other.referral_code, RULES, NOW)


def test_an_existing_customer_cannot_be_referred(database: Database) -> None:
    with database.unit_of_work() as s:
        referrer = make_customer(s, NOW - 400 * DAY)
        old = make_customer(s, NOW - 31 * DAY)
        with pytest.raises(ReferralRefused, match="new customers"):
            referrals.apply_code(s, old, referrer.referral_code, RULES, NOW)
        buyer = make_customer(s, NOW)
        record_order(s, buyer.id, "O-1", "100")
        with pytest.raises(ReferralRefused, match="new customers"):
            referrals.apply_code(s, buyer, referrer.referral_code, RULES, NOW)


def test_referral_cycles_are_refused(database: Database) -> None:
    with database.unit_of_work() as s:
        a = make_customer(s, NOW)
        b = make_customer(s, NOW)
        c = make_customer(s, NOW)
        referrals.apply_code(s, b, a.referral_code, RULES, NOW)  # a -> b
        referrals.apply_code(s, c, b.referral_code, RULES, NOW)  # b -> c
        with pytest.raises(ReferralRefused, match="loop"):
            referrals.apply_code(s, a, c.referral_code, RULES, NOW)  # c -> a would close the loop
        assert a.referred_by_id is None


def test_unknown_or_empty_code_is_refused(database: Database) -> None:
    with database.unit_of_work() as s:
        me = make_customer(s)
        with pytest.raises(ReferralRefused, match="not a referral code"):
            referrals.apply_code(s, me, "XXXXXX", RULES, NOW)
        with pytest.raises(ReferralRefused, match="no referral code"):
            referrals.apply_code(s, me, " - ", RULES, NOW)


# Affiliates


def _affiliate(database: Database, *, status: str = "approved", phone: str = "+919833344455") -> tuple[int, str]:
    with database.unit_of_work() as s:
        aff = affiliates.apply(s, name="Neha", phone=phone, now=NOW - 90 * DAY, rules=RULES)
        assert (aff.status, aff.window_days, aff.commission_type) == ("pending", 60, "percent")
        if status != "pending":
            affiliates.decide(s, aff.id, status, actor="admin@shop", now=NOW - 89 * DAY, reason="checked")
        return aff.id, aff.code


def _attributed(database: Database, code: str, when: dt.datetime = NOW) -> int:
    with database.unit_of_work() as s:
        customer = make_customer(s, when)
        assert referrals.apply_code(s, customer, code, RULES, when) == "affiliate"
        return customer.id


def test_affiliate_decision_is_audited(database: Database) -> None:
    aff_id, _ = _affiliate(database)
    with database.unit_of_work() as s:
        (row,) = s.scalars(select(AuditEntry)).all()
        assert (row.actor, row.action, row.entity_id, row.reason) == (
            "admin@shop",
            "affiliate.approved",
            str(aff_id),
            "checked",
        )
        assert row.details == {"from": "pending", "to": "approved"}
    with database.unit_of_work() as s, pytest.raises(InvalidTransition):
        affiliates.decide(s, aff_id, "approved", actor="admin@shop", now=NOW)


def test_pending_affiliate_code_does_not_attribute(database: Database) -> None:
    _, code = _affiliate(database, status="pending")
    with database.unit_of_work() as s:
        customer = make_customer(s)
        with pytest.raises(ReferralRefused, match="not active"):
            referrals.apply_code(s, customer, code, RULES, NOW)


def test_self_referral_by_the_same_phone_is_refused(database: Database) -> None:
    _, code = _affiliate(database, phone="098333 44455")
    with database.unit_of_work() as s:
        me = make_customer(s, phone="+91-98333-44455")
        with pytest.raises(ReferralRefused, match="own"):
            referrals.apply_code(s, me, code, RULES, NOW)


def test_percent_commission_inside_the_window_only(database: Database) -> None:
    aff_id, code = _affiliate(database)
    cid = _attributed(database, code)
    with database.unit_of_work() as s:
        record_order(s, cid, "O-1", "1000", when=NOW + DAY)
        record_order(s, cid, "O-2", "2000", when=NOW + 59 * DAY)
        record_order(s, cid, "O-3", "4000", when=NOW + 60 * DAY)  # window over
    with database.unit_of_work() as s:
        rows = s.scalars(select(Commission).order_by(Commission.id)).all()
        assert [(r.kind, r.amount, r.currency, r.status) for r in rows] == [
            ("purchase", D("50.00"), "INR", "pending"),
            ("purchase", D("100.00"), "INR", "pending"),
        ]
        assert affiliates.stats(s, aff_id) == {"signups": 1, "first_purchases": 1}


def test_fixed_commission_per_first_purchase(database: Database) -> None:
    aff_id, code = _affiliate(database)
    with database.unit_of_work() as s:
        affiliates.set_terms(
            s, aff_id, commission_type="fixed", percent=D(0), fixed=D("150"), window_days=30, actor="admin", now=NOW
        )
    cid = _attributed(database, code)
    with database.unit_of_work() as s:
        record_order(s, cid, "O-1", "1000")
        record_order(s, cid, "O-2", "9000")
    with database.unit_of_work() as s:
        (row,) = s.scalars(select(Commission)).all()
        assert (row.kind, row.amount) == ("first_purchase", D("150.00"))
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "affiliate.terms")).one().actor == "admin"


def test_returns_reverse_commission_and_payout_nets_them(database: Database) -> None:
    aff_id, code = _affiliate(database)
    cid = _attributed(database, code)
    with database.unit_of_work() as s:
        record_order(s, cid, "O-1", "1000")
        record_order(s, cid, "O-2", "2000")
    with database.unit_of_work() as s:
        ids = [c.id for c in s.scalars(select(Commission))]
        assert affiliates.approve_commissions(s, ids, actor="admin", now=NOW) == 2
    with database.unit_of_work() as s:
        payout = affiliates.mark_paid(s, aff_id, actor="admin", now=NOW + DAY, reference="UPI-1")
        assert payout.amount == D("150.00")
    with database.unit_of_work() as s:
        record_return(s, "R-1", "O-1", "400", when=NOW + 2 * DAY)
        record_order(s, cid, "O-2", "2000", status="cancelled", now=NOW + 2 * DAY)
    with database.unit_of_work() as s:
        reversals = s.scalars(select(Commission).where(Commission.kind == "reversal").order_by(Commission.id)).all()
        assert [(r.amount, r.status) for r in reversals] == [(D("-20.00"), "pending"), (D("-100.00"), "pending")]
        assert affiliates.totals(s, aff_id) == {
            "pending": D("-120.00"),
            "approved": D("0.00"),
            "paid": D("150.00"),
        }
        record_return(s, "R-1", "O-1", "400", when=NOW + 3 * DAY)  # replay: nothing new
        assert len(s.scalars(select(Commission)).all()) == 4
    with database.unit_of_work() as s:
        record_order(s, cid, "O-4", "5000", when=NOW + 10 * DAY)
        ids = [c.id for c in s.scalars(select(Commission).where(Commission.status == "pending"))]
        affiliates.approve_commissions(s, ids, actor="admin", now=NOW + 10 * DAY)
    with database.unit_of_work() as s:
        second = affiliates.mark_paid(s, aff_id, actor="admin", now=NOW + 11 * DAY)
        assert second.amount == D("130.00")  # 250 - 20 - 100
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "payout.paid")).all() != []


def test_nothing_to_pay_is_refused(database: Database) -> None:
    aff_id, _ = _affiliate(database)
    with database.unit_of_work() as s, pytest.raises(InvalidTransition, match="nothing approved"):
        affiliates.mark_paid(s, aff_id, actor="admin", now=NOW)


def test_affiliate_application_is_one_per_phone(database: Database) -> None:
    aff_id, _ = _affiliate(database)
    with database.unit_of_work() as s:
        again = affiliates.apply(s, name="Neha", phone="9833344455", now=NOW, rules=RULES)
        assert again.id == aff_id
        assert s.scalars(select(Affiliate)).all() == [again]


def test_affiliate_code_then_referral_code_is_refused(database: Database) -> None:
    _, code = _affiliate(database)
    cid = _attributed(database, code)
    with database.unit_of_work() as s:
        friend = make_customer(s, NOW - 400 * DAY)
        me = s.get(Customer, cid)
        assert me is not None
        with pytest.raises(ReferralRefused, match="already"):
            referrals.apply_code(s, me, friend.referral_code, RULES, NOW)


def test_fixed_commission_survives_cancel_recomplete_and_correction(database: Database) -> None:
    aff_id, code = _affiliate(database)
    with database.unit_of_work() as s:
        affiliates.set_terms(
            s, aff_id, commission_type="fixed", percent=D(0), fixed=D("150"), window_days=60, actor="admin", now=NOW
        )
    cid = _attributed(database, code)
    with database.unit_of_work() as s:
        record_order(s, cid, "O-1", "1000")
    with database.unit_of_work() as s:
        record_order(s, cid, "O-1", "1000", status="cancelled")
    with database.unit_of_work() as s:
        record_order(s, cid, "O-1", "1000")
    with database.unit_of_work() as s:
        record_order(s, cid, "O-1", "1200")
    with database.unit_of_work() as s:
        total = sum(c.amount for c in s.scalars(select(Commission)))
        assert total == D("150.00")


def test_returning_the_qualifying_purchase_takes_both_bonuses_back(database: Database) -> None:
    referrer, referee = _pair(database)
    with database.unit_of_work() as s:
        record_order(s, referee, "O-1", "600")
    with database.unit_of_work() as s:
        assert balance(s, referrer) == (100, 0)
        record_return(s, "R-1", "O-1", "50", when=NOW + DAY)  # keeps 550: still qualifies
    with database.unit_of_work() as s:
        assert balance(s, referrer) == (100, 0)
        record_return(s, "R-2", "O-1", "100", when=NOW + 2 * DAY)  # keeps 450: below the 500 minimum
    with database.unit_of_work() as s:
        assert balance(s, referrer) == (0, 0)
        assert balance(s, referee) == (4, 0)  # the 6 points on 600 less 2 for 150 returned; bonus gone
        assert [e.delta for e in entries(s, referee, "clawback")][-1] == -50
        record_return(s, "R-2", "O-1", "100", when=NOW + 2 * DAY)  # replay: nothing more
        record_order(s, referee, "O-2", "5000", when=NOW + 3 * DAY)  # forfeited for good
    with database.unit_of_work() as s:
        assert balance(s, referrer) == (0, 0)
        assert ledger.verify(s) == []


def test_cancelling_the_qualifying_purchase_when_the_bonus_was_spent_leaves_points_owed(database: Database) -> None:
    referrer, referee = _pair(database)
    with database.unit_of_work() as s:
        record_order(s, referee, "O-1", "500")
    with database.unit_of_work() as s:
        customer = ledger.lock_customer(s, referrer)
        ledger.debit(s, customer, kind="redeem", points=80, key="spent", now=NOW)
    with database.unit_of_work() as s:
        record_order(s, referee, "O-1", "500", status="cancelled", now=NOW + DAY)
    with database.unit_of_work() as s:
        assert balance(s, referrer) == (0, 80)
        assert balance(s, referee) == (0, 0)
        assert ledger.verify(s) == []
