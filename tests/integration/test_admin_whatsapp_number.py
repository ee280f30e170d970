"""The console shows which business number share links use (or why none), and expired chat replies."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Flask

from bot import business_number, retry
from bot.models import OutboxMessage
from domain.db import Database
from tests.fakes import FrozenClock
from tests.integration.test_admin_security import csrf_token, staff_client


@dataclass
class Lookup:
    answer: dict[str, str]

    def business_number(self) -> dict[str, str]:
        return self.answer


def test_settings_say_when_no_number_is_known(app: Flask, database: Database) -> None:
    page = staff_client(app, database, "admin").get("/admin/settings").get_data(as_text=True)
    assert "No WhatsApp number is known" in page
    assert "WHATSAPP_DISPLAY_NUMBER is not set and there are no WhatsApp credentials" in page


def test_settings_show_the_number_read_from_the_graph_api(app: Flask, database: Database, clock: FrozenClock) -> None:
    answer = {"display_phone_number": "+91 98000 11111", "verified_name": "Asha Stores"}
    with database.unit_of_work() as session:
        business_number.refresh(session, Lookup(answer), clock.now(), app.config)
    page = staff_client(app, database, "admin").get("/admin/settings").get_data(as_text=True)
    assert "+91 98000 11111" in page and "Asha Stores" in page and "read from the Graph API" in page
    assert "No WhatsApp number is known" not in page


def test_the_configured_number_wins(app: Flask, database: Database) -> None:
    app.config["WHATSAPP_DISPLAY_NUMBER"] = "+91 98000-12345"
    page = staff_client(app, database, "admin").get("/admin/settings").get_data(as_text=True)
    assert "+91 98000-12345" in page and "set by WHATSAPP_DISPLAY_NUMBER" in page


def test_reading_it_now_without_credentials_says_why(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "admin")
    token = csrf_token(client, "/admin/settings")
    response = client.post("/admin/settings/whatsapp-number", data={"csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200
    assert "No WhatsApp number known: WHATSAPP_DISPLAY_NUMBER is not set" in response.get_data(as_text=True)
    assert client.post("/admin/settings/whatsapp-number", data={}).status_code == 400  # no CSRF token


def test_the_messages_page_lists_expired_chat_replies(app: Flask, database: Database, clock: FrozenClock) -> None:
    with database.unit_of_work() as session:
        session.add(
            OutboxMessage(
                phone="+919812345678",
                kind="text",
                payload={"body": "Here are your points"},
                idempotency_key="late",
                status="expired",
                attempts=7,
                next_attempt_at=clock.now(),
                created_at=clock.now() - dt.timedelta(minutes=6),
                error_code=retry.STALE,
                error="not sent: a chat reply older than 5 minutes would arrive too late",
                origin="bot",
            )
        )
    client = staff_client(app, database, "support")
    page = client.get("/admin/messages?status=expired").get_data(as_text=True)
    assert "Here are your points" in page and "stale" in page and "would arrive too late" in page
    assert "<option selected>expired</option>" in page
    thread = client.get("/admin/conversations/+919812345678").get_data(as_text=True)
    assert "Here are your points" in thread and "· expired" in thread
