"""Bot transport fixtures: a fake sender in place of WhatsApp, and a way to post signed webhook payloads."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from bot import conversations, handling, pipeline, sender
from bot.messages import Incoming, Reply, Template
from tests.conftest import APP_SECRET
from tests.e2e import meta


@dataclass
class FakeSender:
    """Records what would have gone to WhatsApp; ``errors`` are raised, one per call, before succeeding."""

    sent: list[tuple[str, Reply | Template]] = field(default_factory=list)
    errors: list[sender.SendError] = field(default_factory=list)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, phone: str, message: Reply | Template) -> str:
        with self.lock:
            self.calls += 1
            if self.errors:
                raise self.errors.pop(0)
            self.sent.append((phone, message))
            return f"wamid.fake{len(self.sent)}"

    def bodies(self, phone: str | None = None) -> list[str]:
        return [m.body if isinstance(m, Reply) else m.name for p, m in self.sent if phone in (None, p)]


class StubEngine:
    """Stands in for CONVERSATION's engine so these tests check only the transport: it echoes."""

    def __init__(self) -> None:
        self.handled: list[Incoming] = []
        self.fail_with: Exception | None = None

    def handle(
        self,
        session: Session,
        incoming: Incoming,
        now: dt.datetime,
        config: Any,
        conv: Any = None,
        *,
        guarded: bool = True,
    ) -> list[Reply]:
        conversations.load(session, incoming.phone, now)
        self.handled.append(incoming)
        if self.fail_with is not None:
            raise self.fail_with
        return [Reply(kind="text", body=f"echo {incoming.kind}: {incoming.text}")]

    def flood_notice(self, session: Session, phone: str) -> Reply:
        return Reply(kind="text", body="slow down")

    def apology(self, session: Session, phone: str) -> Reply:
        return Reply(kind="text", body="sorry")


@pytest.fixture(autouse=True)
def stub_engine(monkeypatch: pytest.MonkeyPatch) -> StubEngine:
    stub = StubEngine()
    monkeypatch.setattr(pipeline, "_engine", lambda: stub)
    return stub


@pytest.fixture
def fake_sender(app: Flask) -> FakeSender:
    fake = FakeSender()
    app.extensions["bot.sender"] = fake
    return fake


@dataclass
class Poster:
    client: FlaskClient
    app: Flask

    def post(self, body: dict[str, Any] | bytes, secret: str | None = APP_SECRET) -> TestResponse:
        raw = body if isinstance(body, bytes) else meta.encode(body)
        headers = {"X-Hub-Signature-256": meta.sign(raw, secret)} if secret else {}
        response = self.client.post("/webhook", data=raw, headers=headers, content_type="application/json")
        handling.settle(self.app)  # the handler threads, then the sender threads
        return response


@pytest.fixture
def webhook(client: FlaskClient, app: Flask, fake_sender: FakeSender) -> Poster:
    return Poster(client, app)
