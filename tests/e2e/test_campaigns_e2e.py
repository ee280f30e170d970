"""Campaigns end to end: the real sender (pywa over HTTP) against the local Graph API, webhooks signed as Meta's.

A 2,000-member segment with opted-out, STOP, undeliverable and capped members gets exactly the
right messages, each once, never faster than the rate, while the Graph API throttles and fails;
delivery reports posted to ``/webhook`` are what the campaign counts.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from bot.campaign_sender import CampaignSender
from domain import campaign_settings, campaigns
from domain.campaign_models import MessageCampaign
from domain.campaign_settings import CampaignSettings
from domain.clock import SystemClock
from domain.db import Database
from domain.segments import Segment
from tests.e2e import meta
from tests.e2e.campaign_seed import seed
from tests.e2e.conftest import LiveApp, WhatsAppUser
from tests.e2e.graph_api import INVALID_NUMBER, RATE_LIMITED, SERVER_ERROR, FakeGraphAPI, Recorded

RATE = 80
SETTINGS = CampaignSettings(rate_per_second=RATE, quiet_hours="none", messaging_limit_24h=10_000)


@pytest.fixture
def real_time(live_app: LiveApp) -> Iterator[LiveApp]:
    """The sender waits for real retry times: the app runs on the system clock, quiet hours off."""
    live_app.app.extensions["loyalty.clock"] = SystemClock()
    with live_app.app.extensions["loyalty.db"].unit_of_work() as session:
        campaign_settings.save(session, SETTINGS, "test")
    yield live_app
    from bot.sender import sender_for

    close = getattr(sender_for(live_app.app), "close", None)
    if close is not None:
        close()


def max_in_window(requests: list[Recorded], seconds: float) -> int:
    """The most requests that arrived within any window of ``seconds``."""
    return most_within([r.at for r in requests], seconds)


def most_within(times: list[float], seconds: float) -> int:
    """The most of ``times`` within any window of ``seconds``."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def max_in_one_second(requests: list[Recorded]) -> int:
    return max_in_window(requests, 1.0)


class StartTimes:
    """The real sender, with the moment each request starts (the sender's own clock, not the stand-in's)."""

    def __init__(self, real: Any) -> None:
        self.real, self.lock = real, threading.Lock()
        self.at: list[float] = []

    def send(self, phone: str, message: Any) -> str:
        with self.lock:
            self.at.append(time.time())
        return str(self.real.send(phone, message))


def start_campaign(db: Database, now: dt.datetime, settings: CampaignSettings) -> int:
    with db.unit_of_work() as session:
        campaign = campaigns.create(
            session,
            name="Diwali",
            template_name="diwali_offer",
            language="member",
            parameters=["name", "points", "tier"],
            segment=Segment(),
            now=now,
            settings=settings,
        )
        campaigns.start(session, campaign, now, settings, "e2e")
        return campaign.id


def fail_midway(graph_api: FakeGraphAPI, at: int) -> threading.Thread:
    """Once ``at`` messages got through: 25 server errors in a row, then 25 throttled answers."""

    def run() -> None:
        graph_api.wait_for(at, timeout=120)
        graph_api.fail(500, SERVER_ERROR, times=25)
        graph_api.wait_for(at + 100, timeout=120)
        graph_api.fail(429, RATE_LIMITED, times=25)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_2000_member_segment_gets_exactly_the_right_messages_once(
    real_time: LiveApp, graph_api: FakeGraphAPI, database: Database
) -> None:
    app: Flask = real_time.app
    now = SystemClock().now()
    members = seed(
        database,
        now,
        {"eligible": 1700, "no_consent": 100, "stop": 60, "undeliverable": 40, "capped": 50, "once_this_week": 50},
    )
    bouncing = members.of("eligible")[::170]  # ten numbers that turn out not to be on WhatsApp
    for phone in bouncing:
        graph_api.fail_for(phone, INVALID_NUMBER)
    graph_api.fail(429, RATE_LIMITED, times=30)  # throttled from the first request
    failing = fail_midway(graph_api, 600)
    campaign_id = start_campaign(database, now, SETTINGS)
    sender = CampaignSender(app)
    sender.sender = starts = StartTimes(sender.sender)
    results = sender.run(wait_for_retries=dt.timedelta(minutes=2))
    failing.join(timeout=5)

    should_get = set(members.of("eligible", "once_this_week")) - set(bouncing)
    got = Counter("+" + r.to for r in graph_api.delivered)
    assert set(got) == should_get and set(got.values()) == {1}, results
    # The sender never starts more than RATE requests in any second (``Slots.gate``), throttled or not,
    # and over the whole campaign it keeps under the rate.
    assert most_within(starts.at, 1.0) <= RATE
    assert (len(starts.at) - 1) / (max(starts.at) - min(starts.at)) <= RATE
    # What the stand-in sees also carries each request's own way to it: it runs in this process and
    # shares the interpreter with 32 sender threads, so its clock reads some arrivals late. A second
    # there holds a tenth more at most.
    assert max_in_one_second(graph_api.requests) <= RATE * 1.1
    with database.unit_of_work() as session:
        counts = campaigns.counts(session, campaign_id)
        campaign = session.get(MessageCampaign, campaign_id)
        assert campaign is not None and campaign.status == "done"
    assert counts == {"sent": 1740, "delivered": 0, "read": 0, "failed": 10, "skipped": 0, "pending": 0}
    first = graph_api.delivered[0].body["template"]
    assert first["name"] == "diwali_offer" and first["language"]["code"] in ("en", "hi")
    assert [p["type"] for p in first["components"][0]["parameters"]] == ["text", "text", "text"]


def statuses(reports: list[tuple[str, str, str]]) -> dict[str, Any]:
    """One webhook POST carrying several delivery reports (Meta batches them)."""
    body = meta.status(*reports[0])
    value = body["entry"][0]["changes"][0]["value"]
    value["statuses"] = [meta.status(*r)["entry"][0]["changes"][0]["value"]["statuses"][0] for r in reports]
    return body


def test_campaign_counts_are_the_statuses_webhooks_sent_back(
    real_time: LiveApp, graph_api: FakeGraphAPI, database: Database, whatsapp: WhatsAppUser
) -> None:
    now = SystemClock().now()
    seed(database, now, {"eligible": 40, "stop": 5})
    campaign_id = start_campaign(database, now, SETTINGS)
    CampaignSender(real_time.app).run()
    sent = graph_api.delivered
    assert len(sent) == 40
    reports = [(r.wa_message_id or "", "delivered", r.to) for r in sent[:30]]
    reports += [(r.wa_message_id or "", "read", r.to) for r in sent[:12]]
    reports += [(r.wa_message_id or "", "sent", r.to) for r in sent[:5]]  # late and out of order: no step back
    reports += [(r.wa_message_id or "", "failed", r.to) for r in sent[35:38]]
    whatsapp.send(statuses(reports))
    whatsapp.send(meta.text(sent[0].to, "Is the offer on today?"))  # a reply
    with database.unit_of_work() as session:
        counts = campaigns.counts(session, campaign_id)
        from domain import campaign_results

        result = campaign_results.results(session, campaign_id, CampaignSettings())
    assert counts == {"sent": 37, "delivered": 30, "read": 12, "failed": 3, "skipped": 0, "pending": 0}
    assert result.replied == 1


def account_update(field: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": meta.WABA_ID, "changes": [{"field": field, "value": value}]}],
    }


def test_a_flagged_number_or_a_paused_template_pauses_sending_with_the_reason(
    real_time: LiveApp, graph_api: FakeGraphAPI, database: Database, whatsapp: WhatsAppUser
) -> None:
    now = SystemClock().now()
    seed(database, now, {"eligible": 5})
    first = start_campaign(database, now, SETTINGS)
    review = {"event": "PAUSED", "message_template_id": 1, "message_template_name": "diwali_offer"}
    whatsapp.send(account_update("message_template_status_update", {**review, "message_template_language": "en_US"}))
    with database.unit_of_work() as session:
        campaign = session.get(MessageCampaign, first)
        assert campaign is not None and campaign.status == "paused"
        assert campaign.pause_reason == "template diwali_offer is PAUSED"
        campaigns.resume(session, campaign, now, "staff")
    quality = {"display_phone_number": "15550783881", "event": "FLAGGED", "current_limit": "TIER_1K"}
    whatsapp.send(account_update("phone_number_quality_update", quality))
    assert CampaignSender(real_time.app).run()["sent"] == 0
    with database.unit_of_work() as session:
        campaign = session.get(MessageCampaign, first)
        assert campaign is not None and campaign.status == "paused"
        assert campaign.pause_reason == "the number's quality is FLAGGED"
    assert graph_api.delivered == []
