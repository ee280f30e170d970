"""``bot.webhook_store``: a batch the database refuses one element of is stored element by element."""

from __future__ import annotations

from sqlalchemy import select

from bot import inbound, webhook_store
from bot.messages import Incoming
from bot.models import InboundMessage
from domain.db import Database
from tests.fakes import FrozenClock


def parsed(phone: str, text: str) -> inbound.ParsedMessage:
    return inbound.ParsedMessage(Incoming(message_id=f"wamid.{phone}", phone=phone, kind="text", text=text), {})


def test_one_refused_message_does_not_take_the_others_down(database: Database, clock: FrozenClock) -> None:
    # A lone surrogate that slipped past cleaning: both SQLite and PostgreSQL refuse to encode it.
    update = inbound.Update(messages=(parsed("+919812345670", "ok"), parsed("+919812345671", "bad\ud800"),
                                      parsed("+919812345672", "ok too")))  # fmt: skip
    stored = webhook_store.store(database, update, clock.now())
    assert sorted(item.phone for item in stored) == ["+919812345670", "+919812345672"]
    with database.unit_of_work() as session:
        kept = session.scalars(select(InboundMessage.phone).order_by(InboundMessage.id)).all()
    assert kept == ["+919812345670", "+919812345672"]


def test_a_refused_status_report_leaves_the_batch_s_messages(database: Database, clock: FrozenClock) -> None:
    report = inbound.StatusUpdate(wa_message_id="wamid.x", status="failed", error="bad\ud800")
    update = inbound.Update(messages=(parsed("+919812345670", "ok"),), statuses=(report,))
    stored = webhook_store.store(database, update, clock.now())
    assert [item.phone for item in stored] == ["+919812345670"]
