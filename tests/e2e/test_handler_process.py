"""The served app's default: handling in a child process of the web worker (``BOT_HANDLERS=process``).

A real server on a real port, signed payloads in Meta's format, replies read at the
local Graph API; the child is a real spawned process building its own app from the
parent's settings, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import make_server

from bot import intake
from bot.handler_process import HandlerProcess, portable_config
from bot.models import InboundMessage
from domain.db import Database
from runtime.config import ConfigError
from tests.conftest import APP_SECRET, app_config
from tests.e2e import meta
from tests.e2e.conftest import TOKEN
from tests.e2e.graph_api import FakeGraphAPI

WAIT = 60.0  # a spawned child imports the whole app first


@pytest.fixture
def served(database: Database, graph_api: FakeGraphAPI) -> Iterator[tuple[Flask, str]]:
    from loyalty import create_app

    config = app_config(
        database.url,
        BOT_HANDLERS="process",
        WHATSAPP_TOKEN=TOKEN,
        WHATSAPP_PHONE_ID=meta.PHONE_NUMBER_ID,
        WHATSAPP_API_URL=graph_api.url,
    )
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="served-app", daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        found: HandlerProcess | None = app.extensions.get("bot.handler_process")
        if found is not None:
            found.close()


def post(url: str, body: dict[str, Any]) -> httpx.Response:
    raw = meta.encode(body)
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": meta.sign(raw, APP_SECRET)}
    return httpx.post(f"{url}/webhook", content=raw, headers=headers, timeout=30)


def child_of(app: Flask) -> Any:
    return app.extensions["bot.handler_process"].child


def test_messages_are_handled_by_a_child_process_and_answered_once(
    served: tuple[Flask, str], graph_api: FakeGraphAPI, database: Database
) -> None:
    app, url = served
    first = meta.text("919812340001", "hi")
    assert post(url, first).status_code == 200
    replies = graph_api.wait_for(1, timeout=WAIT)
    assert "Which language do you prefer?" in replies[0].text
    assert replies[0].to == "919812340001"

    child = child_of(app)
    assert child.is_alive() and child.pid != os.getpid()

    assert post(url, first).status_code == 200  # Meta redelivers: acknowledged, not answered again
    assert post(url, meta.text("919812340002", "hi")).status_code == 200
    graph_api.wait_for(2, timeout=WAIT)
    time.sleep(0.5)
    assert len(graph_api.delivered_to("919812340001")) == 1
    assert len(graph_api.delivered_to("919812340002")) == 1
    with database.unit_of_work() as session:
        statuses = session.execute(select(InboundMessage.status, func.count()).group_by(InboundMessage.status)).all()
    assert dict(statuses) == {"handled": 2}


def test_a_child_that_died_is_replaced_by_the_next_message(served: tuple[Flask, str], graph_api: FakeGraphAPI) -> None:
    app, url = served
    assert post(url, meta.text("919812340003", "hi")).status_code == 200
    graph_api.wait_for(1, timeout=WAIT)
    dead = child_of(app)
    os.kill(dead.pid, signal.SIGKILL)
    dead.join(timeout=10)

    assert post(url, meta.text("919812340004", "hi")).status_code == 200
    replies = graph_api.wait_for(2, timeout=WAIT)
    assert [r.to for r in replies] == ["919812340003", "919812340004"]
    assert child_of(app).pid != dead.pid


def test_only_plain_settings_go_to_the_child() -> None:
    config = {"DATABASE_URL": "sqlite://", "TESTING": True, "PORT": 5, "CLOCK": object(), "lower": "x"}
    assert portable_config(config) == {"DATABASE_URL": "sqlite://", "TESTING": True, "PORT": 5}


def test_a_misspelt_mode_stops_the_start_not_a_request(database: Database) -> None:
    from loyalty import create_app

    with pytest.raises(ConfigError, match="BOT_HANDLERS must be one of process, threads"):
        create_app(app_config(database.url, BOT_HANDLERS="proces"))


def test_the_default_is_a_child_process_except_under_test(database: Database) -> None:
    from loyalty import create_app

    served_app = create_app({**app_config(database.url), "TESTING": False})
    tested_app = create_app(app_config(database.url))
    assert intake.in_child_process(served_app)
    assert not intake.in_child_process(tested_app)


@pytest.mark.parametrize(("value", "nice"), [(None, 10), ("", 10), ("19", 19), (0, 0)])
def test_the_handlers_priority_comes_from_the_environment_or_the_default(value: Any, nice: int) -> None:
    from bot.handling import configured_nice

    assert configured_nice({"BOT_HANDLER_NICE": value}) == nice


def test_the_first_request_of_any_kind_starts_the_child_so_the_first_message_need_not_wait(
    served: tuple[Flask, str],
) -> None:
    app, url = served
    assert app.extensions.get("bot.handler_process") is None
    assert httpx.get(f"{url}/health", timeout=30).status_code in (200, 503)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        child = app.extensions["bot.handler_process"].child
        if child is not None and child.is_alive():
            break
        time.sleep(0.1)
    else:
        raise AssertionError("no handler process was started")
