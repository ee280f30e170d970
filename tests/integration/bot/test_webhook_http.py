"""/webhook over Flask's test client: handshake, signatures, malformed bodies, redelivery, both generations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.models import InboundMessage, OutboxMessage
from domain.db import Database
from runtime import services
from tests.conftest import VERIFY_TOKEN
from tests.e2e import meta
from tests.integration.bot.conftest import FakeSender, Poster

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "whatsapp"
PHONE = "+919812345678"


def count(app: Flask, model: type, **where: object) -> int:
    with services.database(app).unit_of_work() as session:
        stmt = select(func.count()).select_from(model).filter_by(**where)
        return int(session.scalar(stmt) or 0)


def test_verification_echoes_the_challenge(client: FlaskClient) -> None:
    args = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    response = client.get("/webhook", query_string=args)
    assert (response.status_code, response.text) == (200, "1158201444")


@pytest.mark.parametrize(
    "args",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
def test_verification_refuses_a_wrong_token(client: FlaskClient, args: dict[str, str]) -> None:
    response = client.get("/webhook", query_string=args)
    assert response.status_code == 403
    assert "1" not in response.text


def test_missing_signature_is_401(webhook: Poster) -> None:
    response = webhook.post(meta.text("919812345678", "hi"), secret=None)
    assert response.status_code == 401
    assert count(webhook.app, InboundMessage) == 0


def test_wrong_signature_is_403(webhook: Poster) -> None:
    response = webhook.post(meta.text("919812345678", "hi"), secret="not-the-app-secret")
    assert response.status_code == 403
    assert count(webhook.app, InboundMessage) == 0


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"object": "page", "entry": []}', "whatsapp_business_account"),
        (b'{"object": "whatsapp_business_account", "entry": 3}', "entry"),
    ],
)
def test_malformed_bodies_are_400_with_a_json_reason(webhook: Poster, body: bytes, detail: str) -> None:
    response = webhook.post(body)
    assert response.status_code == 400
    assert response.is_json and detail in response.json["detail"]


def test_a_message_is_stored_handled_and_answered(webhook: Poster, fake_sender: FakeSender) -> None:
    response = webhook.post(meta.text("919812345678", "hi"))
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert count(webhook.app, InboundMessage, status="handled", phone=PHONE) == 1
    assert fake_sender.sent and all(phone == PHONE for phone, _ in fake_sender.sent)
    assert count(webhook.app, OutboxMessage, status="sent") == len(fake_sender.sent)


@pytest.mark.parametrize("name", ["text.json", "text_with_user_id.json"])
def test_both_payload_generations_are_handled(webhook: Poster, fake_sender: FakeSender, name: str) -> None:
    body = json.loads((FIXTURES / name).read_text())
    assert webhook.post(body).status_code == 200
    assert count(webhook.app, InboundMessage, status="handled", phone=PHONE) == 1
    assert fake_sender.sent and {phone for phone, _ in fake_sender.sent} == {PHONE}


def test_a_redelivery_is_acknowledged_and_handled_once(webhook: Poster, fake_sender: FakeSender) -> None:
    body = meta.text("919812345678", "hi", message_id="wamid.SAME")
    assert webhook.post(body).status_code == 200
    sent_once = len(fake_sender.sent)
    assert sent_once > 0
    assert webhook.post(body).status_code == 200
    assert count(webhook.app, InboundMessage) == 1
    assert len(fake_sender.sent) == sent_once


def test_every_message_of_a_batch_is_handled(webhook: Poster, fake_sender: FakeSender) -> None:
    body = json.loads((FIXTURES / "batch_two_senders.json").read_text())
    assert webhook.post(body).status_code == 200
    assert count(webhook.app, InboundMessage, status="handled") == 2
    assert {phone for phone, _ in fake_sender.sent} == {PHONE, "+919876543210"}


def test_a_batch_with_a_redelivered_message_stores_and_handles_only_the_new_one(
    webhook: Poster, fake_sender: FakeSender
) -> None:
    body = json.loads((FIXTURES / "batch_two_senders.json").read_text())
    first = json.loads(json.dumps(body))
    value = first["entry"][0]["changes"][0]["value"]
    value["messages"] = value["messages"][:1]
    assert webhook.post(first).status_code == 200
    sent_after_first = len(fake_sender.sent)
    assert webhook.post(body).status_code == 200  # one already stored, one new: a single INSERT for both
    assert count(webhook.app, InboundMessage) == 2
    assert count(webhook.app, InboundMessage, status="handled") == 2
    assert len(fake_sender.sent) > sent_after_first
    assert {phone for phone, _ in fake_sender.sent} == {PHONE, "+919876543210"}


@pytest.mark.parametrize("name", ["image.json", "sticker.json", "location.json", "audio.json", "unsupported.json"])
def test_other_message_types_get_an_answer(webhook: Poster, fake_sender: FakeSender, name: str) -> None:
    body = json.loads((FIXTURES / name).read_text())
    assert webhook.post(body).status_code == 200
    assert count(webhook.app, InboundMessage, status="handled") == 1
    assert fake_sender.sent


def test_statuses_for_unknown_messages_are_acknowledged(webhook: Poster) -> None:
    body = json.loads((FIXTURES / "status_delivered.json").read_text())
    assert webhook.post(body).status_code == 200


def test_without_an_app_secret_development_accepts_unsigned_posts(database: Database) -> None:
    from loyalty import create_app
    from tests.conftest import app_config

    app = create_app(app_config(database.url, WHATSAPP_APP_SECRET=None))
    app.extensions["bot.sender"] = FakeSender()
    response = Poster(app.test_client(), app).post(meta.text("919812345678", "hi"), secret=None)
    assert response.status_code == 200
    app.extensions["loyalty.db"].dispose()
