"""Customer-to-customer referrals: a code per customer, bonuses on the first purchase."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session

from domain import affiliates, ledger
from domain.codes import clean_code
from domain.customers import Customer, find_by_referral_code
from domain.errors import ReferralRefused
from domain.notifications import notify
from domain.rules import ProgramRules
from domain.timeutil import add_months


def is_new_customer(customer: Customer, rules: ProgramRules, now: dt.datetime) -> bool:
    """Only customers who joined recently and have not bought yet can be referred."""
    recent = now - customer.created_at <= dt.timedelta(days=rules.referral_new_customer_days)
    return recent and customer.first_purchase_at is None


def apply_code(session: Session, customer: Customer, code: str, rules: ProgramRules, now: dt.datetime) -> str:
    """Attribute ``customer`` to whoever owns ``code``: a customer or an affiliate.

    Returns ``"customer"`` or ``"affiliate"``; raises ``ReferralRefused`` with the
    reason (own code, already referred, not new, a cycle, unknown code).
    """
    cleaned = clean_code(code)
    if not cleaned:
        raise ReferralRefused("no referral code given")
    is_new = is_new_customer(customer, rules, now)
    referrer = find_by_referral_code(session, cleaned)
    if referrer is not None:
        attribute(session, customer, referrer, now, is_new=is_new)
        return "customer"
    affiliate = affiliates.find_by_code(session, cleaned)
    if affiliate is not None:
        affiliates.attribute(session, customer, affiliate, now, is_new=is_new)
        return "affiliate"
    raise ReferralRefused(f"{cleaned} is not a referral code we know")


def attribute(session: Session, referee: Customer, referrer: Customer, now: dt.datetime, *, is_new: bool) -> None:
    if referrer.id == referee.id or referrer.phone == referee.phone:
        raise ReferralRefused("you cannot use your own referral code")
    if referee.referred_by_id is not None or referee.affiliate_id is not None:
        raise ReferralRefused("you were already referred")
    if not is_new:
        raise ReferralRefused("only new customers can use a referral code")
    if _in_chain(session, referrer, referee.id):
        raise ReferralRefused("that referral would make a loop")
    referee.referred_by_id = referrer.id
    referee.referred_at = now


def _in_chain(session: Session, start: Customer, target_id: int) -> bool:
    """Does ``target_id`` appear among ``start``'s referrers (``start`` included)?"""
    seen: set[int] = set()
    node: Customer | None = start
    while node is not None and node.id not in seen:
        if node.id == target_id:
            return True
        seen.add(node.id)
        node = session.get(Customer, node.referred_by_id) if node.referred_by_id else None
    return False


def reward_first_purchase(
    session: Session, referee: Customer, rules: ProgramRules, now: dt.datetime, order_id: int | None = None
) -> bool:
    """Both sides get their bonus on the referee's first qualifying purchase, once."""
    if referee.referred_by_id is None or referee.referral_rewarded_at is not None:
        return False
    referee.referral_rewarded_at = now
    referee.referral_order_id = order_id
    expires = add_months(now, rules.expiry_months)
    if rules.referee_bonus > 0:
        ledger.credit(
            session,
            referee,
            kind="referral_bonus",
            points=rules.referee_bonus,
            key=f"referral:{referee.id}:referee",
            now=now,
            expires_at=expires,
            description="welcome bonus",
        )
        notify(
            session,
            referee.id,
            "referral_bonus",
            f"referral:{referee.id}:referee",
            {"points": rules.referee_bonus, "role": "referee"},
            now,
        )
    referrer = ledger.lock_customer(session, referee.referred_by_id)
    if rules.referrer_bonus > 0:
        ledger.credit(
            session,
            referrer,
            kind="referral_bonus",
            points=rules.referrer_bonus,
            key=f"referral:{referee.id}:referrer",
            now=now,
            expires_at=expires,
            description=f"referral of {referee.name or 'a friend'}"[:200],
        )
        notify(
            session,
            referrer.id,
            "referral_bonus",
            f"referral:{referee.id}:referrer",
            {"points": rules.referrer_bonus, "role": "referrer", "friend": referee.name or ""},
            now,
        )
    return True


def reverse_if_unqualified(
    session: Session, referee: Customer, order_id: int, kept_amount: Decimal, rules: ProgramRules, now: dt.datetime
) -> bool:
    """Take both bonuses back when the purchase that earned them is returned below the minimum.

    Without this, buying, collecting the bonuses and returning the goods would be
    free points. The bonuses are forfeited for good (a later purchase does not
    earn them again); points already spent become points owed, as for any return.
    """
    if (
        referee.referral_order_id != order_id
        or referee.referral_rewarded_at is None
        or referee.referral_reversed_at is not None
        or kept_amount >= rules.referral_min_purchase
        or referee.referred_by_id is None
    ):
        return False
    referee.referral_reversed_at = now
    _take_back(session, referee, f"referral:{referee.id}:referee", now, "welcome bonus: qualifying purchase returned")
    referrer = ledger.lock_customer(session, referee.referred_by_id)
    _take_back(session, referrer, f"referral:{referee.id}:referrer", now, "referral bonus: friend's purchase returned")
    return True


def _take_back(session: Session, customer: Customer, credit_key: str, now: dt.datetime, why: str) -> None:
    credit = ledger.existing_entry(session, credit_key)
    if credit is None:
        return
    ledger.debit(
        session,
        customer,
        kind="clawback",
        points=credit.delta,
        key=f"{credit_key}:reversed",
        now=now,
        allow_shortfall=True,
        description=why,
    )
