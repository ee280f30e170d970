"""Dashboard figures and CSV reports from SQL, on SQLite and PostgreSQL (the month bucketing differs)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session

from domain import exports, ledger, reports
from domain.customers import NewCustomer, enrol
from domain.db import Database
from domain.rules import ProgramRules

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


def customer(session: Session, phone: str, source: str, created: dt.datetime, active: dt.datetime | None = None) -> int:
    c, _ = enrol(session, NewCustomer(phone=phone, name="T", source=source), created)
    c.last_active_at = active
    return c.id


def credit(session: Session, cid: int, points: int, at: dt.datetime, key: str, kind: str = "earn") -> None:
    ledger.credit(
        session,
        ledger.lock_customer(session, cid),
        kind=kind,
        points=points,
        key=key,
        now=at,
        expires_at=at + dt.timedelta(days=365),
    )


def debit(session: Session, cid: int, points: int, at: dt.datetime, key: str, kind: str) -> None:
    ledger.debit(session, ledger.lock_customer(session, cid), kind=kind, points=points, key=key, now=at)


def test_dashboard_counts_points_per_month_liability_and_sources(database: Database) -> None:
    april = dt.datetime(2026, 4, 30, 23, 30, tzinfo=dt.UTC)  # late UTC evening stays in April
    may = dt.datetime(2026, 5, 2, 8, 0, tzinfo=dt.UTC)
    with database.unit_of_work() as session:
        a = customer(session, "+919800000001", "erp", april, active=NOW - dt.timedelta(days=3))
        b = customer(session, "+919800000002", "whatsapp", may, active=NOW - dt.timedelta(days=45))
        customer(session, "+919800000003", "whatsapp", NOW - dt.timedelta(days=1))
        customer(session, "+919800000004", "erp", NOW - dt.timedelta(days=800))  # before the window
        credit(session, a, 300, april, "e1")
        credit(session, b, 200, may, "e2")
        debit(session, a, 120, may, "r1", "redeem")
        credit(session, a, 20, may, "f1", kind="refund")
        debit(session, b, 50, NOW, "x1", "expire")
    rules = ProgramRules(point_value=Decimal("0.25"))
    with database.unit_of_work() as session:
        figures = reports.dashboard(session, rules, NOW)
    by_month = {p.month: p for p in figures.points}
    assert len(figures.points) == 12 and figures.points[-1].month == "2026-06"
    assert (by_month["2026-04"].issued, by_month["2026-04"].redeemed) == (300, 0)
    assert (by_month["2026-05"].issued, by_month["2026-05"].redeemed) == (200, 100)
    assert by_month["2026-06"].expired == 50
    assert figures.members == 4 and figures.active == 1
    assert figures.outstanding == 300 - 120 + 20 + 200 - 50
    assert figures.liability == Decimal("87.50")
    assert figures.redemption_rate == Decimal("0.2")
    assert dict(figures.outstanding_by_month)["2026-04"] == 300
    assert dict(figures.outstanding_by_month)["2026-03"] == 0
    sources = dict(figures.new_members)
    assert sources["2026-04"] == {"erp": 1}
    assert sources["2026-05"] == {"whatsapp": 1}
    assert sources["2026-06"] == {"whatsapp": 1}
    with database.unit_of_work() as session:
        kept = reports.closed_months(session, NOW)
        assert reports.history_of(figures) == kept
        assert reports.dashboard(session, rules, NOW, history=kept) == figures
        stale = reports.closed_months(session, NOW - dt.timedelta(days=40))
        assert reports.dashboard(session, rules, NOW, history=stale) == figures


def test_reports_stream_rows_in_the_date_range(database: Database) -> None:
    with database.unit_of_work() as session:
        a = customer(session, "+919800000001", "erp", NOW - dt.timedelta(days=10))
        customer(session, "+919800000002", "erp", NOW - dt.timedelta(days=100))
        credit(session, a, 40, NOW - dt.timedelta(days=5), "k1")
    with database.unit_of_work() as session:
        since, until = NOW - dt.timedelta(days=30), NOW
        members = list(exports.report_rows(session, "members", since, until))
        entries = list(exports.report_rows(session, "ledger", since, until))
    assert [row[1] for row in members] == ["+919800000001"]
    assert len(members[0]) == len(exports.report_header("members"))
    assert entries[0][2:4] == ["earn", 40]
    assert entries[0][-1].endswith("+00:00")
