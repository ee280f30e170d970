"""The webhook on a real port, the real pywa sender, a local Graph API: signed POST in, reply out."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.e2e import meta
from tests.e2e.conftest import TOKEN, LiveApp, WhatsAppUser
from tests.e2e.graph_api import FakeGraphAPI


def _count(live: LiveApp, model: type) -> int:
    with live.app.extensions["loyalty.db"].unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_signed_text_gets_a_reply_through_the_graph_api(whatsapp: WhatsAppUser, graph_api: FakeGraphAPI) -> None:
    replies = whatsapp.say("hi")

    assert replies, "no reply reached the Graph API"
    first = replies[0]
    assert first.path == f"/v22.0/{meta.PHONE_NUMBER_ID}/messages"
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.to == "919812345678"  # the phone number, never the business-scoped id
    assert first.body["messaging_product"] == "whatsapp"
