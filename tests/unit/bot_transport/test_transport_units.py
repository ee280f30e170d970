"""Small pure pieces of the transport: error classification, flood counting, the Graph URL rebasing, job table."""

from __future__ import annotations

import datetime as dt
import os
import threading

import httpx
import pytest
from flask import Flask
from pywa.errors import WhatsAppError

from bot import conversations, handling, jobs
from bot.models import Conversation
from bot.sender import RebasingTransport, classify
from loyalty.scheduler import job_table

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


def error(code: int, status: int, message: str = "boom") -> WhatsAppError:
    response = httpx.Response(status, request=httpx.Request("POST", "http://x"))
    return WhatsAppError.from_dict({"code": code, "message": message}, response=response)


def test_server_errors_and_throttling_are_transient() -> None:
    assert classify(error(2, 500)).transient
    assert classify(error(130429, 429)).transient
    assert classify(error(131056, 400)).transient  # pair rate limit comes as a 400


def test_meta_refusals_are_permanent_with_their_code() -> None:
    for code in (131047, 131026, 100, 131051, 132001):
        failure = classify(error(code, 400, "nope"))
        assert not failure.transient and failure.code == str(code)


def test_rebasing_keeps_the_version_path_and_moves_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def record(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", record)
    transport = RebasingTransport("http://127.0.0.1:9/graph/")
    transport.handle_request(httpx.Request("POST", "https://graph.facebook.com/v22.0/123/messages"))
    assert str(seen[0].url) == "http://127.0.0.1:9/graph/v22.0/123/messages"
    assert seen[0].headers["Host"] == "127.0.0.1:9"


def test_flood_counting() -> None:
    conv = Conversation(phone="+919812345678", flood_count=0)
    results = []
    for i in range(21):
        flood = conversations.count_message(conv, NOW + dt.timedelta(seconds=i))
        conversations.apply_flood(conv, flood)
        results.append(flood.crossed)
    assert results == [False] * 20 + [True]
    assert conversations.is_muted(conv, NOW + dt.timedelta(minutes=9))
    assert not conversations.is_muted(conv, NOW + dt.timedelta(minutes=11))


def test_a_new_minute_starts_a_new_count() -> None:
    conv = Conversation(phone="+919812345678", flood_count=20, flood_window_start=NOW)
    assert not conversations.count_message(conv, NOW + dt.timedelta(seconds=61)).crossed
    assert conversations.count_message(conv, NOW + dt.timedelta(seconds=30)).crossed


def test_the_scheduler_runs_the_bot_jobs_often() -> None:
    table = {name: (func, trigger) for name, func, trigger in job_table(Flask(__name__))}
    assert table["retry_outbox"][0] is jobs.retry_outbox
    assert table["dispatch_notifications"][0] is jobs.dispatch_notifications
    assert table["retry_outbox"][1]["seconds"] <= 15
    assert table["dispatch_notifications"][1]["seconds"] <= 30
    assert table["handle_stranded"][0] is jobs.handle_stranded
    assert table["handle_stranded"][1]["seconds"] * 2 <= jobs.STRANDED_AFTER.total_seconds()


def test_a_handler_thread_lowers_only_its_own_cpu_priority() -> None:
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: list[int] = []

    def handler() -> None:
        handling.lower_priority(before + 5)
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    thread = threading.Thread(target=handler)
    thread.start()
    thread.join()
    assert seen == [min(before + 5, 19)]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
