"""The console's simulator acts on test members only, audited, with its history on the server; test members
count in no report; taking over a number that never wrote creates nothing; /health says problems in words.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot.models import Conversation, InboundMessage
from domain import exports, reports
from domain.audit import AuditEntry
from domain.customers import Customer
from domain.db import Database
from domain.rules import ProgramRules
from erp.models import SyncRun
from tests.domain_factories import give_points, make_customer
from tests.fakes import FrozenClock
from tests.integration.test_admin_security import csrf_token, staff_client

PHONE = "+919812345678"
JOIN = ["hi", "1", "1", "2"]  # English, yes to messages, no to offers: enrolled


def say(client: Any, text: str, phone: str = PHONE) -> Any:
    token = csrf_token(client, "/admin/simulator")
    return client.post("/admin/simulator", data={"csrf_token": token, "phone": phone, "text": text})


def audit_actions(database: Database, action: str) -> list[AuditEntry]:
    with database.unit_of_work() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_a_fresh_number_becomes_an_audited_test_member(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "support")
    for text in JOIN:
        assert say(client, text).status_code == 302
    with database.unit_of_work() as session:
        member = session.scalar(select(Customer).where(Customer.phone == PHONE))
        assert member is not None and member.is_test and member.opted_in
    entries = audit_actions(database, "simulator.message")
    assert [e.details["text"] for e in entries] == JOIN
    assert {e.actor for e in entries} == {"support@example.com"}
    assert entries[-1].entity_type == "customer" and entries[-1].entity_id == str(member.id)
    page = client.get(f"/admin/customers/{member.id}").get_data(as_text=True)
    assert "badge-test" in page


@pytest.mark.parametrize("text", ["points", "hi", "start"])
def test_a_real_customers_number_is_refused(app: Flask, database: Database, text: str) -> None:
    with database.unit_of_work() as session:
        real = make_customer(session, phone=PHONE, name="Asha")
        give_points(session, real.id, 500)
    client = staff_client(app, database, "support")
    response = say(client, text)
    assert response.status_code == 302
    page = client.get("/admin/simulator").get_data(as_text=True)
    assert "+919812345678 is a real customer&#39;s number; the simulator acts only on test members" in page
    with database.unit_of_work() as session:
        assert session.get(Conversation, PHONE) is None
        customer = session.scalar(select(Customer).where(Customer.phone == PHONE))
        assert customer is not None and not customer.is_test and customer.points_balance == 500
    assert audit_actions(database, "simulator.message") == []


def test_a_number_that_wrote_on_whatsapp_is_refused(app: Flask, database: Database, clock: FrozenClock) -> None:
    with database.unit_of_work() as session:
        session.add(
            InboundMessage(
                wa_message_id="wamid.real",
                phone=PHONE,
                kind="text",
                text="hi",
                status="handled",
                received_at=clock.now(),
            )
        )
    client = staff_client(app, database, "manager")
    say(client, "hi")
    assert "has written to us on WhatsApp" in client.get("/admin/simulator").get_data(as_text=True)
    with database.unit_of_work() as session:
        assert session.scalar(select(func.count(Customer.id))) == 0


def test_the_history_lives_on_the_server_not_in_the_cookie(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "support")
    long_texts = [f"message {n} " + "x" * 980 for n in range(6)]
    for text in long_texts:
        assert say(client, text).status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None and len(cookie.value) < 1000
    page = client.get("/admin/simulator").get_data(as_text=True)
    assert all(text in page for text in long_texts)
    other = staff_client(app, database, "manager")
    with other.session_transaction() as session:
        session["sim_phone"] = PHONE
    assert long_texts[0] not in other.get("/admin/simulator").get_data(as_text=True)
    token = csrf_token(client, "/admin/simulator")
    client.post("/admin/simulator/reset", data={"csrf_token": token})
    assert long_texts[-1] not in client.get("/admin/simulator").get_data(as_text=True)


def test_the_cli_chat_stays_the_operators_tool(app: Flask, runner: Any, database: Database) -> None:
    with database.unit_of_work() as session:
        make_customer(session, phone=PHONE)
    result = runner.invoke(args=["chat", PHONE], input="hi\n")
    assert result.exit_code == 0 and "bot>" in result.output


# Test members in the figures


def test_test_members_count_in_no_dashboard_or_report(database: Database) -> None:
    now = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
    with database.unit_of_work() as session:
        real = make_customer(session, now, name="Real")
        test = make_customer(session, now, name="Test")
        test.is_test = True
        give_points(session, real.id, 100, now=now)
        give_points(session, test.id, 5000, now=now)
    with database.unit_of_work() as session:
        figures = reports.dashboard(session, ProgramRules(point_value=Decimal("1")), now)
        since, until = now - dt.timedelta(days=1), now + dt.timedelta(days=1)
        rows = {kind: list(exports.report_rows(session, kind, since, until)) for kind in ("members", "ledger")}
    assert figures.members == 1 and figures.outstanding == 100 and figures.liability == Decimal("100.00")
    assert figures.points[-1].issued == 100
    assert sum(figures.new_members[-1][1].values()) == 1
    assert [row[2] for row in rows["members"]] == ["Real"]
    assert [row[3] for row in rows["ledger"]] == [100]


# Taking over a number that never wrote


@pytest.mark.parametrize("action", ["take-over", "hand-back", "reply"])
def test_taking_over_a_number_that_never_wrote_creates_nothing(app: Flask, database: Database, action: str) -> None:
    client = staff_client(app, database, "support")
    token = csrf_token(client, f"/admin/conversations/{PHONE}")
    response = client.post(
        f"/admin/conversations/{PHONE}/{action}",
        data={"csrf_token": token, "text": "hello"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "has never written to us" in response.get_data(as_text=True)
    with database.unit_of_work() as session:
        assert session.get(Conversation, PHONE) is None


# /health


def test_health_says_what_is_wrong_with_the_erp_in_words(app: Flask, database: Database, clock: FrozenClock) -> None:
    raw = 'ERP unreachable: could not connect to server "erp.internal" (10.9.8.7), port 1433, user "erp_reader"'
    with database.unit_of_work() as session:
        session.add(SyncRun(started_at=clock.now(), status="failed", entities="customers", counts={}, error=raw))
    body = app.test_client().get("/health").get_data(as_text=True)
    for secret in ("erp.internal", "10.9.8.7", "1433", "erp_reader", "could not connect"):
        assert secret not in body
    sync = app.test_client().get("/health").get_json()["erp_sync"]
    assert sync["status"] == "failed" and sync["error"] == "the ERP cannot be reached"
    page = staff_client(app, database, "support").get("/admin/erp").get_data(as_text=True)
    assert "10.9.8.7" in page and "erp_reader" in page


def test_health_says_the_database_cannot_be_reached_in_words() -> None:
    from loyalty import create_app
    from tests.conftest import app_config

    app = create_app(app_config("postgresql://nobody-login@127.0.0.1:1/secretdb"))
    response = app.test_client().get("/health")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert response.get_json()["database"]["error"] == "the database cannot be reached"
    for secret in ("nobody-login", "127.0.0.1", "secretdb", "OperationalError"):
        assert secret not in body
    app.extensions["loyalty.db"].dispose()
