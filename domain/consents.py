"""The consent ledger: every consent given and withdrawn, append-only, per purpose.

Invariants:
- A row is never updated or deleted (erasure anonymises the member, not the ledger).
- The member's flags (``Customer.opted_in`` for service messages, ``Customer.marketing_opt_in``
  for marketing) are a cache of the newest row per purpose, written in the same transaction
  as the row by ``record`` and nothing else; ``mismatches`` finds any that disagree.
- "Could we message X for purpose P at time D" is answered from the ledger alone
  (``consented_at``): the newest row for (member, purpose) at or before D, granted or not.

Withdrawal is as easy as giving: the same function records both, from any channel.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Select, String, and_, func, or_, select
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from domain.customers import Customer
from domain.db import Base, UTCDateTime
from domain.errors import ValidationError

SERVICE = "service"  # WhatsApp service messages: points earned, vouchers, expiry notices
MARKETING = "marketing"  # campaigns and promotional automations
PURPOSES = (SERVICE, MARKETING)
# whatsapp: the member in the chat; stop_promotions: WhatsApp's own "Stop promotions" button (the
# user_preferences webhook); till / api: an integration API client; console: staff; cli: an operator;
# erp: the ERP import; migration: carried over from the single flag that came before this ledger.
CHANNELS = ("whatsapp", "stop_promotions", "till", "api", "console", "cli", "erp", "demo", "migration", "retention")


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool]
    channel: Mapped[str] = mapped_column(String(16))
    # The privacy notice the member was shown, when the channel showed one.
    notice_version: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    # Who recorded it: a staff email, an API key's name; None for the member themself.
    actor: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_consents_customer_purpose", "customer_id", "purpose", "recorded_at"),)


def record(
    session: Session,
    customer: Customer,
    purpose: str,
    granted: bool,
    *,
    channel: str,
    now: dt.datetime,
    notice_version: str | None = None,
    language: str | None = None,
    actor: str | None = None,
) -> bool:
    """Append a consent or a withdrawal and update the member's flag; returns whether the flag changed.

    A repeat of the current state is still recorded when it carries news (another notice version),
    but a plain repeat (STOP sent twice) adds no row.
    """
    if purpose not in PURPOSES:
        raise ValidationError(f"purpose must be one of {', '.join(PURPOSES)}")
    if channel not in CHANNELS:
        raise ValidationError(f"channel must be one of {', '.join(CHANNELS)}")
    current, changed_at = _flag(customer, purpose)
    if current == granted and changed_at is not None and notice_version is None:
        return False
    session.add(
        Consent(
            customer_id=customer.id,
            purpose=purpose,
            granted=granted,
            channel=channel,
            notice_version=notice_version,
            language=language,
            actor=actor,
            recorded_at=now,
        )
    )
    _set_flag(customer, purpose, granted, channel, now)
    return current != granted or changed_at is None


def _flag(customer: Customer, purpose: str) -> tuple[bool, dt.datetime | None]:
    if purpose == SERVICE:
        return customer.opted_in, customer.opt_in_changed_at
    return customer.marketing_opt_in, customer.marketing_changed_at


def _set_flag(customer: Customer, purpose: str, granted: bool, channel: str, now: dt.datetime) -> None:
    if purpose == SERVICE:
        customer.opted_in, customer.opt_in_changed_at, customer.opt_in_source = granted, now, channel
    else:
        customer.marketing_opt_in, customer.marketing_changed_at = granted, now


def history(session: Session, customer_id: int) -> list[Consent]:
    """Every consent row of one member, oldest first (for "my data" and the console)."""
    stmt = select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.recorded_at, Consent.id)
    return list(session.scalars(stmt))


def consented_at(purpose: str, when: dt.datetime) -> Select[int]:
    """The ids of the members whose newest row for ``purpose`` at or before ``when`` grants it."""
    newer = aliased(Consent)
    later_row = (
        select(newer.id)
        .where(
            newer.customer_id == Consent.customer_id,
            newer.purpose == purpose,
            newer.recorded_at <= when,
            or_(
                newer.recorded_at > Consent.recorded_at,
                and_(newer.recorded_at == Consent.recorded_at, newer.id > Consent.id),
            ),
        )
        .exists()
    )
    return select(Consent.customer_id).where(
        Consent.purpose == purpose, Consent.recorded_at <= when, Consent.granted.is_(True), ~later_row
    )


def mismatches(session: Session) -> list[int]:
    """Members whose cached flags disagree with their newest ledger rows (``loyalty verify``)."""
    bad: set[int] = set()
    for purpose, flag in ((SERVICE, Customer.opted_in), (MARKETING, Customer.marketing_opt_in)):
        newest = (
            select(Consent.customer_id, func.max(Consent.id).label("last_id"))
            .where(Consent.purpose == purpose)
            .group_by(Consent.customer_id)
            .subquery()
        )
        stmt = (
            select(Customer.id)
            .join(newest, newest.c.customer_id == Customer.id, isouter=True)
            .join(Consent, Consent.id == newest.c.last_id, isouter=True)
            .where(
                or_(and_(Consent.id.is_(None), flag.is_(True)), and_(Consent.id.is_not(None), Consent.granted != flag))
            )
        )
        bad.update(session.scalars(stmt))
    return sorted(bad)
