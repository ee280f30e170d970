"""Points as payment at a till: a hold reserves points until it is captured, released or expires.

Invariants, checked by ``verify``:
- ``Customer.points_held`` equals the sum of ``points`` over the customer's open holds (``pending``
  or ``held``); it changes only here, in the same transaction as the hold's status.
- ``available = points_balance - points_held`` is what chat redemptions, manual debits and new holds
  may spend (``ledger.debit`` checks it); a capture first gives back its own reservation, then spends.
- A hold moves ``pending -> held -> captured``, or ends ``released`` (by the till, by expiry, after
  too many wrong codes) or ``declined`` (by the member); a closed hold never opens again.
- Captured points are one ``redeem`` ledger entry keyed ``hold:<id>:capture``: a capture is spent once.
- The 6-digit code is stored only as a salted hash; ``MAX_CODE_ATTEMPTS`` wrong codes release the hold.
- The member's answer in WhatsApp (``answer``) moves only their own ``pending`` hold; an answer to any
  other hold changes nothing and says why (``Answer``).
- A capture, and a release that the member did not ask for (by the till, by expiry, after wrong codes),
  record one notification for the member (``points_paid`` / ``points_released``), keyed by the hold.

Locking rule: as for the ledger, every writer locks the customer row first (``ledger.lock_customer``),
then the hold row. A hold, a capture, a redemption and an expiry on one member are therefore serialised,
and no point is spent twice.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain import ledger
from domain.customers import Customer
from domain.db import Base, UTCDateTime, money
from domain.errors import DomainError, InsufficientPoints, NotFound, ValidationError
from domain.notifications import notify

OPEN = ("pending", "held")
STATUSES = ("pending", "held", "captured", "released", "declined")
MAX_CODE_ATTEMPTS = 3
MAX_POINTS = 10_000_000
EXPIRED, WRONG_CODES = "expired", "too many wrong codes"  # the ``status_reason`` of those releases
CAPTURE_PREFIX = "hold:"


class HoldNotOpen(DomainError):
    code = "hold_not_open"


class Hold(Base):
    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    points: Mapped[int]
    captured_points: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    code_salt: Mapped[str] = mapped_column(String(32))
    code_attempts: Mapped[int] = mapped_column(default=0)
    store: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64))
    # Who opened it: the API key's or staff member's name.
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # code (read out at the till) | whatsapp (the member tapped Confirm)
    verified_via: Mapped[str | None] = mapped_column(String(16))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status_reason: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_holds_customer_status", "customer_id", "status"),
        Index("ix_holds_status_expires", "status", "expires_at"),
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def attempts_left(self) -> int:
        return max(MAX_CODE_ATTEMPTS - self.code_attempts, 0)


def capture_key(hold_id: int) -> str:
    """The ledger key of a hold's capture: one spend per hold."""
    return f"{CAPTURE_PREFIX}{hold_id}:capture"


def is_capture(ledger_key: str) -> bool:
    """Is this ledger entry a points payment at a till (for the member's history)?"""
    return ledger_key.startswith(CAPTURE_PREFIX) and ledger_key.endswith(":capture")


def value_of(points: int, point_value: Decimal) -> Decimal:
    """What ``points`` pay, in money: points x the program's point value, to the paisa."""
    return money(Decimal(points) * point_value)


def _code_hash(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


@dataclass(frozen=True)
class Opened:
    hold: Hold
    code: str  # for the member's WhatsApp message only; never stored, never answered to the till


def open_hold(
    session: Session,
    customer_id: int,
    points: int,
    *,
    minutes: int,
    now: dt.datetime,
    actor: str,
    store: str | None = None,
    order_id: str | None = None,
) -> Opened:
    """Reserve ``points`` of the customer's available points for ``minutes``."""
    if not 0 < points <= MAX_POINTS:
        raise ValidationError(f"points must be between 1 and {MAX_POINTS}")
    customer = ledger.lock_customer(session, customer_id)
    for stale in _open_holds(session, customer.id, expired_by=now):
        _release(session, customer, stale, now, EXPIRED)
    available = customer.points_available
    if points > available:
        raise InsufficientPoints(
            f"needs {points} points but {available} are available: {points - available} more needed",
            needed=points,
            balance=available,
            short=points - available,
        )
    code, salt = new_code(), secrets.token_hex(8)
    hold = Hold(
        customer_id=customer.id,
        points=points,
        status="pending",
        code_hash=_code_hash(code, salt),
        code_salt=salt,
        code_attempts=0,
        store=store,
        order_id=order_id,
        actor=actor,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=minutes),
    )
    session.add(hold)
    customer.points_held += points
    session.flush()
    return Opened(hold, code)


def _open_holds(session: Session, customer_id: int, *, expired_by: dt.datetime) -> list[Hold]:
    stmt = select(Hold).where(Hold.customer_id == customer_id, Hold.status.in_(OPEN), Hold.expires_at <= expired_by)
    return list(session.scalars(stmt.with_for_update()))


def get(session: Session, hold_id: int) -> Hold:
    hold = session.get(Hold, hold_id)
    if hold is None:
        raise NotFound(f"hold {hold_id} does not exist")
    return hold


def _locked(session: Session, hold_id: int) -> tuple[Customer, Hold]:
    """Customer first, then the hold (the locking rule)."""
    customer = ledger.lock_customer(session, get(session, hold_id).customer_id)
    hold = session.scalar(
        select(Hold).where(Hold.id == hold_id).with_for_update().execution_options(populate_existing=True)
    )
    assert hold is not None
    return customer, hold


def _require_open(hold: Hold, now: dt.datetime, *statuses: str) -> None:
    wanted = statuses or OPEN
    if hold.status not in wanted:
        raise HoldNotOpen(f"hold {hold.id} is {hold.status}", status=hold.status)
    if hold.expires_at <= now:
        raise HoldNotOpen(f"hold {hold.id} expired at {hold.expires_at.isoformat()}", status="expired")


def _close(customer: Customer, hold: Hold, status: str, now: dt.datetime, reason: str | None) -> None:
    customer.points_held -= hold.points
    hold.status, hold.closed_at, hold.status_reason = status, now, reason


def _release(session: Session, customer: Customer, hold: Hold, now: dt.datetime, reason: str) -> None:
    """Give the points back, and tell the member why (the till, the clock or wrong codes; never their own Decline)."""
    _close(customer, hold, "released", now, reason)
    why = reason if reason in (EXPIRED, WRONG_CODES) else "till"
    payload = {"points": hold.points, "store": hold.store, "balance": customer.points_balance, "why": why}
    notify(session, customer.id, "points_released", f"hold:{hold.id}:released", payload, now)


class Verification(enum.Enum):
    VERIFIED = "verified"
    WRONG_CODE = "wrong_code"
    LOCKED = "locked"  # that was the last attempt: the hold is released


def verify_code(session: Session, hold_id: int, code: str, now: dt.datetime) -> tuple[Hold, Verification]:
    """The cashier types the code the member reads out. A wrong code counts (the caller commits it)."""
    customer, hold = _locked(session, hold_id)
    _require_open(hold, now, "pending")
    if hmac.compare_digest(_code_hash(code.strip(), hold.code_salt), hold.code_hash):
        hold.status, hold.verified_at, hold.verified_via = "held", now, "code"
        return hold, Verification.VERIFIED
    hold.code_attempts += 1
    if hold.code_attempts >= MAX_CODE_ATTEMPTS:
        _release(session, customer, hold, now, WRONG_CODES)
        return hold, Verification.LOCKED
    return hold, Verification.WRONG_CODE


class Answer(enum.Enum):
    """What the member's Confirm or Decline did."""

    CONFIRMED = "confirmed"  # pending -> held
    DECLINED = "declined"  # pending -> declined
    EXPIRED = "expired"  # its time had passed: released (now, if the expiry job had not yet), nothing paid
    NOT_PENDING = "not_pending"  # already held, captured, released or declined: ``hold.status`` says which


def answer(session: Session, hold_id: int, customer_id: int, confirmed: bool, now: dt.datetime) -> tuple[Hold, Answer]:
    """The member tapped Confirm or Decline in WhatsApp (or typed it): only their own hold, only while pending.

    Another member's hold is ``NotFound``, like one that does not exist, so a guessed id tells nothing.
    """
    found = session.get(Hold, hold_id)
    if found is None or found.customer_id != customer_id:
        raise NotFound(f"hold {hold_id} does not exist")
    customer, hold = _locked(session, hold_id)
    if hold.status != "pending":
        lapsed = hold.status == "released" and hold.status_reason == EXPIRED
        return hold, Answer.EXPIRED if lapsed else Answer.NOT_PENDING
    if hold.expires_at <= now:
        # The member is told in the chat reply; no notification on top.
        _close(customer, hold, "released", now, EXPIRED)
        return hold, Answer.EXPIRED
    if confirmed:
        hold.status, hold.verified_at, hold.verified_via = "held", now, "whatsapp"
        return hold, Answer.CONFIRMED
    _close(customer, hold, "declined", now, "declined by the member")
    return hold, Answer.DECLINED


def pending_for(session: Session, customer_id: int, now: dt.datetime) -> list[Hold]:
    """The member's holds still waiting for their answer (pending, not past their time), newest first."""
    stmt = (
        select(Hold)
        .where(Hold.customer_id == customer_id, Hold.status == "pending", Hold.expires_at > now)
        .order_by(Hold.id.desc())
    )
    return list(session.scalars(stmt))


def capture(session: Session, hold_id: int, points: int | None, now: dt.datetime) -> Hold:
    """Spend up to the held points (all of them without ``points``); the rest goes back."""
    customer, hold = _locked(session, hold_id)
    _require_open(hold, now, "held")
    spend = hold.points if points is None else points
    if not 0 < spend <= hold.points:
        raise ValidationError(f"points must be between 1 and the {hold.points} held", field="points")
    _close(customer, hold, "captured", now, None)
    hold.captured_points = spend
    ledger.debit(
        session,
        customer,
        kind="redeem",
        points=spend,
        key=capture_key(hold.id),
        now=now,
        description=f"points payment{' at ' + hold.store if hold.store else ''}"[:200],
        actor=hold.actor,
    )
    payload = {
        "points": spend,
        "returned": hold.points - spend,
        "store": hold.store,
        "balance": customer.points_balance,
    }
    notify(session, customer.id, "points_paid", f"hold:{hold.id}:captured", payload, now)
    return hold


def release(session: Session, hold_id: int, now: dt.datetime, reason: str = "released by the till") -> Hold:
    """Give the points back. Releasing a hold that is already released is a no-op, not an error."""
    customer, hold = _locked(session, hold_id)
    if hold.status == "released":
        return hold
    if not hold.is_open:
        raise HoldNotOpen(f"hold {hold.id} is {hold.status}", status=hold.status)
    _release(session, customer, hold, now, reason[:200])
    return hold


def expire_due(session: Session, now: dt.datetime, batch: int = 200) -> int:
    """Release one batch of open holds past their time; returns how many."""
    due = session.execute(
        select(Hold.id, Hold.customer_id)
        .where(Hold.status.in_(OPEN), Hold.expires_at <= now)
        .order_by(Hold.customer_id, Hold.id)
        .limit(batch)
    ).all()
    for hold_id, _customer_id in due:
        customer, hold = _locked(session, hold_id)
        if hold.is_open:
            _release(session, customer, hold, now, EXPIRED)
    return len(due)


@dataclass(frozen=True)
class HeldDrift:
    customer_id: int
    cached_held: int
    open_holds: int


def verify(session: Session) -> list[HeldDrift]:
    """Customers whose cached held points disagree with their open holds."""
    sums = (
        select(Hold.customer_id.label("cid"), func.sum(Hold.points).label("held"))
        .where(Hold.status.in_(OPEN))
        .group_by(Hold.customer_id)
        .subquery()
    )
    stmt = (
        select(Customer.id, Customer.points_held, func.coalesce(sums.c.held, 0))
        .outerjoin(sums, sums.c.cid == Customer.id)
        .where(or_(Customer.points_held != 0, sums.c.held.is_not(None)))
    )
    return [
        HeldDrift(cid, cached, int(held)) for cid, cached, held in session.execute(stmt) if cached != held or cached < 0
    ]


def open_for(session: Session, customer_id: int) -> list[Hold]:
    """The customer's open holds, newest first (the bot's balance reply, the console)."""
    stmt = select(Hold).where(Hold.customer_id == customer_id, Hold.status.in_(OPEN)).order_by(Hold.id.desc())
    return list(session.scalars(stmt))
