"""The points ledger: append-only entries, a cached balance, oldest points spent first.

Every credit is a *lot* with the points still unspent (``remaining``) and when
they expire. Debits consume lots soonest-expiring first. Invariants, checked by
``verify``: for each customer the cached balance equals the sum of deltas and
the sum of lots' ``remaining``, and ``points_owed`` equals the sum of
``owed_delta``. Points reserved by open holds (``Customer.points_held``, see
``domain.holds``) stay in the balance but are not spent by ``debit`` unless it
takes a shortfall.

All writers lock the customer row first (``SELECT ... FOR UPDATE``), so entries
for one customer are serialised and idempotency checks cannot race.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ForeignKey, Index, String, and_, bindparam, case, func, or_, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain import audit
from domain.customers import Customer
from domain.db import Base, UTCDateTime
from domain.errors import InsufficientPoints, NotFound, ValidationError
from domain.limits import MAX_ADJUSTMENT, MAX_BALANCE, in_range

# bonus: points an automation gives (a birthday bonus, ``domain.automation_runs``), once per occasion.
CREDIT_KINDS = ("earn", "refund", "adjust", "referral_bonus", "bonus")
# forfeit: the balance an erased member gives up (``domain.erasure``), so the liability falls by exactly that.
DEBIT_KINDS = ("redeem", "adjust", "expire", "clawback", "forfeit")
KINDS = ("earn", "redeem", "refund", "adjust", "expire", "clawback", "referral_bonus", "forfeit", "bonus")


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(16))
    delta: Mapped[int]
    # Unique per source, e.g. "erp:order:123": applying the same source twice is a no-op.
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    remaining: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    owed_delta: Mapped[int] = mapped_column(default=0)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id"), index=True)
    description: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_ledger_entries_customer_created", "customer_id", "created_at"),
        Index(
            "ix_ledger_entries_open_lots",
            "customer_id",
            "expires_at",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
        Index(
            "ix_ledger_entries_expiring",
            "expires_at",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
        # delta rides along (PostgreSQL INCLUDE) so the console's points chart sums each kind and month with an
        # index-only range scan.
        Index("ix_ledger_entries_kind_created", "kind", "created_at", postgresql_include=["delta"]),
        # The console's dashboard and reports read entries by date range.
        Index("ix_ledger_entries_created_at", "created_at"),
    )


@dataclass(frozen=True)
class Posting:
    """What one ledger write did: the entry, and whether it was new."""

    entry: LedgerEntry
    created: bool


# Built once: every ledger writer runs it.
_LOCK_CUSTOMER = (
    select(Customer)
    .where(Customer.id == bindparam("customer_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def lock_customer(session: Session, customer_id: int) -> Customer:
    """Load the customer row locked for update; every ledger writer starts here."""
    customer = session.scalar(_LOCK_CUSTOMER, {"customer_id": customer_id})
    if customer is None:
        raise NotFound(f"customer {customer_id} does not exist")
    return customer


def existing_entry(session: Session, key: str) -> LedgerEntry | None:
    return session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))


def credit(
    session: Session,
    customer: Customer,
    *,
    kind: str,
    points: int,
    key: str,
    now: dt.datetime,
    expires_at: dt.datetime | None,
    description: str | None = None,
    actor: str | None = None,
    order_id: int | None = None,
    redemption_id: int | None = None,
) -> Posting:
    """Add a lot of ``points``. Points owed from earlier returns are settled from it first."""
    if kind not in CREDIT_KINDS:
        raise ValidationError(f"{kind} is not a credit")
    if points <= 0:
        raise ValidationError("a credit must be a positive number of points")
    found = existing_entry(session, key)
    if found is not None:
        return Posting(found, False)
    entry = LedgerEntry(
        customer_id=customer.id,
        kind=kind,
        delta=points,
        idempotency_key=key,
        remaining=points,
        expires_at=expires_at,
        owed_delta=0,
        order_id=order_id,
        redemption_id=redemption_id,
        description=description,
        actor=actor,
        created_at=now,
    )
    session.add(entry)
    customer.points_balance += points
    if kind in ("earn", "referral_bonus", "bonus"):
        customer.lifetime_points += points
    if customer.points_owed > 0:
        _settle_owed(session, customer, entry, now)
    session.flush()
    return Posting(entry, True)


def _settle_owed(session: Session, customer: Customer, lot: LedgerEntry, now: dt.datetime) -> None:
    settled = min(customer.points_owed, lot.remaining)
    lot.remaining -= settled
    customer.points_owed -= settled
    customer.points_balance -= settled
    session.add(
        LedgerEntry(
            customer_id=customer.id,
            kind="clawback",
            delta=-settled,
            idempotency_key=f"{lot.idempotency_key}:settle",
            remaining=0,
            owed_delta=-settled,
            description="points owed from an earlier return",
            created_at=now,
        )
    )


def debit(
    session: Session,
    customer: Customer,
    *,
    kind: str,
    points: int,
    key: str,
    now: dt.datetime,
    description: str | None = None,
    actor: str | None = None,
    order_id: int | None = None,
    redemption_id: int | None = None,
    allow_shortfall: bool = False,
) -> Posting:
    """Spend ``points`` from the oldest lots first.

    Without enough points this refuses, unless ``allow_shortfall`` (returns of
    points already spent): then it takes what there is and records the rest as
    ``points_owed``, settled from future credits. The balance never goes negative.
    """
    if kind not in DEBIT_KINDS:
        raise ValidationError(f"{kind} is not a debit")
    if points <= 0:
        raise ValidationError("a debit must be a positive number of points")
    found = existing_entry(session, key)
    if found is not None:
        return Posting(found, False)
    # Points open holds reserve are not spendable; a shortfall debit (a return) takes from the whole balance.
    available = customer.points_balance if allow_shortfall else customer.points_available
    if points > available and not allow_shortfall:
        raise InsufficientPoints(
            f"needs {points} points but the balance is {available}: {points - available} more needed",
            needed=points,
            balance=available,
            short=points - available,
        )
    taken = min(points, available)
    _consume_lots(session, customer.id, taken)
    shortfall = points - taken
    entry = LedgerEntry(
        customer_id=customer.id,
        kind=kind,
        delta=-taken,
        idempotency_key=key,
        remaining=0,
        owed_delta=shortfall,
        order_id=order_id,
        redemption_id=redemption_id,
        description=description,
        actor=actor,
        created_at=now,
    )
    session.add(entry)
    customer.points_balance -= taken
    customer.points_owed += shortfall
    session.flush()
    return Posting(entry, True)


def _consume_lots(session: Session, customer_id: int, points: int) -> None:
    if points == 0:
        return
    lots = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.customer_id == customer_id, LedgerEntry.remaining > 0)
        .order_by(LedgerEntry.expires_at.is_(None), LedgerEntry.expires_at, LedgerEntry.id)
    )
    left = points
    for lot in lots:
        used = min(lot.remaining, left)
        lot.remaining -= used
        left -= used
        if left == 0:
            return
    raise AssertionError(f"customer {customer_id}: lots hold fewer points than the cached balance")


def earliest_open_expiry(session: Session, customer_id: int) -> dt.datetime | None:
    return session.scalar(
        select(func.min(LedgerEntry.expires_at)).where(
            LedgerEntry.customer_id == customer_id, LedgerEntry.remaining > 0
        )
    )


def history(session: Session, customer_id: int, limit: int = 10, offset: int = 0) -> list[LedgerEntry]:
    stmt = (
        select(LedgerEntry)
        .where(LedgerEntry.customer_id == customer_id)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def history_after(session: Session, customer_id: int, limit: int, after_id: int | None = None) -> list[LedgerEntry]:
    """Newest first, the ``limit`` entries that follow entry ``after_id`` (a cursor: stable while entries arrive)."""
    stmt = select(LedgerEntry).where(LedgerEntry.customer_id == customer_id)
    if after_id is not None:
        anchor = session.get(LedgerEntry, after_id)
        if anchor is None or anchor.customer_id != customer_id:
            raise ValidationError("not a cursor of this member's ledger", field="starting_after")
        stmt = stmt.where(
            or_(
                LedgerEntry.created_at < anchor.created_at,
                and_(LedgerEntry.created_at == anchor.created_at, LedgerEntry.id < anchor.id),
            )
        )
    stmt = stmt.order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def adjust(
    session: Session,
    customer_id: int,
    points: int,
    *,
    reason: str,
    actor: str,
    key: str,
    now: dt.datetime,
    expires_at: dt.datetime | None,
) -> Posting:
    """A manual adjustment by staff or the CLI, with its audit entry (who, what, when, why).

    Positive points are a new lot expiring at ``expires_at``; negative points
    are spent oldest first and refused beyond the balance.
    """
    if not reason.strip():
        raise ValidationError("a reason is required for a manual adjustment")
    if points == 0:
        raise ValidationError("an adjustment must change the balance")
    in_range("points", points, -MAX_ADJUSTMENT, MAX_ADJUSTMENT)
    customer = lock_customer(session, customer_id)
    in_range("the balance after the adjustment", customer.points_balance + points, -MAX_BALANCE, MAX_BALANCE)
    note = reason.strip()[:200]
    if points > 0:
        posting = credit(
            session,
            customer,
            kind="adjust",
            points=points,
            key=key,
            now=now,
            expires_at=expires_at,
            description=note,
            actor=actor,
        )
    else:
        posting = debit(
            session, customer, kind="adjust", points=-points, key=key, now=now, description=note, actor=actor
        )
    if posting.created:
        audit.record(
            session,
            actor=actor,
            action="points.adjust",
            entity_type="customer",
            entity_id=customer_id,
            now=now,
            reason=reason.strip(),
            details={"points": points, "entry": posting.entry.id, "balance": customer.points_balance},
        )
    return posting


@dataclass(frozen=True)
class Drift:
    customer_id: int
    cached_balance: int
    ledger_balance: int
    lots_remaining: int
    cached_owed: int
    ledger_owed: int
    # Entries whose unspent points are impossible: negative, more than the credit, or on a debit.
    bad_lots: int = 0


def verify(session: Session) -> list[Drift]:
    """Recompute every balance from the ledger; returns the customers that disagree."""
    impossible = or_(
        LedgerEntry.remaining < 0,
        and_(LedgerEntry.delta >= 0, LedgerEntry.remaining > LedgerEntry.delta),
        and_(LedgerEntry.delta < 0, LedgerEntry.remaining != 0),
    )
    sums = (
        select(
            LedgerEntry.customer_id.label("cid"),
            func.coalesce(func.sum(LedgerEntry.delta), 0).label("balance"),
            func.coalesce(func.sum(LedgerEntry.remaining), 0).label("lots"),
            func.coalesce(func.sum(LedgerEntry.owed_delta), 0).label("owed"),
            func.coalesce(func.sum(case((impossible, 1), else_=0)), 0).label("bad"),
        )
        .group_by(LedgerEntry.customer_id)
        .subquery()
    )
    stmt = select(
        Customer.id,
        Customer.points_balance,
        Customer.points_owed,
        func.coalesce(sums.c.balance, 0),
        func.coalesce(sums.c.lots, 0),
        func.coalesce(sums.c.owed, 0),
        func.coalesce(sums.c.bad, 0),
    ).outerjoin(sums, sums.c.cid == Customer.id)
    drifts = []
    for cid, cached, owed, balance, lots, ledger_owed, bad in session.execute(stmt):
        if not (cached == balance == lots and owed == ledger_owed) or min(cached, owed) < 0 or bad:
            drifts.append(Drift(cid, cached, int(balance), int(lots), owed, int(ledger_owed), int(bad)))
    return drifts
