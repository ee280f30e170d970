"""Rewards and redemptions: atomic debit + voucher, stock, limits, windows, cancel, expiry."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from domain import ledger, rewards, vouchers
from domain.audit import AuditEntry
from domain.codes import ALPHABET
from domain.db import Database
from domain.errors import (
    InsufficientPoints,
    InvalidTransition,
    LimitReached,
    NotFound,
    OutOfStock,
    RewardUnavailable,
    ValidationError,
)
from domain.rewards import Redemption, Reward
from tests.domain_factories import NOW, RULES, balance, entries, give_points, make_customer, notifications

DAY = dt.timedelta(days=1)


def _setup(database: Database, points: int, **reward: object) -> tuple[int, int]:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        if points:
            give_points(s, cid, points, expires_at=NOW + 100 * DAY)
        values: dict[str, object] = {"name": "Mug", "points_cost": 100}
        values.update(reward)
        rid = rewards.add_reward(s, **values).id  # type: ignore[arg-type]
    return cid, rid


def test_redeem_debits_points_and_issues_a_voucher(database: Database) -> None:
    cid, rid = _setup(database, 150, stock=3)
    with database.unit_of_work() as s:
        red = rewards.redeem(s, cid, rid, RULES, NOW)
        code = red.voucher_code
    with database.unit_of_work() as s:
        assert balance(s, cid) == (50, 0)
        assert s.get(Reward, rid).stock == 2  # type: ignore[union-attr]
        red = s.scalars(select(Redemption)).one()
        assert (red.status, red.points_cost, red.expires_at) == ("issued", 100, NOW + 30 * DAY)
        assert all(ch in ALPHABET + "-" for ch in code) and len(code) == 14
        assert rewards.find_voucher(s, code.lower().replace("-", " ")) is not None
        (note,) = notifications(s, cid, "voucher_issued")
        assert note.payload["code"] == code
        assert ledger.verify(s) == []


def test_insufficient_points_says_how_many_more(database: Database) -> None:
    cid, rid = _setup(database, 60, stock=3)
    with database.unit_of_work() as s, pytest.raises(InsufficientPoints, match="40 more needed") as info:
        rewards.redeem(s, cid, rid, RULES, NOW)
    assert info.value.details["short"] == 40
    with database.unit_of_work() as s:
        assert balance(s, cid) == (60, 0)
        assert s.get(Reward, rid).stock == 3  # type: ignore[union-attr]
        assert s.scalars(select(Redemption)).all() == []


def test_sold_out(database: Database) -> None:
    cid, rid = _setup(database, 500, stock=1)
    with database.unit_of_work() as s:
        rewards.redeem(s, cid, rid, RULES, NOW)
    with database.unit_of_work() as s, pytest.raises(OutOfStock, match="sold out"):
        rewards.redeem(s, cid, rid, RULES, NOW)
    with database.unit_of_work() as s:
        assert balance(s, cid) == (400, 0)


def test_per_customer_limit_leaves_out_cancelled_and_expired_vouchers(database: Database) -> None:
    cid, rid = _setup(database, 500, per_customer_limit=1)
    with database.unit_of_work() as s:
        first = rewards.redeem(s, cid, rid, RULES, NOW).id
    with database.unit_of_work() as s, pytest.raises(LimitReached, match="1 time"):
        rewards.redeem(s, cid, rid, RULES, NOW)
    with database.unit_of_work() as s:
        rewards.cancel(s, first, actor="staff@shop", now=NOW, reason="changed mind")
    with database.unit_of_work() as s:
        second = rewards.redeem(s, cid, rid, RULES, NOW).id  # the cancelled one no longer counts
    with database.unit_of_work() as s:
        rewards.expire_vouchers(s, NOW + 31 * DAY)
    with database.unit_of_work() as s:
        assert s.get(Redemption, second).status == "expired"  # type: ignore[union-attr]
        rewards.redeem(s, cid, rid, RULES, NOW + 31 * DAY)  # nor does an expired one
        with pytest.raises(LimitReached):
            rewards.redeem(s, cid, rid, RULES, NOW + 31 * DAY)


@pytest.mark.parametrize(
    "window",
    [
        {"starts_at": NOW + DAY},
        {"ends_at": NOW},
        {"starts_at": NOW - 10 * DAY, "ends_at": NOW - DAY},
    ],
)
def test_reward_outside_its_window_is_unavailable(database: Database, window: dict[str, dt.datetime]) -> None:
    cid, rid = _setup(database, 500, **window)
    with database.unit_of_work() as s, pytest.raises(RewardUnavailable):
        rewards.redeem(s, cid, rid, RULES, NOW)


def test_reward_window_edges(database: Database) -> None:
    cid, rid = _setup(database, 500, starts_at=NOW, ends_at=NOW + DAY)
    with database.unit_of_work() as s:
        rewards.redeem(s, cid, rid, RULES, NOW)
        assert [r.id for r in rewards.catalog(s, NOW)] == [rid]
        assert rewards.catalog(s, NOW + DAY) == []


def test_inactive_reward_is_unavailable_and_unknown_is_not_found(database: Database) -> None:
    cid, rid = _setup(database, 500)
    with database.unit_of_work() as s:
        s.get(Reward, rid).active = False  # type: ignore[union-attr]
    with database.unit_of_work() as s, pytest.raises(RewardUnavailable):
        rewards.redeem(s, cid, rid, RULES, NOW)
    with database.unit_of_work() as s, pytest.raises(NotFound):
        rewards.redeem(s, cid, 9999, RULES, NOW)


def test_retried_request_with_a_key_returns_the_first_redemption(database: Database) -> None:
    cid, rid = _setup(database, 500, stock=5)
    with database.unit_of_work() as s:
        first = rewards.redeem(s, cid, rid, RULES, NOW, key="wa:msg:1").id
    with database.unit_of_work() as s:
        assert rewards.redeem(s, cid, rid, RULES, NOW, key="wa:msg:1").id == first
    with database.unit_of_work() as s:
        assert balance(s, cid) == (400, 0)
        assert s.get(Reward, rid).stock == 4  # type: ignore[union-attr]


def test_cancel_refunds_points_and_stock_with_the_spent_points_expiry(database: Database) -> None:
    cid, rid = _setup(database, 100, stock=1)
    with database.unit_of_work() as s:
        red_id = rewards.redeem(s, cid, rid, RULES, NOW).id
    with database.unit_of_work() as s:
        rewards.cancel(s, red_id, actor="staff@shop", now=NOW + DAY, reason="customer asked")
    with database.unit_of_work() as s:
        assert balance(s, cid) == (100, 0)
        assert s.get(Reward, rid).stock == 1  # type: ignore[union-attr]
        (refund,) = entries(s, cid, "refund")
        assert (refund.delta, refund.expires_at) == (100, NOW + 100 * DAY)
        red = s.get(Redemption, red_id)
        assert red is not None and (red.status, red.cancelled_at) == ("cancelled", NOW + DAY)
        (row,) = s.scalars(select(AuditEntry)).all()
        assert (row.actor, row.action, row.reason) == ("staff@shop", "redemption.cancel", "customer asked")
        assert ledger.verify(s) == []
    with database.unit_of_work() as s, pytest.raises(InvalidTransition):
        rewards.cancel(s, red_id, actor="staff@shop", now=NOW, reason="again")


def test_used_voucher_cannot_be_cancelled(database: Database) -> None:
    cid, rid = _setup(database, 100)
    with database.unit_of_work() as s:
        red_id = rewards.redeem(s, cid, rid, RULES, NOW).id
    with database.unit_of_work() as s:
        vouchers.use(s, red_id, actor="till-1", now=NOW + DAY)
    with database.unit_of_work() as s, pytest.raises(InvalidTransition, match="is used"):
        rewards.cancel(s, red_id, actor="x", now=NOW, reason="late")
    with database.unit_of_work() as s:
        assert balance(s, cid) == (0, 0)


def test_unused_voucher_expires_and_its_points_come_back(database: Database) -> None:
    cid, rid = _setup(database, 100, stock=2)
    with database.unit_of_work() as s:
        red_id = rewards.redeem(s, cid, rid, RULES, NOW).id
    expires = NOW + 30 * DAY
    with database.unit_of_work() as s:
        assert rewards.expire_vouchers(s, expires - dt.timedelta(microseconds=1)) == 0
    with database.unit_of_work() as s, pytest.raises(vouchers.VoucherNotValid, match="expired"):
        vouchers.use(s, red_id, actor="till", now=expires)
    with database.unit_of_work() as s:
        assert rewards.expire_vouchers(s, expires) == 1
    with database.unit_of_work() as s:
        assert s.get(Redemption, red_id).status == "expired"  # type: ignore[union-attr]
        assert balance(s, cid) == (100, 0)
        assert s.get(Reward, rid).stock == 2  # type: ignore[union-attr]
        assert rewards.expire_vouchers(s, expires + DAY) == 0


def test_refund_after_the_spent_points_expired_gets_a_grace_period(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = make_customer(s).id
        give_points(s, cid, 100, expires_at=NOW + 10 * DAY)
        rid = rewards.add_reward(s, name="Bag", points_cost=100).id
    with database.unit_of_work() as s:
        red_id = rewards.redeem(s, cid, rid, RULES, NOW).id
    with database.unit_of_work() as s:
        rewards.expire_vouchers(s, NOW + 30 * DAY)
    with database.unit_of_work() as s:
        (refund,) = entries(s, cid, "refund")
        assert refund.expires_at == NOW + 30 * DAY + rewards.REFUND_GRACE
        assert s.get(Redemption, red_id) is not None


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"name": " ", "points_cost": 10}, "name"),
        ({"name": "x", "points_cost": 0}, "positive"),
        ({"name": "x", "points_cost": 10, "stock": -1}, "stock"),
        ({"name": "x", "points_cost": 10, "per_customer_limit": 0}, "limit"),
        ({"name": "x", "points_cost": 10, "starts_at": NOW, "ends_at": NOW}, "end after"),
    ],
)
def test_invalid_rewards_are_refused(database: Database, kwargs: dict[str, object], reason: str) -> None:
    with database.unit_of_work() as s, pytest.raises(ValidationError, match=reason):
        rewards.add_reward(s, **kwargs)  # type: ignore[arg-type]
