"""Read-only figures for the staff console: the dashboard and the CSV reports.

Everything is aggregated in SQL so that the dashboard stays fast with a million
ledger rows: one query over the window's ledger entries for the points chart
(on PostgreSQL a kind by month grid of index-only range scans, ``_kind_month_sums``),
one for new members, one over customers for the totals. Bucketing a timestamp by
month differs between the backends and lives in ``month_bucket``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Integer, Select, String, case, column, func, select, true, values
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from domain.customers import SOURCES, Customer
from domain.db import money
from domain.ledger import KINDS, LedgerEntry
from domain.rules import ProgramRules

ACTIVE_DAYS = 30
_FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def month_bucket(session: Session, column: Any, keys: list[str]) -> ColumnElement[Any]:
    """Which of the consecutive months ``keys`` a timestamp column falls in.

    On PostgreSQL ``width_bucket`` over the month starts gives the 1-based position: a binary search
    on the raw value rather than a time zone conversion and ``date_trunc`` per row. SQLite gives
    ``YYYY-MM`` with ``strftime``.
    """
    if session.get_bind().dialect.name == "postgresql":
        bounds = [month_start(key) for key in keys] + [month_start(next_month(keys[-1]))]
        return func.width_bucket(column, postgresql.array(bounds, type_=DateTime(timezone=True)))
    return func.strftime("%Y-%m", column)


def month_key(value: Any, keys: Sequence[str] = ()) -> str:
    """``YYYY-MM`` from whatever ``month_bucket`` gave back (a position in ``keys``, a datetime or a string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return keys[value - 1] if 1 <= value <= len(keys) else ""
    if isinstance(value, dt.datetime | dt.date):
        return f"{value.year:04d}-{value.month:02d}"
    return str(value)[:7]


def next_month(key: str) -> str:
    year, month = (int(part) for part in key.split("-"))
    return f"{year + 1:04d}-01" if month == 12 else f"{year:04d}-{month + 1:02d}"


def last_months(now: dt.datetime, count: int) -> list[str]:
    """The ``count`` months ending with the current one, oldest first, as ``YYYY-MM``."""
    year, month = now.year, now.month
    keys = []
    for _ in range(count):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return keys[::-1]


def month_start(key: str) -> dt.datetime:
    year, month = key.split("-")
    return dt.datetime(int(year), int(month), 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class MonthPoints:
    month: str
    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    net: int = 0


@dataclass(frozen=True)
class Dashboard:
    members: int
    active: int
    outstanding: int
    liability: Decimal
    redemption_rate: Decimal
    points: list[MonthPoints]
    outstanding_by_month: list[tuple[str, int]]
    new_members: list[tuple[str, dict[str, int]]]
    sources: Sequence[str] = field(default=SOURCES)


@dataclass(frozen=True)
class History:
    """The closed months of the dashboard window, before the current month.

    They change only through back-dated entries, so a caller may keep them for
    a while and recompute just the current month on each view.
    """

    current: str
    points: list[MonthPoints]
    new_members: list[tuple[str, dict[str, int]]]


def closed_months(session: Session, now: dt.datetime, months: int = 12) -> History:
    keys = last_months(now, months)
    since, until = month_start(keys[0]), month_start(keys[-1])
    return History(
        current=keys[-1],
        points=points_by_month(session, since, keys[:-1], until),
        new_members=new_members_by_month(session, since, keys[:-1], until),
    )


def history_of(figures: Dashboard) -> History:
    """The closed months of computed figures, to pass as ``history`` to later calls."""
    return History(current=figures.points[-1].month, points=figures.points[:-1], new_members=figures.new_members[:-1])


def dashboard(
    session: Session, rules: ProgramRules, now: dt.datetime, months: int = 12, history: History | None = None
) -> Dashboard:
    """Every dashboard figure: totals and the current month live, closed months from ``history`` if given.

    Without a usable ``history`` the whole window is read in one pass per chart.
    """
    keys = last_months(now, months)
    if history is None or history.current != keys[-1] or len(history.points) != months - 1:
        points = points_by_month(session, month_start(keys[0]), keys)
        new_members = new_members_by_month(session, month_start(keys[0]), keys)
    else:
        this_month = month_start(keys[-1])
        points = history.points + points_by_month(session, this_month, keys[-1:])
        new_members = history.new_members + new_members_by_month(session, this_month, keys[-1:])
    members, outstanding, active = customer_totals(session, now)
    issued = sum(p.issued for p in points)
    redeemed = sum(p.redeemed for p in points)
    return Dashboard(
        members=members,
        active=active,
        outstanding=outstanding,
        liability=money(Decimal(outstanding) * rules.point_value),
        redemption_rate=(Decimal(redeemed) / Decimal(issued)).quantize(Decimal("0.001")) if issued else Decimal(0),
        points=points,
        outstanding_by_month=outstanding_history(outstanding, points),
        new_members=new_members,
    )


def customer_totals(session: Session, now: dt.datetime, days: int = ACTIVE_DAYS) -> tuple[int, int, int]:
    """Members, outstanding points and members active in the last ``days``, in one pass over customers.

    Erased members are nobody's any more and not counted (as in ``domain.totals``); their balance is 0.
    """
    since = now - dt.timedelta(days=days)
    stmt = select(
        func.count(Customer.id).filter(Customer.erased_at.is_(None)),
        func.coalesce(func.sum(Customer.points_balance), 0),
        func.count(Customer.id).filter(Customer.last_active_at >= since),
    ).where(Customer.is_test.is_(False))
    members, outstanding, active = session.execute(stmt).one()
    return int(members), int(outstanding), int(active or 0)


def points_by_month(
    session: Session, since: dt.datetime, keys: list[str], until: dt.datetime | None = None
) -> list[MonthPoints]:
    """Issued (earned, bonus, positive adjustments), redeemed net of refunds, expired, and net, per month."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = _kind_month_sums(keys)
    else:
        bucket = month_bucket(session, LedgerEntry.created_at, keys).label("month")
        stmt = (
            select(bucket, LedgerEntry.kind, _POSITIVE, _NEGATIVE)
            .where(LedgerEntry.created_at >= since, LedgerEntry.created_at < (until or _FAR_FUTURE))
            .group_by(bucket, LedgerEntry.kind)
        )
    sums: dict[str, dict[str, list[int]]] = {k: {} for k in keys}
    for month, kind, pos, neg in session.execute(stmt):
        if month_key(month, keys) in sums:
            sums[month_key(month, keys)][kind] = [int(pos or 0), int(neg or 0)]
    for month, kind, pos, neg in session.execute(_test_member_sums(session, keys)):
        cell = sums.get(month_key(month, keys), {}).get(kind)
        if cell is not None:
            cell[0], cell[1] = cell[0] - int(pos or 0), cell[1] - int(neg or 0)
    return [_month_points(key, sums.get(key, {})) for key in keys]


def _test_member_sums(session: Session, keys: list[str]) -> Select[Any]:
    """The test members' part of each (month, kind) cell, to take off the totals."""
    bucket = month_bucket(session, LedgerEntry.created_at, keys).label("month")
    return (
        select(bucket, LedgerEntry.kind, _POSITIVE, _NEGATIVE)
        .where(
            LedgerEntry.customer_id.in_(select(Customer.id).where(Customer.is_test.is_(True))),
            LedgerEntry.created_at >= month_start(keys[0]),
            LedgerEntry.created_at < month_start(next_month(keys[-1])),
        )
        .group_by(bucket, LedgerEntry.kind)
    )


_POSITIVE = func.sum(case((LedgerEntry.delta > 0, LedgerEntry.delta), else_=0))
_NEGATIVE = func.sum(case((LedgerEntry.delta < 0, -LedgerEntry.delta), else_=0))


def _kind_month_sums(keys: list[str]) -> Select[Any]:
    """One plain aggregate per (kind, month) cell, each an index-only range scan of ``(kind, created_at)``.

    A single ``GROUP BY month, kind`` over the window hashes every entry (about half a million at 1M rows);
    a month by kind grid of small ordered range scans sums the same entries with no hashing, about twice as
    fast. PostgreSQL only (``LATERAL``); the month column is the 1-based position in ``keys``.
    """
    kinds = values(column("kind", String), name="kinds").data([(kind,) for kind in KINDS])
    bounds = [(n, month_start(key), month_start(next_month(key))) for n, key in enumerate(keys, start=1)]
    stamp = DateTime(timezone=True)
    months = values(column("n", Integer), column("start", stamp), column("stop", stamp), name="months").data(bounds)
    cell = (
        select(_POSITIVE.label("pos"), _NEGATIVE.label("neg"))
        .where(
            LedgerEntry.kind == kinds.c.kind,
            LedgerEntry.created_at >= months.c.start,
            LedgerEntry.created_at < months.c.stop,
        )
        .lateral("cell")
    )
    return select(months.c.n, kinds.c.kind, cell.c.pos, cell.c.neg).select_from(
        kinds.join(months, true()).join(cell, true())
    )


def _month_points(key: str, kinds: dict[str, list[int]]) -> MonthPoints:
    def pos(kind: str) -> int:
        return kinds.get(kind, [0, 0])[0]

    def neg(kind: str) -> int:
        return kinds.get(kind, [0, 0])[1]

    return MonthPoints(
        month=key,
        issued=pos("earn") + pos("referral_bonus") + pos("bonus") + pos("adjust"),
        redeemed=max(neg("redeem") - pos("refund"), 0),
        expired=neg("expire"),
        net=sum(p - n for p, n in kinds.values()),
    )


def outstanding_history(outstanding_now: int, points: list[MonthPoints]) -> list[tuple[str, int]]:
    """Points outstanding at the end of each month, worked back from today's total."""
    history = []
    level = outstanding_now
    for month in reversed(points):
        history.append((month.month, level))
        level -= month.net
    return history[::-1]


def new_members_by_month(
    session: Session, since: dt.datetime, keys: list[str], until: dt.datetime | None = None
) -> list[tuple[str, dict[str, int]]]:
    bucket = month_bucket(session, Customer.created_at, keys).label("month")
    stmt = (
        select(bucket, Customer.source, func.count(Customer.id))
        .where(Customer.created_at >= since, Customer.created_at < (until or _FAR_FUTURE), Customer.is_test.is_(False))
        .group_by(bucket, Customer.source)
    )
    counts: dict[str, dict[str, int]] = {k: {} for k in keys}
    for month, source, count in session.execute(stmt):
        if month_key(month, keys) in counts:
            counts[month_key(month, keys)][source] = int(count)
    return [(key, counts.get(key, {})) for key in keys]
