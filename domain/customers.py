"""Customers: one per E.164 phone number (or WhatsApp user id: ``domain.user_ids``), however they first reached us."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, ForeignKey, String, false, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.affiliate_models import Affiliate
from domain.codes import clean_code, random_code
from domain.db import Base, UTCDateTime, utcnow
from domain.errors import NotFound, ValidationError
from domain.phones import normalize_phone

LANGUAGES = ("en", "hi")
SOURCES = ("erp", "whatsapp", "referral", "affiliate", "staff", "demo", "api")
REFERRAL_CODE_LENGTH = 6
ERASED_PHONE_PREFIX = "erased-"


def erased_phone(customer_id: int) -> str:
    """What an erased member's phone column holds: unique, and no one's number."""
    return f"{ERASED_PHONE_PREFIX}{customer_id}"


def chat_address(customer: Customer) -> str:
    """Where the bot writes to the member: the phone, else the WhatsApp user id of a username-only member."""
    return customer.phone or customer.wa_user_id or erased_phone(customer.id)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # E.164; none for a member who writes from a WhatsApp username only (known by ``wa_user_id``).
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8), default="en")
    source: Mapped[str] = mapped_column(String(16), default="whatsapp")
    erp_customer_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    wa_user_id: Mapped[str | None] = mapped_column(String(140), index=True, unique=True)  # up to "XX.ENT." + 128

    # Consent flags: a cache of the newest row per purpose in the consent ledger (``domain.consents``).
    opted_in: Mapped[bool] = mapped_column(default=False)  # service messages
    opt_in_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    opt_in_source: Mapped[str | None] = mapped_column(String(32))
    marketing_opt_in: Mapped[bool] = mapped_column(default=False, server_default=false())
    marketing_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    birthday: Mapped[dt.date | None] = mapped_column(Date)
    # A test member (the console's simulator acts only on these); left out of reports and dashboards.
    is_test: Mapped[bool] = mapped_column(default=False, server_default=false())

    tier: Mapped[str] = mapped_column(String(16), default="silver")
    tier_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Cached from the ledger in the same transaction as every entry; `loyalty verify` checks it.
    points_balance: Mapped[int] = mapped_column(default=0)
    # Points a return took back that the balance could not cover (see docs/POLICIES.md).
    points_owed: Mapped[int] = mapped_column(default=0)
    # Reserved by open holds (points as payment at a till, ``domain.holds``): part of the balance, not spendable.
    points_held: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    lifetime_points: Mapped[int] = mapped_column(default=0)

    referral_code: Mapped[str] = mapped_column(String(16), unique=True)
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    referred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    referral_rewarded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The purchase that earned the referral bonuses (no FK: orders point at customers).
    referral_order_id: Mapped[int | None]
    referral_reversed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    affiliate_id: Mapped[int | None] = mapped_column(ForeignKey("affiliates.id"), index=True)
    affiliate_attributed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    first_purchase_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_active_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    # Erasure anonymises the row in place (``domain.erasure``): it stays, as a number, for the books.
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    # When the retention job warned an inactive member that they will be erased (``domain.retention``).
    retention_warned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def points_available(self) -> int:
        """What may be spent now: the balance less the points open holds reserve."""
        return max(self.points_balance - self.points_held, 0)

    def __repr__(self) -> str:
        return f"<Customer {self.id}>"


@dataclass(frozen=True)
class NewCustomer:
    phone: str
    name: str | None = None
    language: str = "en"
    source: str = "whatsapp"
    erp_customer_id: str | None = None
    email: str | None = None


def find_by_phone(session: Session, raw_phone: str, country_code: int = 91) -> Customer | None:
    return find_by_e164(session, normalize_phone(raw_phone, country_code))


def find_by_e164(session: Session, phone: str) -> Customer | None:
    """The customer with this phone, already normalised (``normalize_phone``): no second parse."""
    return session.scalar(select(Customer).where(Customer.phone == phone))


def get_by_phone(session: Session, raw_phone: str, country_code: int = 91) -> Customer:
    customer = find_by_phone(session, raw_phone, country_code)
    if customer is None:
        # The number is not repeated: it may be an erased member's, and erased numbers appear nowhere.
        raise NotFound("unknown customer: no customer has that phone number")
    return customer


def find_by_referral_code(session: Session, code: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.referral_code == clean_code(code)))


def enrol(session: Session, new: NewCustomer, now: dt.datetime, country_code: int = 91) -> tuple[Customer, bool]:
    """Find the customer with this phone or create one; returns ``(customer, created)``."""
    phone = normalize_phone(new.phone, country_code)
    existing = session.scalar(select(Customer).where(Customer.phone == phone))
    if existing is not None:
        _fill_blanks(existing, new)
        return existing, False
    if new.language not in LANGUAGES:
        raise ValidationError(f"language must be one of {', '.join(LANGUAGES)}")
    if new.source not in SOURCES:
        raise ValidationError(f"source must be one of {', '.join(SOURCES)}")
    customer = new_member(
        session,
        now,
        phone=phone,
        name=new.name,
        email=new.email,
        language=new.language,
        source=new.source,
        erp_customer_id=new.erp_customer_id,
    )
    try:
        with session.begin_nested():
            session.add(customer)
    except IntegrityError:
        # Another transaction enrolled the same phone between our look-up and
        # insert (two first messages at once): theirs wins, ours is the same person.
        winner = session.scalar(select(Customer).where(Customer.phone == phone))
        if winner is None:
            raise
        _fill_blanks(winner, new)
        return winner, False
    return customer, True


def new_member(session: Session, now: dt.datetime, *, name: str | None, **identity: Any) -> Customer:
    """A new member's row (not yet added): its own referral code, the first tier, nothing earned or consented."""
    return Customer(
        **identity,
        name=(name or "").strip() or None,
        referral_code=unique_referral_code(session),
        created_at=now,
        tier="silver",
        points_balance=0,
        points_owed=0,
        points_held=0,
        lifetime_points=0,
        opted_in=False,
        marketing_opt_in=False,
        is_test=False,
    )


def _fill_blanks(customer: Customer, new: NewCustomer) -> None:
    if not customer.name and new.name:
        customer.name = new.name.strip()
    if not customer.erp_customer_id and new.erp_customer_id:
        customer.erp_customer_id = new.erp_customer_id
    if not customer.email and new.email:
        customer.email = new.email


def unique_referral_code(session: Session) -> str:
    """A code no customer and no affiliate has: both kinds are typed into the same ``JOIN <code>``."""
    while True:
        code = random_code(REFERRAL_CODE_LENGTH)
        taken = session.scalar(select(Customer.id).where(Customer.referral_code == code)) or session.scalar(
            select(Affiliate.id).where(Affiliate.code == code)
        )
        if not taken:
            return code


def search(session: Session, query: str, country_code: int = 91, limit: int = 50, offset: int = 0) -> list[Customer]:
    """Staff search: a phone in any format, a referral code, an ERP id, or part of a name."""
    from domain.errors import InvalidPhone

    text = query.strip()
    if not text:
        stmt = select(Customer).order_by(Customer.id.desc())
        return list(session.scalars(stmt.limit(limit).offset(offset)))
    conditions = [Customer.referral_code == clean_code(text), Customer.erp_customer_id == text]
    with contextlib.suppress(InvalidPhone):
        conditions.append(Customer.phone == normalize_phone(text, country_code))
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) >= 4 and len(digits) == len(text.replace(" ", "").lstrip("+")):
        conditions.append(Customer.phone.like(f"%{digits}%"))
    if len(text) >= 2:
        # Escaped: a typed ``%`` or ``_`` is a character to find, not a wildcard (``%%`` listed everyone).
        conditions.append(func.lower(Customer.name).contains(text.lower(), autoescape=True))
    stmt = select(Customer).where(or_(*conditions)).order_by(Customer.id.desc())
    return list(session.scalars(stmt.limit(limit).offset(offset)))
