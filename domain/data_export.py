"""Everything held about one member (DPDP Act s.11): the summary for chat, the full export, its CSV.

The export is one JSON-able document: the member row, consents, points ledger, orders and
returns, vouchers, referral and affiliate data, data requests, and who the data is shared with.
Packages that hold more (the bot's messages) add their section with ``register``, as they add
a forgetter for erasure, so the export and the erasure cover the same data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import affiliates, birthdays, consents, data_requests, holds
from domain.affiliate_models import Affiliate
from domain.customers import Customer
from domain.ledger import LedgerEntry
from domain.rewards import Redemption
from domain.sales import Order, OrderReturn

# Who else gets the member's data, and why (the notice lists the same).
SHARED_WITH = (
    ("the shop's billing system (ERP)", "purchases and your phone number, to credit points for what you buy"),
    ("Meta Platforms (WhatsApp Business Platform)", "your number and our messages, to deliver them"),
)

Section = Callable[[Session, Customer], Any]
_sections: dict[str, Section] = {}


def register(name: str, section: Section) -> None:
    """A package's own part of the export (registering the same name again replaces it)."""
    _sections[name] = section


@dataclass(frozen=True)
class Summary:
    """What "my data" answers in chat."""

    name: str | None
    phone: str
    language: str
    birthday: dt.date | None
    joined: dt.datetime
    service_messages: bool
    marketing: bool
    points: int
    tier: str
    orders: int
    open_vouchers: int
    vouchers: int
    referral_code: str
    referred_by_someone: bool
    friends_referred: int
    came_through_affiliate: bool
    affiliate_status: str | None


def summary(session: Session, customer: Customer) -> Summary:
    vouchers = dict(
        session.execute(
            select(Redemption.status, func.count(Redemption.id))
            .where(Redemption.customer_id == customer.id)
            .group_by(Redemption.status)
        ).all()
    )
    own = _own_affiliate(session, customer)
    return Summary(
        name=customer.name,
        phone=customer.phone,
        language=customer.language,
        birthday=customer.birthday,
        joined=customer.created_at,
        service_messages=customer.opted_in,
        marketing=customer.marketing_opt_in,
        points=customer.points_balance,
        tier=customer.tier,
        orders=_count(session, select(func.count(Order.id)).where(Order.customer_id == customer.id)),
        open_vouchers=int(vouchers.get("issued", 0)),
        vouchers=sum(int(n) for n in vouchers.values()),
        referral_code=customer.referral_code,
        referred_by_someone=customer.referred_by_id is not None,
        friends_referred=_count(session, select(func.count(Customer.id)).where(Customer.referred_by_id == customer.id)),
        came_through_affiliate=customer.affiliate_id is not None,
        affiliate_status=own.status if own else None,
    )


def export(session: Session, customer: Customer, now: dt.datetime) -> dict[str, Any]:
    """The whole document, in plain JSON types."""
    document: dict[str, Any] = {
        "generated_at": _plain(now),
        "member": _member(customer),
        "consents": [
            _row(c, "purpose", "granted", "channel", "notice_version", "language", "recorded_at")
            for c in consents.history(session, customer.id)
        ],
        "points_ledger": [
            _row(e, "created_at", "kind", "delta", "description", "expires_at", "remaining")
            for e in session.scalars(
                select(LedgerEntry).where(LedgerEntry.customer_id == customer.id).order_by(LedgerEntry.id)
            )
        ],
        "orders": _orders(session, customer.id),
        "vouchers": [
            {**_row(r, "voucher_code", "status", "points_cost", "issued_at", "expires_at"), "reward": r.reward.name}
            for r in session.scalars(
                select(Redemption).where(Redemption.customer_id == customer.id).order_by(Redemption.id)
            )
        ],
        "points_payments": [
            _row(h, "created_at", "points", "captured_points", "status", "store", "closed_at")
            for h in session.scalars(
                select(holds.Hold).where(holds.Hold.customer_id == customer.id).order_by(holds.Hold.id)
            )
        ],
        "referrals": {
            "your_code": customer.referral_code,
            "referred_by_someone": customer.referred_by_id is not None,
            "referred_at": _plain(customer.referred_at),
            "friends_referred": summary(session, customer).friends_referred,
        },
        "affiliate": _affiliate(session, customer),
        "data_requests": [
            _row(r, "reference", "kind", "status", "channel", "created_at", "due_at", "handled_at")
            for r in data_requests.of_customer(session, customer.id)
        ],
        "shared_with": [{"recipient": who, "what_and_why": why} for who, why in SHARED_WITH],
    }
    for name, section in sorted(_sections.items()):
        document[name] = section(session, customer)
    return document


def csv_rows(document: dict[str, Any]) -> Iterator[list[str]]:
    """The export flattened for a spreadsheet: ``section, record, field, value`` per value."""
    yield ["section", "record", "field", "value"]
    for section, content in document.items():
        records = content if isinstance(content, list) else [content]
        for number, record in enumerate(records, start=1):
            if isinstance(record, dict):
                for field, value in _flat(record):
                    yield [section, str(number), field, _text(value)]
            else:
                yield [section, str(number), "", _text(record)]


def _flat(record: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flat(value, f"{name}.")
        elif isinstance(value, list):
            for index, item in enumerate(value, start=1):
                yield from _flat(item, f"{name}.{index}.") if isinstance(item, dict) else [(f"{name}.{index}", item)]
        else:
            yield name, value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _member(c: Customer) -> dict[str, Any]:
    fields = ["id", "phone", "name", "email", "language", "birthday", "source", "erp_customer_id", "tier"]
    fields += ["points_balance", "points_owed", "lifetime_points", "referral_code", "created_at", "last_active_at"]
    return {
        **_row(c, *fields),
        "birthday": birthdays.iso(c.birthday) if c.birthday else None,
        "service_messages": c.opted_in,
        "marketing_messages": c.marketing_opt_in,
    }


def _orders(session: Session, customer_id: int) -> list[dict[str, Any]]:
    found = []
    for order in session.scalars(select(Order).where(Order.customer_id == customer_id).order_by(Order.order_date)):
        row = _row(order, "erp_order_id", "bill_no", "order_date", "net_amount", "returned_amount", "status")
        row["points"] = order.points_awarded
        row["lines"] = [_row(line, "line_no", "erp_product_id", "category", "qty", "amount") for line in order.lines]
        row["returns"] = [
            _row(r, "erp_return_id", "return_date", "amount", "points_clawed")
            for r in session.scalars(select(OrderReturn).where(OrderReturn.order_id == order.id))
        ]
        found.append(row)
    return found


def _own_affiliate(session: Session, customer: Customer) -> Affiliate | None:
    return session.scalar(select(Affiliate).where(Affiliate.customer_id == customer.id))


def _affiliate(session: Session, customer: Customer) -> dict[str, Any]:
    via = session.get(Affiliate, customer.affiliate_id) if customer.affiliate_id else None
    own = _own_affiliate(session, customer)
    data: dict[str, Any] = {
        "came_through_affiliate_code": via.code if via else None,
        "attributed_at": _plain(customer.affiliate_attributed_at),
    }
    if own is not None:
        money = affiliates.totals(session, own.id)
        data["your_affiliate_account"] = {
            **_row(own, "code", "status", "kind", "applied_at"),
            "commission": {state: _plain(amount) for state, amount in money.items()},
        }
    return data


def _row(obj: Any, *names: str) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in names}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(stmt) or 0)
