"""The business number for wa.me links, read from the local Graph API over real HTTP (``bot.business_number``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
from flask import Flask
from sqlalchemy import select

from bot import jobs
from domain.customers import Customer
from loyalty.scheduler import job_table
from tests.bot_chat import make_customer
from tests.e2e import meta
from tests.e2e.conftest import TOKEN, LiveApp, WhatsAppUser
from tests.e2e.graph_api import SERVER_ERROR, FakeGraphAPI


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``check`` until it holds (a background thread is at work); False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def health(live: LiveApp) -> dict[str, object]:
    answer = httpx.get(f"{live.url}/health").json()
    number: dict[str, object] = answer["whatsapp_number"]
    return number


def refer(whatsapp: WhatsAppUser, live: LiveApp) -> tuple[str, str]:
    """A member asks for the referral link: (the replies' text, the member's code)."""
    database = live.app.extensions["loyalty.db"]
    make_customer(database, "+" + whatsapp.wa_id)
    replies = whatsapp.say("refer")
    with database.unit_of_work() as session:
        code = session.scalars(select(Customer.referral_code)).one()
    return "\n".join(r.text for r in replies), code


def test_the_number_is_read_from_the_graph_api_and_used_in_links(
    whatsapp: WhatsAppUser, live_app: LiveApp, graph_api: FakeGraphAPI
) -> None:
    found = live_app.run_job(jobs.refresh_business_number)
    assert (found.digits, found.display, found.verified_name) == (
        "919800011111",
        "+91 98000 11111",
        "Loyalty Test Shop",
    )
    assert graph_api.lookups
    for lookup in graph_api.lookups:  # the job's, and perhaps the one the sender makes when it is built
        url = urlsplit(lookup.path)
        assert url.path == f"/v22.0/{meta.PHONE_NUMBER_ID}"
        assert set(parse_qs(url.query)["fields"][0].split(",")) == {"display_phone_number", "verified_name"}
        assert lookup.headers["Authorization"] == f"Bearer {TOKEN}"
    assert health(live_app) == {"status": "known", "source": "graph"}
    text, code = refer(whatsapp, live_app)
    assert f"https://wa.me/919800011111?text=JOIN%20{code}" in text


def test_without_the_scheduler_the_number_is_read_when_sending_starts(
    whatsapp: WhatsAppUser, live_app: LiveApp, graph_api: FakeGraphAPI
) -> None:
    assert health(live_app)["status"] == "unknown"
    text, code = refer(whatsapp, live_app)  # the first reply builds the sender, which reads the number
    assert "wa.me" not in text
    assert wait_until(lambda: health(live_app)["status"] == "known")
    again = "\n".join(r.text for r in whatsapp.say("refer"))
    assert f"https://wa.me/919800011111?text=JOIN%20{code}" in again


def test_health_says_in_words_when_no_number_is_known_and_no_broken_link_is_given(
    whatsapp: WhatsAppUser, live_app: LiveApp, graph_api: FakeGraphAPI
) -> None:
    graph_api.display_phone_number = None  # the API answers without the number
    number = health(live_app)
    assert number["status"] == "unknown"
    assert "No WhatsApp business number is known" in str(number["problem"])
    text, code = refer(whatsapp, live_app)
    assert "wa.me" not in text and f"send JOIN {code}" in text


def test_a_failed_read_keeps_the_number_known_before_and_sending_goes_on(
    whatsapp: WhatsAppUser, live_app: LiveApp, graph_api: FakeGraphAPI
) -> None:
    live_app.run_job(jobs.refresh_business_number)
    graph_api.lookup_failure = (500, SERVER_ERROR)
    found = live_app.run_job(jobs.refresh_business_number)
    assert found.digits == "919800011111" and found.problem and "temporarily unavailable" in found.problem
    assert health(live_app)["status"] == "known"
    text, code = refer(whatsapp, live_app)
    assert f"https://wa.me/919800011111?text=JOIN%20{code}" in text


def test_a_read_that_fails_from_the_start_leaves_the_number_unknown(
    whatsapp: WhatsAppUser, live_app: LiveApp, graph_api: FakeGraphAPI
) -> None:
    graph_api.lookup_failure = (500, SERVER_ERROR)
    found = live_app.run_job(jobs.refresh_business_number)
    assert not found.known and found.problem and "Graph API did not give the number" in found.problem
    graph_api.lookup_failure, graph_api.display_phone_number = None, None  # answered, but without the field
    assert not live_app.run_job(jobs.refresh_business_number).known
    assert health(live_app)["status"] == "unknown"
    text, _ = refer(whatsapp, live_app)
    assert "wa.me/?" not in text and "wa.me" not in text


def test_the_scheduler_reads_the_number_when_it_starts_and_every_few_hours() -> None:
    table = {name: (func, trigger) for name, func, trigger in job_table(Flask(__name__))}
    func, trigger = table["refresh_business_number"]
    assert func is jobs.refresh_business_number
    assert trigger["hours"] <= 6 and trigger["next_run_time"] is not None
