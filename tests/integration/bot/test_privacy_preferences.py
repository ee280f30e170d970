"""WhatsApp's own "Stop promotions" (the user_preferences webhook) withdraws marketing consent."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from bot.models import InboundMessage
from domain import consents
from domain.consents import MARKETING
from domain.customers import Customer, NewCustomer, enrol
from domain.db import Database
from tests.domain_factories import NOW
from tests.e2e import meta
from tests.integration.bot.conftest import Poster


def test_stop_promotions_in_whatsapp_is_a_marketing_withdrawal(app: Flask, database: Database, webhook: Poster) -> None:
    with database.unit_of_work() as s:
        c, _ = enrol(s, NewCustomer(phone="+919812345678"), NOW)
        for purpose in consents.PURPOSES:
            consents.record(s, c, purpose, True, channel="whatsapp", now=NOW)
    stop = meta.envelope(
        {
            "contacts": [{"wa_id": "919812345678"}],
            "user_preferences": [
                {
                    "wa_id": "919812345678",
                    "detail": "User requested to stop marketing messages",
                    "category": "marketing_messages",
                    "value": "stop",
                    "timestamp": 1781517600,
                }
            ],
        }
    )
    stop["entry"][0]["changes"][0]["field"] = "user_preferences"
    assert webhook.post(stop).status_code == 200
    assert webhook.post(stop).status_code == 200  # a redelivery adds nothing
    resume = meta.message("919812345678", "system", extra={"system": {"type": "user_preference_changed"}})
    resume["entry"][0]["changes"][0]["value"]["messages"][0]["system"]["marketing"] = "resume"
    assert webhook.post(resume).status_code == 200
    with database.unit_of_work() as s:
        customer = s.scalars(select(Customer)).one()
        assert (customer.opted_in, customer.marketing_opt_in) == (True, False)
        rows = [(r.purpose, r.granted, r.channel) for r in consents.history(s, customer.id)]
        assert rows[-1] == (MARKETING, False, "stop_promotions") and len(rows) == 3
    with database.unit_of_work() as s:
        assert s.scalars(select(InboundMessage)).all() == []  # a preference is not a message to answer


def test_stop_promotions_from_a_username_only_member(app: Flask, database: Database, webhook: Poster) -> None:
    from domain import user_ids

    user_id = "IN.5550987654321098765"
    with database.unit_of_work() as s:
        c, _ = user_ids.enrol(s, user_id, "Meera", "en", NOW)
        for purpose in consents.PURPOSES:
            consents.record(s, c, purpose, True, channel="whatsapp", now=NOW)
    entry = {"user_id": user_id, "category": "marketing_messages", "value": "stop", "timestamp": 1781517600}
    stop = meta.envelope({"contacts": [{"user_id": user_id}], "user_preferences": [entry]})
    stop["entry"][0]["changes"][0]["field"] = "user_preferences"
    assert webhook.post(stop).status_code == 200
    with database.unit_of_work() as s:
        customer = s.scalars(select(Customer)).one()
        assert (customer.opted_in, customer.marketing_opt_in) == (True, False)
