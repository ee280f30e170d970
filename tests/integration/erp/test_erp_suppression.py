"""After an erasure the ERP still has the customer's row; the sync must not bring the person back."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from domain import customers, ledger, suppression
from domain.customers import Customer, NewCustomer
from domain.sales import Order
from erp import sync
from erp.models import QuarantinedRow
from runtime import services
from runtime.config import privacy_key
from tests.integration.erp.layout import ErpDb

PHONE = "+919812345678"


def _count(app: Flask, *where: Any) -> int:
    with services.database(app).unit_of_work() as session:
        return int(session.scalar(select(func.count(Customer.id)).where(*where)) or 0)


def test_the_sync_counts_an_erased_person_as_suppressed_until_they_join_by_chat(erp_app: Flask, erp: ErpDb) -> None:
    erp.customer(1, "98123 45678", "Asha Verma")
    erp.customer(2, "98123 45679", "Ravi")
    erp.order(10, 1, "1000.00")
    assert sync.run(erp_app).status == "ok"
    runner = erp_app.test_cli_runner()
    assert runner.invoke(args=["members", "erase", PHONE, "--yes"]).exit_code == 0

    # The next sync, nothing changed in the ERP: their row is read again and counted, not re-created.
    plain = runner.invoke(args=["erp", "sync"])
    assert plain.exit_code == 0 and ", suppressed 1 in " in plain.output.splitlines()[0], plain.output
    assert _count(erp_app, Customer.erased_at.is_(None)) == 1

    # The same rows again, and new activity of the person in the ERP.
    erp.update("Customers", "CustomerID", 1, CustomerName="Asha V.")
    erp.order(11, 1, "500.00")
    result = runner.invoke(args=["erp", "sync", "--full"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert ", suppressed 3 in " in first  # the customer row and both orders
    assert "  customers: read 2, created 0, updated 0, unchanged 1, quarantined 0, suppressed 1" in result.output
    assert "Asha" not in result.output and "9812345678" not in result.output
    assert _count(erp_app, Customer.erased_at.is_(None)) == 1  # only Ravi
    with services.database(erp_app).unit_of_work() as session:
        assert session.scalar(select(func.count(QuarantinedRow.id))) == 0
        assert session.scalar(select(func.count(Order.id))) == 1  # the new order did not attach to anyone
        assert ledger.verify(session) == []

    # The person writes to the bot again: a new member, and the ERP may link them from now on.
    with services.database(erp_app).unit_of_work() as session:
        key = privacy_key(erp_app.config)
        member, created = customers.enrol(session, NewCustomer(phone=PHONE), services.now(erp_app))
        assert created and suppression.lift(session, key, PHONE)
    again = sync.run(erp_app, full=True)
    assert again.status == "ok" and again.suppressed == 0
    with services.database(erp_app).unit_of_work() as session:
        rejoined = customers.get_by_phone(session, PHONE)
        assert (rejoined.id, rejoined.erp_customer_id, rejoined.name) == (member.id, "1", "Asha V.")
        # Only the order made after the erasure is theirs; the one before stays with the anonymous number.
        assert session.scalar(select(func.count(Order.id)).where(Order.customer_id == member.id)) == 1
        assert rejoined.points_balance == 5


def test_a_quarantined_row_of_the_person_goes_with_the_erasure(erp_app: Flask, erp: ErpDb) -> None:
    erp.customer(1, "98123 45678", "Asha Verma")
    erp.customer(7, "+91 98123 45678", "Asha Verma (duplicate)")  # the same number: quarantined
    erp.customer(8, "98123 00000", "Someone Else")
    erp.customer(9, "not a phone", "Another")
    assert sync.run(erp_app).quarantined == 2
    assert erp_app.test_cli_runner().invoke(args=["members", "erase", PHONE, "--yes"]).exit_code == 0
    with services.database(erp_app).unit_of_work() as session:
        assert list(session.scalars(select(QuarantinedRow.source_key))) == ["9"]  # only what was not theirs
