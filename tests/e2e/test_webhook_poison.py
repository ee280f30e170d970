"""Poison payloads over real HTTP: each bad element is cleaned or dropped on its own, the rest of the
batch is stored and answered, and the POST is answered 200 (400 only for a body that is no webhook)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from bot.models import InboundMessage, OutboxMessage
from domain.customers import Customer
from tests.e2e import meta
from tests.e2e.conftest import LiveApp, WhatsAppUser

GOOD, BAD = "919812345678", "919812345679"


def rows(live: LiveApp, model: Any) -> list[Any]:
    with live.app.extensions["loyalty.db"].unit_of_work() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def _message(wa_id: str, body: Any, message_id: str | None = None) -> dict[str, Any]:
    return {"from": wa_id, "id": message_id or meta.new_message_id(), "timestamp": "1781517600", "type": "text",
            "text": {"body": body}}  # fmt: skip


def batch(*messages: dict[str, Any], contacts: list[Any] | None = None) -> dict[str, Any]:
    """One POST with the bad sender's message first and the good one after it."""
    found = contacts if contacts is not None else [meta.contact(BAD, "Bad"), meta.contact(GOOD, "Good")]
    return meta.envelope({"contacts": found, "messages": list(messages)})


def good_one_answered(whatsapp: WhatsAppUser) -> None:
    assert [m.phone for m in rows(whatsapp.live, InboundMessage) if m.phone == "+" + GOOD] == ["+" + GOOD]
    assert whatsapp.graph_api.delivered_to(GOOD), "the valid message of the batch got no reply"


def test_a_contact_profile_that_is_a_string_costs_nothing(whatsapp: WhatsAppUser) -> None:
    contacts = [{"profile": "Bad", "wa_id": BAD}, {"profile": ["x"], "wa_id": GOOD}]
    response = whatsapp.post(batch(_message(BAD, "hi"), _message(GOOD, "hi"), contacts=contacts))
    assert response.status_code == 200
    good_one_answered(whatsapp)
    assert whatsapp.graph_api.delivered_to(BAD)  # its message is readable: only the profile is not


def test_json_nested_50000_deep_is_a_bad_request_not_a_crash(whatsapp: WhatsAppUser) -> None:
    deep = b'{"object":"whatsapp_business_account","entry":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = whatsapp.post(deep)
    assert response.status_code == 400
    assert "deep" in response.json()["detail"]
    assert whatsapp.say("hi"), "the server still answers"


def test_deep_nesting_inside_one_message_is_stored_cut_short(whatsapp: WhatsAppUser) -> None:
    nested: Any = "end"
    for _ in range(500):
        nested = {"x": nested}
    odd = {**_message(BAD, "hi"), "context": nested}
    assert whatsapp.post(batch(odd, _message(GOOD, "hi"))).status_code == 200
    good_one_answered(whatsapp)
    assert {m.phone for m in rows(whatsapp.live, InboundMessage)} == {"+" + GOOD, "+" + BAD}


@pytest.mark.parametrize(
    ("text", "stored"),
    [("caf\ud800e", "caf\ufffde"), ("hi\x00there", "hithere"), ("\x00", None)],
    ids=["lone-surrogate", "nul-byte", "only-nul"],
)
def test_text_the_database_refuses_is_cleaned_and_the_batch_kept(
    whatsapp: WhatsAppUser, text: str, stored: str | None
) -> None:
    response = whatsapp.post(batch(_message(BAD, text), _message(GOOD, "hi")))
    assert response.status_code == 200
    good_one_answered(whatsapp)
    (bad,) = [m for m in rows(whatsapp.live, InboundMessage) if m.phone == "+" + BAD]
    assert bad.text == stored


def test_a_message_id_over_200_characters_is_dropped_alone(whatsapp: WhatsAppUser) -> None:
    response = whatsapp.post(batch(_message(BAD, "hi", "wamid." + "A" * 300), _message(GOOD, "hi")))
    assert response.status_code == 200
    good_one_answered(whatsapp)
    assert [m.phone for m in rows(whatsapp.live, InboundMessage)] == ["+" + GOOD]


def test_status_reports_with_ids_or_codes_too_long(whatsapp: WhatsAppUser) -> None:
    (reply, *_) = whatsapp.say("hi")
    assert reply.wa_message_id is not None
    error = {"code": "9" * 40, "title": "Odd", "message": "odd"}
    long_id = meta.status("wamid." + "B" * 300, "read", GOOD)["entry"][0]["changes"][0]["value"]["statuses"][0]
    failed = meta.status(reply.wa_message_id, "failed", GOOD, errors=[error])
    failed["entry"][0]["changes"][0]["value"]["statuses"].insert(0, long_id)
    assert whatsapp.post(failed).status_code == 200
    (row,) = [r for r in rows(whatsapp.live, OutboxMessage) if r.wa_message_id == reply.wa_message_id]
    assert (row.status, row.error_code) == ("failed", "9" * 32)


def test_a_profile_name_over_200_characters_still_enrols(whatsapp: WhatsAppUser) -> None:
    name = "Asha " + "R" * 300
    (question,) = whatsapp.say("hi", name=name)
    language = next(option for option in question.options if option[0] == "lang:en")
    whatsapp.send(meta.button_reply(GOOD, language[0], language[1], name=name))
    (customer,) = rows(whatsapp.live, Customer)
    assert customer.phone == "+" + GOOD
    assert customer.name == name[:200]


def test_poison_leaves_no_phone_number_or_text_in_the_logs(
    whatsapp: WhatsAppUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    whatsapp.post(batch(_message(BAD, "secret\x00words", "wamid." + "C" * 300), _message(GOOD, "caf\ud800")))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "dropped" in logged
    for secret in (BAD, GOOD, "secret", "caf"):
        assert secret not in logged


def test_an_odd_entry_or_change_costs_only_itself(whatsapp: WhatsAppUser) -> None:
    body = batch(_message(GOOD, "hi"))
    body["entry"][0]["changes"].insert(0, {"field": "messages", "value": "not an object"})
    body["entry"].insert(0, "not an entry")
    assert whatsapp.post(body).status_code == 200
    good_one_answered(whatsapp)
