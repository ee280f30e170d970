"""Automation messages through the campaign sender, on SQLite and PostgreSQL: the weekly cap shared with
campaigns, STOP after queueing, quiet hours. The Graph API is an in-process fake that records templates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import Counter

import pytest
from flask import Flask
from sqlalchemy import select

from bot.campaign_sender import CampaignSender
from bot.messages import Reply, Template
from domain import automation_runs, automations, campaign_settings, consents, marketing
from domain.campaign_models import MarketingMessage
from domain.campaign_settings import CampaignSettings
from domain.customers import Customer
from domain.db import Database
from tests.domain_factories import make_customer
from tests.fakes import FrozenClock

DAY = dt.timedelta(days=1)
FAST = CampaignSettings(rate_per_second=80, failure_min=1000)


class Graph:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Template]] = []
        self.lock = threading.Lock()

    def send(self, phone: str, message: Reply | Template) -> str:
        assert isinstance(message, Template)
        with self.lock:
            self.sent.append((phone, message))
            return f"wamid.A{len(self.sent):04d}"


@pytest.fixture
def graph(app: Flask, database: Database) -> Graph:
    fake = Graph()
    app.extensions["bot.sender"] = fake
    with database.unit_of_work() as s:
        campaign_settings.save(s, FAST, "test")
    return fake


def birthday_member(db: Database, clock: FrozenClock, name: str) -> int:
    with db.unit_of_work() as s:
        customer = make_customer(s, clock.now() - 300 * DAY, name=name)
        consents.record(s, customer, consents.MARKETING, True, channel="whatsapp", now=clock.now() - 300 * DAY)
        customer.birthday = clock.now().date().replace(year=1990)
        return customer.id


def turn_on_birthday(db: Database, clock: FrozenClock, **changes: object) -> None:
    with db.unit_of_work() as s:
        settings = dataclasses.replace(automations.load(s, "birthday"), enabled=True, **changes)  # type: ignore[arg-type]
        automations.save(s, settings, actor="admin@example.com", now=clock.now())


def run_automations(db: Database, clock: FrozenClock) -> Counter[str]:
    return automation_runs.run_automations(db.unit_of_work, clock.now())


def message_of(db: Database, customer_id: int) -> MarketingMessage:
    with db.unit_of_work() as s:
        mine = MarketingMessage.idempotency_key.like("auto:%")
        found = s.scalar(select(MarketingMessage).where(MarketingMessage.customer_id == customer_id, mine))
        assert found is not None
        return found


def test_automations_and_campaigns_share_the_weekly_cap(
    app: Flask, database: Database, clock: FrozenClock, graph: Graph
) -> None:
    capped = birthday_member(database, clock, "Capped")
    fresh = birthday_member(database, clock, "Fresh")
    with database.unit_of_work() as s:
        for n in range(2):  # two campaign messages accepted this week: the default cap of 2 is reached
            template = ("weekend_offer", "en", ["Capped"])
            key = f"campaign:{n}:{capped}"
            at = clock.now() - DAY
            marketing.record_accepted(s, capped, key=key, campaign_id=None, template=template, wamid=None, now=at)
    turn_on_birthday(database, clock)
    assert run_automations(database, clock)["birthday"] == 2
    results = CampaignSender(app).run()
    assert results["sent"] == 1 and results["skipped:capped"] == 1
    assert [m.name for _, m in graph.sent] == ["birthday_bonus"]
    assert (message_of(database, capped).status, message_of(database, capped).error_code) == ("skipped", "capped")
    sent = message_of(database, fresh)
    assert sent.status == "sent" and sent.accepted_at == clock.now()
    with database.unit_of_work() as s:
        # The automation's accepted message counts for campaigns: with a cap of 1, Fresh is now held back.
        assert marketing.accepted_last_week(s, fresh, clock.now()) == 1
        one = dataclasses.replace(FAST, marketing_cap_per_week=1)
        assert marketing.why_held(s, fresh, clock.now(), one) == "capped"
        assert marketing.why_held(s, fresh, clock.now(), FAST) is None


def test_a_stop_after_queueing_is_respected_when_sending(
    app: Flask, database: Database, clock: FrozenClock, graph: Graph
) -> None:
    member = birthday_member(database, clock, "Asha")
    turn_on_birthday(database, clock)
    assert run_automations(database, clock)["birthday"] == 1
    with database.unit_of_work() as s:
        customer = s.get(Customer, member)
        assert customer is not None
        consents.record(s, customer, consents.MARKETING, False, channel="stop_promotions", now=clock.now())
    clock.advance(seconds=1)
    assert CampaignSender(app).run()["skipped:stop"] == 1
    assert graph.sent == [] and message_of(database, member).error_code == "stop"


def test_queued_in_quiet_hours_it_goes_out_in_the_morning(
    app: Flask, database: Database, clock: FrozenClock, graph: Graph
) -> None:
    clock.set(dt.datetime(2026, 6, 15, 17, 0, tzinfo=dt.UTC))  # 22:30 in Kolkata
    birthday_member(database, clock, "Late")
    turn_on_birthday(database, clock, send_hour=22)
    assert run_automations(database, clock)["birthday"] == 1
    assert CampaignSender(app).run()["sent"] == 0 and graph.sent == []
    clock.set(dt.datetime(2026, 6, 16, 3, 31, tzinfo=dt.UTC))  # 09:01 the next day
    assert run_automations(database, clock) == Counter()  # yesterday's birthday is not queued again
    assert CampaignSender(app).run()["sent"] == 1
    (phone_and_message,) = graph.sent
    assert phone_and_message[1].params == ("Late", "100")
