"""Money in the console, its reports and exports is written by Babel for DEFAULT_LOCALE and CURRENCY."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Flask

from domain import affiliates
from domain.affiliate_models import Commission
from domain.db import Database
from domain.rules import ProgramRules
from tests.domain_factories import NOW, give_points, make_customer
from tests.fakes import FrozenClock
from tests.integration.test_admin_security import csrf_token, staff_client


def commission(database: Database, amount: str) -> tuple[int, int]:
    """An approved commission of ``amount`` for a new affiliate; (affiliate id, customer id)."""
    with database.unit_of_work() as session:
        customer = make_customer(session, NOW)
        partner = affiliates.apply(session, name="Corner Store", phone="+919855566677", now=NOW, rules=ProgramRules())
        session.flush()
        session.add(
            Commission(
                affiliate_id=partner.id,
                customer_id=customer.id,
                kind="purchase",
                amount=Decimal(amount),
                currency="INR",
                status="approved",
                idempotency_key=f"test:{partner.id}",
                created_at=NOW,
                approved_at=NOW,
            )
        )
        return partner.id, customer.id


def test_the_dashboard_liability_in_rupees_with_indian_grouping(app: Flask, database: Database) -> None:
    with database.unit_of_work() as session:
        give_points(session, make_customer(session, NOW).id, 493_824)  # x 0.25 = 1,23,456.00
    page = staff_client(app, database, "manager").get("/admin/").get_data(as_text=True)
    assert "₹1,23,456.00" in page
    assert "INR" not in page


def test_affiliate_totals_flash_and_payout_csv(app: Flask, database: Database, clock: FrozenClock) -> None:
    partner_id, _ = commission(database, "426.25")
    client = staff_client(app, database, "manager")
    page = client.get(f"/admin/affiliates/{partner_id}").get_data(as_text=True)
    assert "₹426.25" in page and "INR 426.25" not in page
    token = csrf_token(client, f"/admin/affiliates/{partner_id}")
    paid = client.post(
        f"/admin/affiliates/{partner_id}/pay", data={"csrf_token": token, "reference": "UPI-1"}, follow_redirects=True
    )
    assert "Payout of ₹426.25 recorded as paid." in paid.get_data(as_text=True)
    from sqlalchemy import select

    from domain.affiliate_models import Payout

    with database.unit_of_work() as session:
        payout_id = session.scalar(select(Payout.id))
    csv = client.get(f"/admin/payouts/{payout_id}.csv").get_data(as_text=True)
    assert '"₹426.25",INR' in csv or ",₹426.25,INR" in csv


def test_the_commissions_report_writes_amounts_as_money(app: Flask, database: Database) -> None:
    commission(database, "123456")
    client: Any = staff_client(app, database, "manager")
    csv = client.get("/admin/reports?kind=commissions&start=2026-01-01&end=2026-12-31").get_data(as_text=True)
    assert '"₹1,23,456.00",INR' in csv
