"""No phone number or message text reaches the logs at INFO, whatever path a message takes."""

from __future__ import annotations

import logging

import pytest

from bot import jobs
from bot.sender import SendError
from tests.e2e import meta
from tests.fakes import FrozenClock
from tests.integration.bot.conftest import FakeSender, Poster, StubEngine

WA_ID = "919812345678"
SECRET_TEXT = "my secret shopping list with pickles"


def test_no_phone_or_text_in_info_logs(
    webhook: Poster,
    fake_sender: FakeSender,
    stub_engine: StubEngine,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    webhook.post(meta.text(WA_ID, SECRET_TEXT))  # handled and answered
    fake_sender.errors = [
        SendError("HTTP 500", code="2", transient=True),
        SendError("bad", code="100", transient=False),
    ]
    webhook.post(meta.text(WA_ID, SECRET_TEXT + " 2"))  # a send that must be retried
    clock.advance(minutes=1)
    jobs.retry_outbox(webhook.app)  # ... and then fails for good
    for _ in range(22):  # a flood
        webhook.post(meta.text(WA_ID, SECRET_TEXT))
    stub_engine.fail_with = RuntimeError("engine failed")
    webhook.post(meta.text(WA_ID, SECRET_TEXT + " 3"))  # a failure in handling
    webhook.post(meta.text(WA_ID, SECRET_TEXT), secret="wrong")  # a bad signature

    assert len(caplog.records) > 3, "the scenario should have logged something"
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for secret in (WA_ID, WA_ID[2:], "+" + WA_ID, SECRET_TEXT, "pickles"):
        assert secret not in logged
