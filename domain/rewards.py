"""The reward catalog and redemptions: points in, a voucher code out, atomically.

Using a voucher (at a till or in the console) and undoing that is ``domain.vouchers``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CursorResult, ForeignKey, Index, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from domain import audit, ledger
from domain.codes import clean_code, voucher_code
from domain.customers import Customer
from domain.db import Base, UTCDateTime, utcnow
from domain.errors import (
    InsufficientPoints,
    InvalidTransition,
    LimitReached,
    NotFound,
    OutOfStock,
    RewardUnavailable,
    ValidationError,
)
from domain.limits import MAX_POINTS, in_range
from domain.notifications import notify
from domain.rules import ProgramRules

# issued -> used (at a till or by staff; a till may roll it back to issued), or cancelled / expired (points back).
STATUSES = ("issued", "used", "cancelled", "expired")
# How long refunded points last when the points spent expired while the voucher was out.
REFUND_GRACE = dt.timedelta(days=30)


class Reward(Base):
    __tablename__ = "rewards"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    points_cost: Mapped[int]
    # None means unlimited.
    stock: Mapped[int | None]
    per_customer_limit: Mapped[int | None]
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def is_live(self, now: dt.datetime) -> bool:
        return (
            self.active
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )

    def in_stock(self) -> bool:
        return self.stock is None or self.stock > 0


class Redemption(Base):
    __tablename__ = "redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id"))
    points_cost: Mapped[int]
    voucher_code: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="issued")
    # When the spent points would have expired: a cancellation's refund keeps it.
    points_expire_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Where and when it was used (``domain.vouchers``).
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    used_store: Mapped[str | None] = mapped_column(String(64))
    used_order_id: Mapped[str | None] = mapped_column(String(64))
    used_by: Mapped[str | None] = mapped_column(String(200))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status_reason: Mapped[str | None] = mapped_column(String(200))

    reward: Mapped[Reward] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_redemptions_customer_reward", "customer_id", "reward_id"),
        Index("ix_redemptions_status_issued", "status", "issued_at"),
    )


def add_reward(
    session: Session,
    *,
    name: str,
    points_cost: int,
    stock: int | None = None,
    per_customer_limit: int | None = None,
    description: str | None = None,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
) -> Reward:
    validate_reward(name, points_cost, stock, per_customer_limit, starts_at, ends_at)
    reward = Reward(
        name=name.strip(),
        description=description,
        points_cost=points_cost,
        stock=stock,
        per_customer_limit=per_customer_limit,
        starts_at=starts_at,
        ends_at=ends_at,
        active=True,
    )
    session.add(reward)
    session.flush()
    return reward


def validate_reward(
    name: str,
    points_cost: int,
    stock: int | None,
    per_customer_limit: int | None,
    starts_at: dt.datetime | None,
    ends_at: dt.datetime | None,
) -> None:
    if not name or not name.strip():
        raise ValidationError("a reward needs a name")
    if len(name.strip()) > 120:
        raise ValidationError("a reward name has at most 120 characters")
    in_range("points cost", points_cost, 1, MAX_POINTS)
    if stock is not None:
        in_range("stock", stock, 0, MAX_POINTS)
    if per_customer_limit is not None:
        in_range("the per-customer limit", per_customer_limit, 1, 1000)
    if starts_at and ends_at and ends_at <= starts_at:
        raise ValidationError("a reward must end after it starts")


def catalog(session: Session, now: dt.datetime) -> list[Reward]:
    """Rewards a customer can see now: active, in their window, cheapest first."""
    stmt = select(Reward).where(Reward.active.is_(True)).order_by(Reward.points_cost, Reward.id)
    return [r for r in session.scalars(stmt) if r.is_live(now)]


def redeemed_count(session: Session, customer_id: int, reward_id: int) -> int:
    """Vouchers that count against the per-customer limit: cancelled or expired ones gave the points back."""
    return (
        session.scalar(
            select(func.count(Redemption.id)).where(
                Redemption.customer_id == customer_id,
                Redemption.reward_id == reward_id,
                Redemption.status.in_(("issued", "used")),
            )
        )
        or 0
    )


def redeem(
    session: Session, customer_id: int, reward_id: int, rules: ProgramRules, now: dt.datetime, *, key: str | None = None
) -> Redemption:
    """Spend points on a reward and issue a voucher, all or nothing.

    The customer row is locked first (points, per-customer limit), then the
    stock is taken with a conditional UPDATE, so concurrent redemptions can
    neither overspend a balance nor oversell stock. ``key`` makes a retried
    request (a redelivered message) return the first redemption.
    """
    customer = ledger.lock_customer(session, customer_id)
    if key is not None:
        previous = ledger.existing_entry(session, key)
        if previous is not None and previous.redemption_id is not None:
            found = session.get(Redemption, previous.redemption_id)
            if found is not None:
                return found
    reward = session.get(Reward, reward_id)
    if reward is None:
        raise NotFound(f"reward {reward_id} does not exist")
    _check_can_redeem(session, customer, reward, now)
    if not _take_stock(session, reward):
        raise OutOfStock(f"{reward.name} is sold out", reward=reward.name)
    expires = ledger.earliest_open_expiry(session, customer.id)
    redemption = Redemption(
        customer_id=customer.id,
        reward_id=reward.id,
        points_cost=reward.points_cost,
        voucher_code=_unique_voucher(session),
        status="issued",
        points_expire_at=expires,
        issued_at=now,
        expires_at=now + dt.timedelta(days=rules.voucher_valid_days),
    )
    session.add(redemption)
    session.flush()
    ledger.debit(
        session,
        customer,
        kind="redeem",
        points=reward.points_cost,
        key=key or f"redeem:{redemption.id}",
        now=now,
        description=reward.name[:200],
        redemption_id=redemption.id,
    )
    notify(
        session,
        customer.id,
        "voucher_issued",
        f"voucher:{redemption.id}",
        {"reward": reward.name, "code": redemption.voucher_code, "expires_at": redemption.expires_at.isoformat()},
        now,
    )
    return redemption


def _check_can_redeem(session: Session, customer: Customer, reward: Reward, now: dt.datetime) -> None:
    if not reward.is_live(now):
        raise RewardUnavailable(f"{reward.name} is not available now", reward=reward.name)
    if not reward.in_stock():
        raise OutOfStock(f"{reward.name} is sold out", reward=reward.name)
    if reward.per_customer_limit is not None:
        used = redeemed_count(session, customer.id, reward.id)
        if used >= reward.per_customer_limit:
            raise LimitReached(
                f"{reward.name} can be redeemed {reward.per_customer_limit} time(s) per customer",
                reward=reward.name,
                limit=reward.per_customer_limit,
            )
    available = customer.points_available  # points reserved by open holds at a till are not spendable
    if available < reward.points_cost:
        raise InsufficientPoints(
            f"{reward.name} needs {reward.points_cost} points; you have {available}, "
            f"{reward.points_cost - available} more needed",
            needed=reward.points_cost,
            balance=available,
            short=reward.points_cost - available,
            reward=reward.name,
        )


def _take_stock(session: Session, reward: Reward) -> bool:
    if reward.stock is None:
        return True
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Reward)
        .where(Reward.id == reward.id, Reward.stock > 0)
        .values(stock=Reward.stock - 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(reward, ["stock"])
    return bool(result.rowcount)


def _unique_voucher(session: Session) -> str:
    while True:
        code = voucher_code()
        if session.scalar(select(Redemption.id).where(Redemption.voucher_code == code)) is None:
            return code


def find_voucher(session: Session, code: str) -> Redemption | None:
    """The voucher with this code, however it was typed (case, spaces and dashes do not matter)."""
    raw = clean_code(code)
    formatted = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
    return session.scalar(select(Redemption).where(Redemption.voucher_code == formatted))


def cancel(session: Session, redemption_id: int, *, actor: str, now: dt.datetime, reason: str) -> Redemption:
    """Cancel an issued voucher: the points come back, the stock too."""
    redemption = lock_redemption(session, redemption_id)
    if redemption.status != "issued":
        raise InvalidTransition(f"voucher {redemption.voucher_code} is {redemption.status} and cannot be cancelled")
    _void(session, redemption, "cancelled", now, reason)
    redemption.cancelled_at = now
    audit.record(
        session,
        actor=actor,
        action="redemption.cancel",
        entity_type="redemption",
        entity_id=redemption.id,
        now=now,
        reason=reason,
        details={"voucher": redemption.voucher_code, "points": redemption.points_cost},
    )
    return redemption


def refund_expiry(spent_points_expired_at: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """Refunded points keep the expiry of the points spent (the soonest, spent first).

    When that date has passed while the voucher was out, they get
    ``REFUND_GRACE`` from the refund instead, so a refund is never worthless.
    """
    if spent_points_expired_at is not None and spent_points_expired_at <= now:
        return now + REFUND_GRACE
    return spent_points_expired_at


def _void(session: Session, redemption: Redemption, status: str, now: dt.datetime, reason: str) -> None:
    customer = ledger.lock_customer(session, redemption.customer_id)
    redemption.status = status
    redemption.status_reason = reason[:200]
    ledger.credit(
        session,
        customer,
        kind="refund",
        points=redemption.points_cost,
        key=f"refund:redemption:{redemption.id}",
        now=now,
        expires_at=refund_expiry(redemption.points_expire_at, now),
        description=f"{redemption.reward.name} ({status})"[:200],
        redemption_id=redemption.id,
    )
    if redemption.reward.stock is not None:
        session.execute(update(Reward).where(Reward.id == redemption.reward_id).values(stock=Reward.stock + 1))


def expire_vouchers(session: Session, now: dt.datetime, batch: int = 200) -> int:
    """Unused vouchers past their date: points refunded, stock returned. One batch."""
    ids = list(
        session.scalars(
            select(Redemption.id)
            .where(Redemption.status == "issued", Redemption.expires_at <= now)
            .order_by(Redemption.id)
            .limit(batch)
        )
    )
    for rid in ids:
        redemption = lock_redemption(session, rid)
        if redemption.status == "issued":
            _void(session, redemption, "expired", now, "voucher expired unused")
    return len(ids)


def lock_redemption(session: Session, redemption_id: int) -> Redemption:
    stmt = (
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .with_for_update(of=Redemption)
        .execution_options(populate_existing=True)
    )
    redemption = session.scalar(stmt)
    if redemption is None:
        raise NotFound(f"redemption {redemption_id} does not exist")
    return redemption


def update_reward(
    session: Session,
    reward_id: int,
    *,
    name: str,
    points_cost: int,
    stock: int | None,
    per_customer_limit: int | None,
    description: str | None,
    starts_at: dt.datetime | None,
    ends_at: dt.datetime | None,
    active: bool,
) -> tuple[Reward, dict[str, Any]]:
    """Edit a catalog entry; returns it and what changed (``{field: [before, after]}``) for the audit log.

    Issued vouchers keep the points they cost: only future redemptions see a new price.
    """
    validate_reward(name, points_cost, stock, per_customer_limit, starts_at, ends_at)
    reward = session.get(Reward, reward_id, with_for_update=True)
    if reward is None:
        raise NotFound(f"reward {reward_id} does not exist")
    wanted: dict[str, Any] = {
        "name": name.strip(),
        "points_cost": points_cost,
        "stock": stock,
        "per_customer_limit": per_customer_limit,
        "description": description,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "active": active,
    }
    changes: dict[str, Any] = {}
    for attr, value in wanted.items():
        before = getattr(reward, attr)
        if before != value:
            changes[attr] = [_plain(before), _plain(value)]
            setattr(reward, attr, value)
    session.flush()
    return reward, changes


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.datetime) else value
