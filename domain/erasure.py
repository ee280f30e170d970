"""Erasure (DPDP Act s.12): the person disappears, the books stay right.

Invariants:
- The member row stays, anonymised in place: phone -> ``erased-<id>``, no name, email, birthday,
  WhatsApp user id or ERP id, a fresh referral code. Ledger entries, orders and commissions keep
  pointing at it as a number, so every past total is unchanged and ``loyalty verify`` stays clean.
- Open vouchers are voided without a refund, open holds (points as payment at a till) released, and
  the whole balance is forfeited as one ``forfeit`` ledger entry: the liability falls by exactly that
  balance. Points spent on vouchers or captured by holds stay spent.
- Commissions affiliates earned on the member's purchases stay as they are (payable). A member
  who was an affiliate keeps their commissions too; the affiliate record loses the identity and
  is suspended, so nobody new is attributed to it.
- The phone (and ERP id) go on the suppression list so the ERP does not bring the person back.
- Every package that holds personal data of its own registers a *forgetter* (``register``):
  the bot its conversations and messages, the ERP sync its quarantined rows. ``erase`` runs them
  all in the caller's transaction, which commits once.
- Free text that staff wrote about the member (audit reasons, ledger descriptions) is scrubbed of
  the phone and the name.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from domain import audit, consents, data_requests, holds, ledger, suppression
from domain.affiliate_models import Affiliate
from domain.audit import AuditEntry
from domain.customers import Customer, chat_address, erased_phone, unique_referral_code
from domain.data_requests import DataRequest
from domain.errors import InvalidTransition
from domain.ledger import LedgerEntry
from domain.notifications import Notification
from domain.privacy_settings import PrivacySettings
from domain.rewards import Redemption, Reward

ERASED = "[erased]"


@dataclass(frozen=True)
class Erased:
    """What a forgetter needs: the member's id, the phone and ERP id they had, and the stand-in."""

    customer_id: int
    phone: str
    token: str
    erp_customer_id: str | None
    scrub: Callable[[str], str]
    at: dt.datetime


Forgetter = Callable[[Session, Erased], None]
_forgetters: dict[str, Forgetter] = {}


def register(name: str, forgetter: Forgetter) -> None:
    """A package's forgetter; registering the same name again replaces it (apps are built many times)."""
    _forgetters[name] = forgetter


@dataclass(frozen=True)
class Outcome:
    customer_id: int
    points_forfeited: int
    vouchers_voided: int
    holds_released: int = 0

    def summary(self) -> str:
        held = f", {self.holds_released} open hold(s) released" if self.holds_released else ""
        return (
            f"erased member {self.customer_id}: {self.points_forfeited} points forfeited, "
            f"{self.vouchers_voided} open voucher(s) voided{held}"
        )


def erase(
    session: Session,
    customer_id: int,
    *,
    now: dt.datetime,
    actor: str,
    hash_key: str,
    reason: str = "erasure",
    reference: str | None = None,
) -> Outcome:
    """Erase one member in the caller's transaction; refuses a member erased already."""
    customer = ledger.lock_customer(session, customer_id)
    if customer.is_erased:
        raise InvalidTransition(f"member {customer_id} was erased already")
    phone, erp_id = chat_address(customer), customer.erp_customer_id
    scrub = scrubber(phone, customer.name)
    voided = _void_vouchers(session, customer.id, now)
    released = _release_holds(session, customer, now)
    forfeited = customer.points_balance
    if forfeited > 0:
        ledger.debit(
            session,
            customer,
            kind="forfeit",
            points=forfeited,
            key=f"forfeit:erasure:{customer.id}",
            now=now,
            description="balance forfeited on erasure",
            actor=actor,
        )
    for purpose in (consents.GUARDIAN, *consents.PURPOSES):
        consents.record(session, customer, purpose, False, channel="erasure", now=now, actor=actor)
    suppression.add(session, hash_key, phone=phone, erp_customer_id=erp_id, reason=reason, now=now)
    token = erased_phone(customer.id)
    _anonymise(session, customer, token, now)
    _forget_affiliate(session, customer.id, phone, now)
    _scrub_records(session, customer.id, phone, token, scrub)
    for forget in _forgetters.values():
        forget(session, Erased(customer.id, phone, token, erp_id, scrub, now))
    outcome = Outcome(customer.id, forfeited, voided, released)
    audit.record(
        session,
        actor=actor,
        action="customer.erase",
        entity_type="customer",
        entity_id=customer.id,
        now=now,
        reason=reason,
        details={
            "points_forfeited": forfeited,
            "vouchers_voided": voided,
            "holds_released": released,
            "request": reference,
        },
    )
    return outcome


def erase_for(
    session: Session, request: DataRequest, *, now: dt.datetime, actor: str, hash_key: str, reason: str = "erasure"
) -> Outcome:
    """Carry out an erasure request and close it as done, naming who handled it."""
    if request.kind != "erasure" or not request.is_open:
        raise InvalidTransition(f"request {request.reference} is not an open erasure request")
    outcome = erase(
        session,
        request.customer_id,
        now=now,
        actor=actor,
        hash_key=hash_key,
        reason=reason,
        reference=request.reference,
    )
    data_requests.close(request, "done", actor=actor, now=now, outcome=outcome.summary())
    return outcome


def erase_now(
    session: Session,
    customer: Customer,
    *,
    channel: str,
    now: dt.datetime,
    actor: str,
    hash_key: str,
    settings: PrivacySettings,
) -> tuple[DataRequest, Outcome]:
    """Staff or an operator erase a member at once: the member's waiting request, or a new one, is done."""
    request = data_requests.open_erasure(session, customer.id) or data_requests.open_request(
        session, customer, "erasure", channel=channel, now=now, settings=settings
    )
    return request, erase_for(session, request, now=now, actor=actor, hash_key=hash_key)


def _void_vouchers(session: Session, customer_id: int, now: dt.datetime) -> int:
    """Open vouchers die with the account: no refund (the points were spent), the stock comes back."""
    stmt = (
        select(Redemption)
        .where(Redemption.customer_id == customer_id, Redemption.status == "issued")
        .with_for_update(of=Redemption)
    )
    voided = 0
    for redemption in session.scalars(stmt):
        redemption.status, redemption.cancelled_at = "cancelled", now
        redemption.status_reason = "member erased: voucher voided"
        if redemption.reward.stock is not None:
            session.execute(update(Reward).where(Reward.id == redemption.reward_id).values(stock=Reward.stock + 1))
        voided += 1
    return voided


def _release_holds(session: Session, customer: Customer, now: dt.datetime) -> int:
    """Points reserved at a till go back to the balance (and are forfeited with it)."""
    open_holds = holds.open_for(session, customer.id)
    for hold in open_holds:
        holds.release(session, hold.id, now, reason="member erased")
    return len(open_holds)


def _anonymise(session: Session, customer: Customer, token: str, now: dt.datetime) -> None:
    customer.phone = token
    customer.name = customer.email = customer.wa_user_id = customer.erp_customer_id = None
    customer.birthday = None
    customer.referral_code = unique_referral_code(session)
    customer.erased_at = now
    customer.retention_warned_at = None
    session.execute(
        update(Notification)
        .where(Notification.customer_id == customer.id)
        .values(payload={})
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Notification)
        .where(Notification.customer_id == customer.id, Notification.status == "pending")
        .values(status="skipped", status_reason="member erased", dispatched_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(DataRequest)
        .where(DataRequest.customer_id == customer.id)
        .values(details={})
        .execution_options(synchronize_session=False)
    )


def _forget_affiliate(session: Session, customer_id: int, phone: str, now: dt.datetime) -> None:
    """The member was an affiliate too: commissions stay payable, the identity goes."""
    stmt = select(Affiliate).where(or_(Affiliate.customer_id == customer_id, Affiliate.phone == phone))
    for affiliate in session.scalars(stmt):
        affiliate.name = f"Erased affiliate {affiliate.id}"
        affiliate.phone = f"erased-a{affiliate.id}"
        affiliate.customer_id = None
        affiliate.note = None
        if affiliate.status in ("pending", "approved"):
            affiliate.status, affiliate.decided_at, affiliate.decided_by = "suspended", now, "erasure"


def _scrub_records(session: Session, customer_id: int, phone: str, token: str, scrub: Callable[[str], str]) -> None:
    """Audit entries about the member (by id, or by phone for conversations) and ledger texts."""
    about = or_(
        (AuditEntry.entity_type == "customer") & (AuditEntry.entity_id == str(customer_id)),
        AuditEntry.entity_id == phone,
    )
    for entry in session.scalars(select(AuditEntry).where(about)):
        if entry.entity_id == phone:
            entry.entity_id = token
        entry.reason = scrub(entry.reason) if entry.reason else entry.reason
        entry.details = scrub_json(entry.details or {}, scrub)
    for item in session.scalars(
        select(LedgerEntry).where(LedgerEntry.customer_id == customer_id, LedgerEntry.description.is_not(None))
    ):
        cleaned = scrub(item.description or "")
        if cleaned != item.description:
            item.description = cleaned[:200]


def scrubber(phone: str, name: str | None) -> Callable[[str], str]:
    """Replace the phone (E.164, digits, national) and each word of the name of three or more letters."""
    digits = phone.lstrip("+")
    national = digits[-10:]
    needles = [re.escape(p) for p in sorted({phone, digits, national}, key=len, reverse=True) if len(p) >= 6]
    words = [re.escape(w) for w in (name or "").split() if len(w) >= 3]
    # Word edges by hand: ``\b`` splits Devanagari words at their vowel signs, which are not ``\w``.
    letter = r"[\w\u0900-\u097F]"
    parts = needles + [rf"(?<!{letter}){w}(?!{letter})" for w in words]
    if not parts:
        return lambda text: text
    pattern = re.compile("|".join(parts), re.IGNORECASE)

    def scrub(text: str) -> str:
        return pattern.sub(ERASED, text)

    return scrub


def scrub_json(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_json(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v, scrub) for v in value]
    return value


def erased_ids(session: Session, ids: Iterable[int]) -> set[int]:
    """Which of these members are erased (for callers that hold ids, like the outbox)."""
    wanted = list(ids)
    if not wanted:
        return set()
    return set(session.scalars(select(Customer.id).where(Customer.id.in_(wanted), Customer.erased_at.is_not(None))))
