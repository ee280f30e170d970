"""Vouchers at the till: look one up, use it, undo that when the bill is voided.

Invariants:
- A voucher is used at most once at a time: ``issued -> used`` and back (``rollback``) under the
  redemption's row lock, so two tills racing for one code cannot both use it.
- A used voucher records where and when (``used_at``, ``used_store``, ``used_order_id``, ``used_by``);
  a rollback clears them and writes an audit entry that keeps what they were.
- An issued voucher past ``expires_at`` reads as ``expired`` at once, before the nightly job refunds
  its points, and can no longer be used.
- Using or rolling back never touches points: the points were spent when the voucher was issued and
  come back only when it is cancelled or expires unused (``domain.rewards``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from domain import audit
from domain.errors import DomainError, NotFound
from domain.rewards import Redemption, find_voucher, lock_redemption


class VoucherNotValid(DomainError):
    code = "voucher_not_valid"


def status_of(redemption: Redemption, now: dt.datetime) -> str:
    """``issued``, ``used``, ``expired`` or ``cancelled`` as a till must see it now."""
    if redemption.status == "issued" and redemption.expires_at <= now:
        return "expired"
    return redemption.status


def get_by_code(session: Session, code: str) -> Redemption:
    found = find_voucher(session, code) if code.strip() else None
    if found is None:
        raise NotFound("no voucher with this code")
    return found


@dataclass(frozen=True)
class Used:
    voucher: Redemption


def use(
    session: Session,
    redemption_id: int,
    *,
    actor: str,
    now: dt.datetime,
    store: str | None = None,
    order_id: str | None = None,
) -> Used:
    """Mark the voucher used; a voucher that is not ``issued`` (already used included) is refused.

    A till that retries after a timeout either sends the same ``Idempotency-Key`` (and gets the first
    answer again) or is told ``voucher_not_valid`` with ``voucher_status`` ``used``: never used twice.
    """
    redemption = lock_redemption(session, redemption_id)
    status = status_of(redemption, now)
    if status != "issued":
        raise VoucherNotValid(f"voucher {redemption.voucher_code} is {status}, not issued", voucher_status=status)
    redemption.status = "used"
    redemption.used_at, redemption.used_store, redemption.used_order_id = now, store, order_id
    redemption.used_by = actor
    audit.record(
        session,
        actor=actor,
        action="voucher.use",
        entity_type="redemption",
        entity_id=redemption.id,
        now=now,
        details={"voucher": redemption.voucher_code, "store": store, "order_id": order_id},
    )
    return Used(redemption)


def rollback(
    session: Session, redemption_id: int, *, actor: str, now: dt.datetime, reason: str | None = None
) -> Redemption:
    """Undo a use (the till voided the bill): the voucher is issued again, its points untouched."""
    redemption = lock_redemption(session, redemption_id)
    if redemption.status != "used":
        status = status_of(redemption, now)
        raise VoucherNotValid(f"voucher {redemption.voucher_code} is {status}, not used", voucher_status=status)
    before = {
        "used_at": redemption.used_at.isoformat() if redemption.used_at else None,
        "store": redemption.used_store,
        "order_id": redemption.used_order_id,
        "by": redemption.used_by,
    }
    redemption.status = "issued"
    redemption.used_at = redemption.used_store = redemption.used_order_id = redemption.used_by = None
    audit.record(
        session,
        actor=actor,
        action="voucher.rollback",
        entity_type="redemption",
        entity_id=redemption.id,
        now=now,
        reason=reason,
        details={"voucher": redemption.voucher_code, "was": before},
    )
    return redemption
