"""Automations end to end: the scheduler's jobs against the local Graph API over HTTP, with the real sender."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask import Flask

from bot import campaign_sender
from bot import jobs as bot_jobs
from domain import automations, consents
from domain.db import Database
from loyalty import jobs
from tests.conftest import app_config
from tests.domain_factories import give_points, make_customer
from tests.e2e.conftest import TOKEN, LiveApp
from tests.e2e.graph_api import FakeGraphAPI
from tests.e2e.meta import PHONE_NUMBER_ID
from tests.fakes import FrozenClock

DAY = dt.timedelta(days=1)


def parameters(body: dict[str, Any]) -> list[str]:
    components = body["template"].get("components", [])
    return [p["text"] for c in components if c["type"] == "body" for p in c["parameters"]]


def test_the_scheduler_jobs_send_each_occasion_once_through_the_graph_api(
    live_app: LiveApp, database: Database, clock: FrozenClock, graph_api: FakeGraphAPI
) -> None:
    clock.set(dt.datetime(2026, 6, 15, 5, 0, tzinfo=dt.UTC))  # 10:30 in Kolkata
    joined = clock.now() - 300 * DAY
    with database.unit_of_work() as s:
        asha = make_customer(s, joined, phone="+919812300001", name="Asha Verma")
        ravi = make_customer(s, joined, phone="+919812300002", name="Ravi")
        meera = make_customer(s, joined, phone="+919812300003", name="Meera")
        for person in (asha, ravi, meera):
            consents.record(s, person, consents.SERVICE, True, channel="whatsapp", now=joined)
        consents.record(s, asha, consents.MARKETING, True, channel="whatsapp", now=joined)
        asha.birthday, ravi.birthday = dt.date(1990, 6, 15), dt.date(4, 6, 15)  # Ravi gave no year
        give_points(s, meera.id, 80, now=joined, expires_at=clock.now() + 7 * DAY)
        birthday = dataclasses.replace(automations.load(s, "birthday"), enabled=True, bonus_points=100)
        automations.save(s, birthday, actor="admin@example.com", now=clock.now())

    assert live_app.run_job(jobs.run_automations) == {"birthday": 2, "expiry": 1}
    assert live_app.run_job(campaign_sender.send_until_done)["sent"] == 1
    assert live_app.run_job(bot_jobs.dispatch_notifications)["dispatched"] == 1

    (greeting,) = graph_api.delivered_to("919812300001")
    assert greeting.type == "template" and greeting.text == "birthday_bonus"
    assert parameters(greeting.body) == ["Asha Verma", "100"]
    assert graph_api.delivered_to("919812300002") == []  # points, but no offers without consent
    (reminder,) = graph_api.delivered_to("919812300003")
    assert reminder.type == "template" and reminder.text == "points_expiring"

    # The scheduler restarts (a new app and database connection) and runs everything again.
    again = _restarted(database, clock, graph_api)
    try:
        with again.app_context():
            assert jobs.run_automations(again) == {}
            assert campaign_sender.send_until_done(again)["sent"] == 0
            bot_jobs.dispatch_notifications(again)
        verify = again.test_cli_runner().invoke(args=["loyalty", "verify"])
        assert verify.exit_code == 0, verify.output
    finally:
        again.extensions["loyalty.db"].dispose()
        for app in (again, live_app.app):
            _close_sender(app)
    assert len(graph_api.delivered) == 2


def _close_sender(app: Flask) -> None:
    """The campaign sender's threads left keep-alive connections in the app's HTTP client: close them now."""
    sender = app.extensions.pop("bot.sender", None)
    session = getattr(getattr(getattr(sender, "client", None), "_api", None), "_session", None)
    if session is not None:
        session.close()


def _restarted(database: Database, clock: FrozenClock, graph_api: FakeGraphAPI) -> Flask:
    from loyalty import create_app

    config = app_config(
        database.url, WHATSAPP_TOKEN=TOKEN, WHATSAPP_PHONE_ID=PHONE_NUMBER_ID, WHATSAPP_API_URL=graph_api.url
    )
    app = create_app(config)
    app.extensions["loyalty.clock"] = clock
    return app
