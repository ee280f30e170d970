"""The console's CSV reports and payout statements, streamed row by row.

Each report is one SELECT whose labelled columns are also its header, so the
header and the rows cannot drift apart; rows come in batches of ``STREAM_BATCH``
so that memory stays flat however long the range. Test members (``Customer.is_test``)
and their entries are left out of every report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from domain.affiliate_models import Affiliate, Commission
from domain.customers import Customer
from domain.ledger import LedgerEntry
from domain.rewards import Redemption, Reward

REPORTS = ("members", "ledger", "redemptions", "commissions")
STREAM_BATCH = 1000


def report_header(kind: str) -> list[str]:
    return [column.name for column in _report_query(kind, _EPOCH, _EPOCH).selected_columns]


def report_rows(session: Session, kind: str, start: dt.datetime, end: dt.datetime) -> Iterator[list[Any]]:
    """The rows of one report created in ``[start, end)``, streamed in batches, oldest first."""
    stmt = _report_query(kind, start, end).execution_options(yield_per=STREAM_BATCH)
    for row in session.execute(stmt):
        yield [_cell(value) for value in row]


def _report_query(kind: str, start: dt.datetime, end: dt.datetime) -> Select[*tuple[Any, ...]]:
    if kind == "members":
        c = Customer
        columns = (c.id, c.phone, c.name, c.source, c.tier, c.points_balance, c.lifetime_points, c.opted_in)
        return (
            select(*columns, c.referral_code, c.created_at, c.last_active_at)
            .where(c.created_at >= start, c.created_at < end, c.is_test.is_(False))
            .order_by(c.created_at, c.id)
        )
    if kind == "ledger":
        e = LedgerEntry
        return (
            select(e.id, e.customer_id, e.kind, e.delta, e.description, e.actor, e.idempotency_key, e.created_at)
            .where(e.created_at >= start, e.created_at < end, _real(e.customer_id))
            .order_by(e.created_at, e.id)
        )
    if kind == "redemptions":
        r = Redemption
        return (
            select(r.id, r.customer_id, Reward.name.label("reward"), r.points_cost, r.voucher_code, r.status)
            .add_columns(r.issued_at, r.used_at, r.used_store, r.cancelled_at)
            .join(Reward, Reward.id == r.reward_id)
            .where(r.issued_at >= start, r.issued_at < end, _real(r.customer_id))
            .order_by(r.issued_at, r.id)
        )
    if kind == "commissions":
        m = Commission
        return (
            select(m.id, m.affiliate_id, Affiliate.name.label("affiliate"), m.customer_id, m.order_id, m.kind)
            .add_columns(m.amount, m.currency, m.status, m.created_at, m.paid_at, m.payout_id)
            .join(Affiliate, Affiliate.id == m.affiliate_id)
            .where(m.created_at >= start, m.created_at < end, _real(m.customer_id))
            .order_by(m.created_at, m.id)
        )
    raise ValueError(f"unknown report {kind}")


def _real(customer_id: Any) -> ColumnElement[bool]:
    """Not a test member's row (a row without a customer is kept)."""
    return ~exists().where(Customer.id == customer_id, Customer.is_test.is_(True))


def payout_rows(session: Session, payout_id: int) -> Iterator[list[Any]]:
    """The commissions settled by one payout, for the payout's CSV (``PAYOUT_HEADER``)."""
    m = Commission
    stmt = (
        select(m.id, m.customer_id, m.order_id, m.kind, m.amount, m.currency, m.created_at, m.paid_at)
        .where(m.payout_id == payout_id)
        .order_by(m.id)
    )
    for row in session.execute(stmt):
        yield [_cell(value) for value in row]


PAYOUT_HEADER = ["commission_id", "customer_id", "order_id", "kind", "amount", "currency", "created_at", "paid_at"]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    return value
