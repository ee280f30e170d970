"""The webhook on a real port, the real engine and pywa sender, a local Graph API: signed POST in, reply out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.models import InboundMessage, OutboxMessage
from tests.e2e import meta
from tests.e2e.conftest import TOKEN, LiveApp, WhatsAppUser
from tests.e2e.graph_api import INVALID_NUMBER, RE_ENGAGEMENT, FakeGraphAPI

WA_ID = "919812345678"


def rows(live: LiveApp, model: Any) -> list[Any]:
    with live.app.extensions["loyalty.db"].unit_of_work() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def test_a_signed_text_gets_a_reply_through_the_graph_api(whatsapp: WhatsAppUser, graph_api: FakeGraphAPI) -> None:
    replies = whatsapp.say("hi")

    assert replies, "no reply reached the Graph API"
    first = replies[0]
    assert first.path == f"/v22.0/{meta.PHONE_NUMBER_ID}/messages"
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.to == WA_ID  # the phone number, never the business-scoped id
    assert first.body["messaging_product"] == "whatsapp"
    assert first.text


def test_the_newer_generation_is_answered_at_the_phone_number(whatsapp: WhatsAppUser) -> None:
    replies = whatsapp.say("hi", user_id="IN.1234567890123456")
    assert replies and all(r.to == WA_ID and "recipient" not in r.body for r in replies)
    (stored,) = rows(whatsapp.live, InboundMessage)
    assert stored.wa_user_id == "IN.1234567890123456"


def test_a_redelivered_message_is_answered_once(whatsapp: WhatsAppUser) -> None:
    body = meta.text(WA_ID, "hi", message_id="wamid.REDELIVERED")
    whatsapp.send(body)
    answered = len(whatsapp.replies())
    assert answered > 0
    whatsapp.send(body)
    assert len(whatsapp.replies()) == answered
    assert len(rows(whatsapp.live, InboundMessage)) == 1


def test_status_webhooks_update_the_outbox_and_never_go_back(whatsapp: WhatsAppUser) -> None:
    (reply, *_) = whatsapp.say("hi")
    wamid = reply.wa_message_id
    assert wamid is not None
    whatsapp.send(meta.status(wamid, "read", WA_ID))
    whatsapp.send(meta.status(wamid, "delivered", WA_ID))
    (row,) = [r for r in rows(whatsapp.live, OutboxMessage) if r.wa_message_id == wamid]
    assert row.status == "read" and row.delivered_at is not None


def test_a_permanent_graph_error_marks_the_row_failed(whatsapp: WhatsAppUser, graph_api: FakeGraphAPI) -> None:
    graph_api.fail(400, RE_ENGAGEMENT)
    whatsapp.send(meta.text(WA_ID, "hi"))
    failed = rows(whatsapp.live, OutboxMessage)
    assert failed and all(r.status == "failed" and r.error_code == "131047" for r in failed)
    assert "24 hours" in (failed[0].error or "")


def test_an_undeliverable_number_fails_without_retry(whatsapp: WhatsAppUser, graph_api: FakeGraphAPI) -> None:
    graph_api.fail(400, INVALID_NUMBER, times=1)
    whatsapp.send(meta.text(WA_ID, "hi"))
    first = rows(whatsapp.live, OutboxMessage)[0]
    assert (first.status, first.error_code, first.attempts) == ("failed", "131026", 1)
