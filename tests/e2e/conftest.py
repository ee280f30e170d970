"""End-to-end fixtures: the app on a real port, a local Graph API, and a WhatsApp user posting signed payloads.

    def test_points(whatsapp, graph_api):
        whatsapp.send(meta.text(whatsapp.wa_id, "points"))
        replies = whatsapp.replies()          # what reached the fake Graph API for this number

``live_app`` runs on SQLite and on PostgreSQL (it uses the ``database`` fixture).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from domain.db import Database
from tests.conftest import APP_SECRET, app_config
from tests.e2e import meta
from tests.e2e.graph_api import FakeGraphAPI, Recorded
from tests.fakes import FrozenClock

TOKEN = "test-graph-token"


@pytest.fixture
def graph_api() -> Iterator[FakeGraphAPI]:
    """The local Cloud API; ``graph_api.fail(500)`` / ``recover()`` to simulate an outage."""
    api = FakeGraphAPI().start()
    yield api
    api.stop()


@dataclass
class LiveApp:
    app: Flask
    url: str

    def settle(self) -> None:
        """Wait until the handler threads handled everything stored and the sender threads tried the replies."""
        from bot import handling

        handling.settle(self.app)

    def run_job(self, job: Any) -> Any:
        with self.app.app_context():
            return job(self.app)


@pytest.fixture
def live_app(database: Database, clock: FrozenClock, graph_api: FakeGraphAPI) -> Iterator[LiveApp]:
    """The real app (real pywa sender pointed at ``graph_api``) served by werkzeug on an ephemeral port."""
    from loyalty import create_app

    config = app_config(
        database.url, WHATSAPP_TOKEN=TOKEN, WHATSAPP_PHONE_ID=meta.PHONE_NUMBER_ID, WHATSAPP_API_URL=graph_api.url
    )
    app = create_app(config)
    app.extensions["loyalty.clock"] = clock
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-app", daemon=True)
    thread.start()
    live = LiveApp(app, f"http://127.0.0.1:{server.server_port}")
    try:
        yield live
    finally:
        server.shutdown()
        live.settle()
        app.extensions["loyalty.db"].dispose()


class WhatsAppUser:
    """Posts signed webhook payloads as Meta would, and reads what came back through the Graph API."""

    def __init__(self, live: LiveApp, graph_api: FakeGraphAPI, wa_id: str = "919812345678") -> None:
        self.live, self.graph_api, self.wa_id = live, graph_api, wa_id
        self.http = httpx.Client(base_url=live.url, timeout=30)

    def post(
        self, body: dict[str, Any] | bytes, *, secret: str | None = APP_SECRET, settle: bool = True
    ) -> httpx.Response:
        raw = body if isinstance(body, bytes) else meta.encode(body)
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Hub-Signature-256"] = meta.sign(raw, secret)
        response = self.http.post("/webhook", content=raw, headers=headers)
        if settle:
            self.live.settle()
        return response

    def send(self, body: dict[str, Any]) -> httpx.Response:
        response = self.post(body)
        assert response.status_code == 200, response.text
        return response

    def say(self, text: str, **kw: Any) -> list[Recorded]:
        """Send a text and return only the replies it produced."""
        before = len(self.replies())
        self.send(meta.text(self.wa_id, text, **kw))
        return self.replies()[before:]

    def replies(self) -> list[Recorded]:
        return self.graph_api.delivered_to(self.wa_id)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def whatsapp(live_app: LiveApp, graph_api: FakeGraphAPI) -> Iterator[WhatsAppUser]:
    user = WhatsAppUser(live_app, graph_api)
    yield user
    user.close()
