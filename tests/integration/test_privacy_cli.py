"""The privacy commands (``members export|erase|consent``, ``loyalty totals|verify``) and what the console
shows afterwards, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot.models import OutboxMessage
from domain import consents
from domain.customers import Customer
from domain.data_requests import DataRequest
from domain.db import Database
from loyalty.demo import seed
from tests.fakes import FrozenClock
from tests.integration.test_admin_security import staff_client
from tests.integration.test_cli import one_line_failure

PHONE = "+919812345678"  # the demo's Asha Verma
NAME = "Asha Verma"


def seeded(database: Database, clock: FrozenClock) -> None:
    with database.unit_of_work() as session:
        seed(session, clock.now())
        asha = session.scalar(select(Customer).where(Customer.phone == PHONE))
        assert asha is not None
        session.add(
            OutboxMessage(
                phone=PHONE,
                customer_id=asha.id,
                kind="text",
                payload={"body": "Hello Asha"},
                idempotency_key="hello",
                status="delivered",
                next_attempt_at=clock.now(),
                created_at=clock.now(),
                origin="bot",
            )
        )


def totals(runner: Any) -> dict[str, Any]:
    result = runner.invoke(args=["loyalty", "totals"])
    assert result.exit_code == 0, result.output
    figures: dict[str, Any] = json.loads(result.output)
    return figures


def test_totals_are_one_json_object_of_integers_and_a_decimal_string(
    runner: Any, database: Database, clock: FrozenClock
) -> None:
    seeded(database, clock)
    figures = totals(runner)
    points = ("points_outstanding", "points_earned", "points_redeemed", "points_expired", "points_forfeited")
    assert set(figures) == {"members", "sales_amount", *points}
    assert all(type(figures[k]) is int for k in ("members", *points))
    assert figures["members"] == 6 and figures["points_forfeited"] == 0
    assert figures["sales_amount"] == "122949.50"
    assert figures["points_outstanding"] == figures["points_earned"] - figures["points_redeemed"]
    with database.unit_of_work() as s:
        meera = s.scalar(select(Customer).where(Customer.phone == "+919900112233"))
        assert meera is not None and meera.points_balance > 0
        meera.is_test, held = True, meera.points_balance  # the simulator's kind of member: out of the figures
    without = totals(runner)
    assert without["members"] == 5 and without["points_outstanding"] == figures["points_outstanding"] - held
    assert without["sales_amount"] == "39949.50"  # Meera's 83,000.00 of purchases left out


def test_export_is_one_json_document_and_a_handled_request(runner: Any, database: Database, clock: FrozenClock) -> None:
    seeded(database, clock)
    result = runner.invoke(args=["members", "export", "98123 45678"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert (document["member"]["phone"], document["member"]["name"]) == (PHONE, NAME)
    assert len(document["orders"]) == 2 and document["consents"] and document["points_ledger"]
    assert document["messages"][0]["text"] == "Hello Asha"
    assert {s["recipient"] for s in document["shared_with"]} >= {"the shop's billing system (ERP)"}
    with database.unit_of_work() as s:
        request = s.scalars(select(DataRequest).where(DataRequest.kind == "export")).one()
        assert (request.channel, request.status, request.handled_by) == ("cli", "done", "cli")


def test_unknown_numbers_fail_in_one_line_that_does_not_repeat_them(runner: Any, database: Database) -> None:
    for args in (["members", "export", "+919700000001"], ["members", "erase", "+919700000001", "--yes"]):
        out = one_line_failure(runner.invoke(args=args), "unknown customer")
        assert "9700000001" not in out
    one_line_failure(runner.invoke(args=["members", "erase", PHONE]), "--yes")


def test_erase_then_verify_totals_and_the_console_show_nothing_of_the_person(
    app: Flask, runner: Any, database: Database, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    seeded(database, clock)
    before = totals(runner)
    with database.unit_of_work() as s:
        asha = s.scalar(select(Customer).where(Customer.phone == PHONE))
        assert asha is not None
        cid, balance = asha.id, asha.points_balance
    manager = staff_client(app, database, "admin")
    assert PHONE in manager.get(f"/admin/customers/{cid}").get_data(as_text=True)  # the page would show it

    caplog.set_level(logging.DEBUG)
    result = runner.invoke(args=["members", "erase", PHONE, "--yes"])
    assert result.exit_code == 0, result.output
    assert f"{balance} points forfeited" in result.output and PHONE not in result.output

    assert runner.invoke(args=["loyalty", "verify"]).exit_code == 0
    after = totals(runner)
    assert after["points_outstanding"] == before["points_outstanding"] - balance
    assert after["points_forfeited"] == balance
    for kind in ("points_earned", "points_redeemed", "points_expired", "sales_amount"):
        assert after[kind] == before[kind], kind
    again = runner.invoke(args=["members", "erase", PHONE, "--yes"])
    assert again.exit_code == 0 and "erased already" in again.output
    one_line_failure(runner.invoke(args=["members", "export", PHONE]), "unknown customer")

    pages = [
        f"/admin/customers?q={PHONE}",
        "/admin/customers?q=98123 45678",
        "/admin/customers?q=Asha",
        "/admin/customers",
        f"/admin/customers/{cid}",
        "/admin/messages",
        "/admin/conversations",
        "/admin/audit",
        "/admin/redemptions",
        "/admin/privacy?show=all",
        "/admin/reports?kind=members",
        "/admin/reports?kind=redemptions",
        "/admin/",
    ]
    for url in pages:
        response = manager.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        for secret in (PHONE, "98123 45678", "9812345678", NAME, "Verma"):
            assert secret not in body, (url, secret)
    assert "Ravi Kumar" in manager.get("/admin/customers").get_data(as_text=True)  # the others are all there
    report = manager.get("/admin/reports?kind=members").get_data(as_text=True)
    assert "Ravi Kumar" in report and f"erased-{cid}" in report  # a CSV, the member a number in it
    assert manager.get(f"/admin/conversations/{PHONE}").status_code == 404
    dashboard = manager.get("/admin/").get_data(as_text=True)
    assert f"<strong>{after['members']:,}</strong>" in dashboard
    assert f"<strong>{after['points_outstanding']:,}</strong>" in dashboard
    assert f"<strong>{after['points_forfeited']:,}</strong>" in dashboard
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert PHONE[1:] not in logged and "Verma" not in logged


def test_verify_reports_consent_flags_that_disagree_with_the_ledger(
    runner: Any, database: Database, clock: FrozenClock
) -> None:
    seeded(database, clock)
    assert "consent flags match" in runner.invoke(args=["loyalty", "verify"]).output
    with database.unit_of_work() as s:
        asha = s.scalar(select(Customer).where(Customer.phone == PHONE))
        assert asha is not None
        asha.marketing_opt_in = False  # behind the ledger's back
        cid = asha.id
    result = runner.invoke(args=["loyalty", "verify"])
    assert result.exit_code == 1
    assert f"consent flags disagree with the consent ledger for 1 member(s): {cid}" in result.output


def test_consent_outside_the_chat_and_children(runner: Any, database: Database, clock: FrozenClock) -> None:
    seeded(database, clock)
    phone = "+919876543210"  # Ravi
    assert runner.invoke(args=["members", "consent", phone, "--marketing", "no"]).exit_code == 0
    with database.unit_of_work() as s:
        ravi = s.scalar(select(Customer).where(Customer.phone == phone))
        assert ravi is not None and not ravi.marketing_opt_in
        assert consents.history(s, ravi.id)[-1].channel == "cli"
        consents.set_birthday(
            s, ravi, clock.now().date() - dt.timedelta(days=16 * 365), channel="console", now=clock.now()
        )
    one_line_failure(runner.invoke(args=["members", "consent", phone, "--marketing", "yes"]), "under 18")
    result = runner.invoke(args=["members", "consent", phone, "--marketing", "yes", "--parent", "--actor", "till-3"])
    assert result.exit_code == 0, result.output
    with database.unit_of_work() as s:
        ravi = s.scalar(select(Customer).where(Customer.phone == phone))
        assert ravi is not None and ravi.marketing_opt_in
        rows = [(r.purpose, r.granted, r.actor) for r in consents.history(s, ravi.id)[-2:]]
        assert rows == [("guardian", True, "till-3"), ("marketing", True, "till-3")]
    assert runner.invoke(args=["loyalty", "verify"]).exit_code == 0
