"""Erasure on SQLite and PostgreSQL: the person disappears from every table, the books stay right."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot.models import Conversation, InboundMessage, OutboxMessage
from domain import (
    affiliates,
    audit,
    consents,
    data_requests,
    erasure,
    holds,
    ledger,
    privacy_settings,
    rewards,
    suppression,
    vouchers,
)
from domain import totals as program
from domain.affiliate_models import Commission
from domain.customers import Customer
from domain.data_requests import DataRequest
from domain.db import Database
from domain.errors import InvalidTransition
from domain.notifications import Notification
from domain.rewards import Redemption, Reward
from domain.rules import ProgramRules
from runtime.config import privacy_key
from tests.domain_factories import NOW, give_points, make_customer, record_order
from tests.fakes import FrozenClock

PHONE = "+919812345678"
NAME = "Asha Verma"
RULES = ProgramRules()


def rich_member(app: Flask, database: Database) -> int:
    """A member with points, a purchase through an affiliate, an open and a used voucher, consents, chats."""
    with database.unit_of_work() as s:
        partner = affiliates.apply(s, name="Corner Store", phone="+919855566677", now=NOW, rules=RULES)
        affiliates.decide(s, partner.id, "approved", actor="t", now=NOW)
        c = make_customer(s, phone=PHONE, name=NAME)
        c.birthday = dt.date(1990, 5, 1)
        c.erp_customer_id = "C1001"
        affiliates.attribute(s, c, partner, NOW, is_new=True)
        for purpose in consents.PURPOSES:
            consents.record(s, c, purpose, True, channel="whatsapp", now=NOW, notice_version="v1", language="en")
        cid = c.id
        record_order(s, cid, "O-1", "25000.00")  # 250 points, a commission for the affiliate
        give_points(s, cid, 400)
        ledger.adjust(s, cid, 10, reason=f"goodwill for {NAME}", actor="staff@x", key="adj-1", now=NOW, expires_at=None)
        mug = rewards.add_reward(s, name="Mug", points_cost=100, stock=5)
        rewards.redeem(s, cid, mug.id, RULES, NOW)  # stays open
        used = rewards.redeem(s, cid, mug.id, RULES, NOW)
        vouchers.use(s, used.id, actor="till", now=NOW)
        holds.open_hold(s, cid, 60, minutes=15, now=NOW, actor="till-key", store="MG Road")  # open at the till
        audit.record(
            s, actor="staff@x", action="conversation.reply", entity_type="conversation", entity_id=PHONE, now=NOW
        )
        s.add(Conversation(phone=PHONE, customer_id=cid, state="menu", data={}, updated_at=NOW))
        s.add(
            InboundMessage(
                wa_message_id="wamid.1",
                phone=PHONE,
                kind="text",
                text="hello it is Asha",
                payload={"text": {"body": "hello it is Asha"}, "_profile_name": "Asha"},
                status="handled",
                received_at=NOW,
            )
        )
        for n, state in enumerate(("sent", "queued")):
            s.add(
                OutboxMessage(
                    phone=PHONE,
                    customer_id=cid,
                    kind="text",
                    payload={"body": f"Hello Asha {n}"},
                    idempotency_key=f"out-{n}",
                    status=state,
                    next_attempt_at=NOW,
                    created_at=NOW,
                    origin="bot",
                )
            )
    return cid


def erase(app: Flask, database: Database, cid: int, clock: FrozenClock) -> erasure.Outcome:
    with database.unit_of_work() as s:
        customer = s.get(Customer, cid)
        assert customer is not None
        _, outcome = erasure.erase_now(
            s,
            customer,
            channel="console",
            now=clock.now(),
            actor="manager@example.com",
            hash_key=privacy_key(app.config),
            settings=privacy_settings.load(s),
        )
    return outcome


def test_erasure_forfeits_exactly_the_balance_and_leaves_past_totals_alone(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    cid = rich_member(app, database)
    with database.unit_of_work() as s:
        before = program.program_totals(s)
        balance = s.get(Customer, cid).points_balance  # type: ignore[union-attr]
        commissions = [(c.id, c.amount, c.status) for c in s.scalars(select(Commission))]
    assert balance == 250 + 400 + 10 - 200 and commissions

    outcome = erase(app, database, cid, clock)

    assert (outcome.points_forfeited, outcome.vouchers_voided, outcome.holds_released) == (balance, 1, 1)
    with database.unit_of_work() as s:
        after = program.program_totals(s)
        assert after.points_outstanding == before.points_outstanding - balance
        assert after.points_forfeited == before.points_forfeited + balance
        assert (after.points_earned, after.points_redeemed, after.points_expired, after.sales_amount) == (
            before.points_earned,
            before.points_redeemed,
            before.points_expired,
            before.sales_amount,
        )
        assert after.members == before.members - 1
        assert after.points_outstanding == (
            after.points_earned - after.points_redeemed - after.points_expired - after.points_forfeited
        )
        assert ledger.verify(s) == [] and consents.mismatches(s) == [] and holds.verify(s) == []
        assert [h.status for h in s.scalars(select(holds.Hold))] == ["released"]
        # Commissions the affiliate earned on the member's purchase stay payable as they were.
        assert [(c.id, c.amount, c.status) for c in s.scalars(select(Commission))] == commissions
        statuses = sorted(r.status for r in s.scalars(select(Redemption)))
        assert statuses == ["cancelled", "used"]
        assert s.scalar(select(Reward.stock)) == 4  # the voided voucher's unit is back
        assert after.sales_amount == Decimal("25000.00")


def test_nothing_of_the_person_is_left(app: Flask, database: Database, clock: FrozenClock) -> None:
    cid = rich_member(app, database)
    secrets = (PHONE, PHONE[1:], PHONE[3:], NAME, "Asha", "Verma", "C1001")
    with database.unit_of_work() as s:
        everything = _dump(s)
    assert all(secret in everything for secret in secrets)  # the dump would find them
    erase(app, database, cid, clock)
    with database.unit_of_work() as s:
        c = s.get(Customer, cid)
        assert c is not None and c.is_erased
        assert (c.phone, c.name, c.email, c.birthday, c.erp_customer_id, c.wa_user_id) == (
            f"erased-{cid}",
            None,
            None,
            None,
            None,
            None,
        )
        assert (c.opted_in, c.marketing_opt_in, c.points_balance) == (False, False, 0)
        assert s.scalar(select(func.count()).select_from(Conversation)) == 0
        inbound = s.scalars(select(InboundMessage)).one()
        assert (inbound.phone, inbound.text, inbound.payload) == (f"erased-{cid}", None, {})
        outbox = sorted((m.status, m.phone, m.payload) for m in s.scalars(select(OutboxMessage)))
        assert outbox == [("failed", f"erased-{cid}", {}), ("sent", f"erased-{cid}", {})]
        assert suppression.is_suppressed(s, privacy_key(app.config), phone=PHONE)
        assert suppression.is_suppressed(s, privacy_key(app.config), erp_customer_id="C1001")
        (done,) = s.scalars(select(DataRequest)).all()
        assert (done.kind, done.status, done.handled_by) == ("erasure", "done", "manager@example.com")
        everything = _dump(s)
    for secret in secrets:
        assert secret not in everything, secret


def _dump(s: Any) -> str:
    """Every row of every table as text (what a backup or a curious query would see)."""
    from domain.db import Base

    rows = []
    for table in Base.metadata.sorted_tables:
        for row in s.execute(select(table)).all():
            rows.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(rows)


def test_a_member_is_erased_once(app: Flask, database: Database, clock: FrozenClock) -> None:
    cid = rich_member(app, database)
    erase(app, database, cid, clock)
    with database.unit_of_work() as s, pytest.raises(InvalidTransition, match="erased already"):
        erasure.erase(s, cid, now=clock.now(), actor="x", hash_key=privacy_key(app.config))


def test_a_member_who_was_an_affiliate_keeps_commissions_but_loses_the_identity(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    with database.unit_of_work() as s:
        c = make_customer(s, phone=PHONE, name=NAME)
        own = affiliates.apply(s, name=NAME, phone=PHONE, now=NOW, rules=RULES, customer=c)
        affiliates.decide(s, own.id, "approved", actor="t", now=NOW)
        buyer = make_customer(s, name="Ravi")
        affiliates.attribute(s, buyer, own, NOW, is_new=True)
        record_order(s, buyer.id, "O-9", "1000.00")
        cid, aid = c.id, own.id
    erase(app, database, cid, clock)
    with database.unit_of_work() as s:
        a = s.get(affiliates.Affiliate, aid)  # type: ignore[attr-defined]
        assert a is not None and NAME not in a.name and a.phone != PHONE and a.status == "suspended"
        assert [m.status for m in s.scalars(select(Commission).where(Commission.affiliate_id == aid))] == ["pending"]


def test_retention_warns_the_inactive_then_erases_them(app: Flask, database: Database, clock: FrozenClock) -> None:
    from domain import retention

    with database.unit_of_work() as s:
        old = make_customer(s, NOW - dt.timedelta(days=4 * 365), name="Old Timer")
        consents.record(s, old, consents.SERVICE, True, channel="whatsapp", now=old.created_at)
        give_points(s, old.id, 70, now=old.created_at)
        fresh = make_customer(s, NOW - dt.timedelta(days=4 * 365), name="Still Here")
        fresh.last_active_at = NOW - dt.timedelta(days=30)
        back = make_customer(s, NOW - dt.timedelta(days=4 * 365), name="Came Back")
        privacy_settings.save(s, privacy_settings.PrivacySettings(inactive_years=3), "admin")
        ids = (old.id, fresh.id, back.id)
    with database.unit_of_work() as s:
        settings = privacy_settings.load(s)
        assert retention.erase_inactive(s, settings, NOW, hash_key="k") == 0  # nobody warned yet
        _, warned = retention.warn_inactive(s, settings, NOW)
        assert warned == 2
        notes = s.scalars(select(Notification).where(Notification.kind == "retention_warning")).all()
        assert sorted(n.customer_id for n in notes) == [ids[0], ids[2]]
    with database.unit_of_work() as s:
        s.get(Customer, ids[2]).last_active_at = NOW + dt.timedelta(hours=1)  # type: ignore[union-attr]
    later = NOW + dt.timedelta(hours=47)
    with database.unit_of_work() as s:
        assert retention.erase_inactive(s, privacy_settings.load(s), later, hash_key="k") == 0  # not 48 h yet
        assert retention.cancel_stale_warnings(s) == 1
    with database.unit_of_work() as s:
        assert retention.erase_inactive(s, privacy_settings.load(s), later + dt.timedelta(hours=2), hash_key="k") == 1
    with database.unit_of_work() as s:
        erased = [c.id for c in s.scalars(select(Customer).where(Customer.erased_at.is_not(None)))]
        assert erased == [ids[0]]
        (request,) = data_requests.of_customer(s, ids[0])
        assert (request.channel, request.handled_by, request.status) == ("retention", "automatic", "done")
        assert ledger.verify(s) == []


def test_retention_is_off_by_default(database: Database) -> None:
    from domain import retention

    with database.unit_of_work() as s:
        make_customer(s, NOW - dt.timedelta(days=40 * 365))
        assert retention.warn_inactive(s, privacy_settings.load(s), NOW) == (0, 0)
