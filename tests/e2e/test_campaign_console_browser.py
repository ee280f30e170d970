"""WhatsApp campaigns in a real headless Chromium: the segment builder's live count, the pre-flight box, the results.

The app and its database are the module's (members held back for each reason, made once);
each test has its own browser context. Every page is checked for CSP violations, and screenshots
land in ``test-artifacts/screenshots/campaigns-*.png``.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect
from werkzeug.serving import make_server

from domain import campaign_settings, campaigns
from domain.campaign_models import MessageCampaign
from domain.db import Database
from domain.segments import Segment
from domain.users import create_user
from tests.conftest import app_config
from tests.e2e.test_admin_browser import CSP_LISTENER, PASSWORD, browser, shot
from tests.fakes import FrozenClock
from tests.integration.campaign_console_helpers import held_back, members, set_statuses

pytestmark = pytest.mark.xdist_group("campaign_browser")
__all__ = ["browser"]  # the shared Chromium fixture

ADMIN = "admin@example.com"
GOLD, SILVER = 6, 4


class Live:
    def __init__(self, app: Flask, url: str, database: Database) -> None:
        self.app, self.url, self.database = app, url, database


@pytest.fixture(scope="module")
def live(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from loyalty import create_app

    path = tmp_path_factory.mktemp("campaign-browser") / "console.db"
    shutil.copyfile(sqlite_template, path)
    app = create_app(app_config(f"sqlite:///{path}"))
    database: Database = app.extensions["loyalty.db"]
    clock = FrozenClock(dt.datetime.now(dt.UTC))
    members(database, clock, "gold", GOLD)
    members(database, clock, "silver", SILVER)
    held_back(database, clock)  # four more gold members, one held back by each reason
    with database.unit_of_work() as session:
        create_user(session, ADMIN, "admin", PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="campaign-e2e-server", daemon=True)
    thread.start()
    yield Live(app, f"http://127.0.0.1:{server.server_port}", database)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    database.dispose()


@pytest.fixture
def context(browser: Browser, live: Live) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    ctx.add_init_script(CSP_LISTENER)
    yield ctx
    ctx.close()


def sign_in(context: BrowserContext) -> Page:
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/admin/login")
    page.fill("input[name=email]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    return page


def no_csp_violations(page: Page) -> None:
    page.wait_for_load_state("load")
    assert page.evaluate("window.__cspViolations") == [], page.url


def test_building_a_segment_updates_the_live_count_then_the_preflight_box(context: BrowserContext, live: Live) -> None:
    page = sign_in(context)
    page.click("nav.nav >> text=WhatsApp campaigns")
    expect(page.locator("h1")).to_contain_text("WhatsApp campaigns")
    no_csp_violations(page)
    page.click("text=New WhatsApp campaign")
    count = page.locator("#count-eligible")
    expect(count).to_have_text(str(GOLD + SILVER))  # no condition yet: everyone who may get marketing
    expect(page.locator("#held-no_consent")).to_have_text("1")
    page.check("input[name=tiers][value=gold]")
    expect(count).to_have_text(str(GOLD))
    expect(page.locator("#held-stop")).to_have_text("1")
    expect(page.locator("#held-undeliverable")).to_have_text("1")
    expect(page.locator("#held-capped")).to_have_text("1")
    expect(page.locator("#count-matching")).to_have_text(str(GOLD + 4))
    page.check("input[name=tiers][value=silver]")
    expect(count).to_have_text(str(GOLD + SILVER))
    page.uncheck("input[name=tiers][value=silver]")
    expect(count).to_have_text(str(GOLD))
    page.fill("input[name=min_points]", "5")
    expect(count).to_have_text("0")
    page.fill("input[name=min_points]", "")
    expect(count).to_have_text(str(GOLD))
    page.fill("input[name=min_points]", "9")
    page.fill("input[name=max_points]", "3")
    expect(page.locator("#count-state")).to_contain_text("Fix the segment")
    expect(count).to_have_text("—")  # no stale figure while the segment cannot be counted
    page.fill("input[name=min_points]", "")
    page.fill("input[name=max_points]", "")
    expect(count).to_have_text(str(GOLD))
    expect(page.locator("#count-state")).to_have_text("Counted just now.")
    shot(page, "campaigns-01-segment-builder")
    no_csp_violations(page)

    page.fill("input[name=name]", "Browser gold weekend")
    page.fill("input[name=template_name]", "double_points")
    page.select_option("select[name=parameters-0-source]", "name")
    expect(page.locator("select[name=parameters-1-source]")).to_be_visible()
    page.select_option("select[name=parameters-1-source]", "text")
    page.fill("input[name=parameters-1-text]", "this weekend")
    page.click("text=Save draft")
    expect(page.locator(".flash-success")).to_contain_text("Draft “Browser gold weekend” saved")
    box = page.locator("#preflight")
    expect(box.locator("#pf-audience")).to_have_text(str(GOLD))
    expect(box.locator("#pf-capped")).to_contain_text("1 held back by the weekly cap")
    expect(box.locator("#pf-limit")).to_have_text("999")  # the capped member's messages count
    expect(box.locator("#pf-time")).to_contain_text("1 s at 20 per second")
    expect(box.locator("#pf-cost")).to_contain_text("₹5.16")  # 6 × ₹0.86
    expect(page.locator("#start")).to_be_enabled()
    page.fill("#test-form textarea[name=phones]", "+91 98765 43210")
    page.click("#test-form button")
    expect(page.locator(".flash-success")).to_contain_text("Test queued to 1 staff number(s)")
    expect(page.locator("#tests")).to_contain_text("+919876543210")
    shot(page, "campaigns-02-preflight")
    no_csp_violations(page)


def test_the_preflight_box_refuses_past_the_messaging_limit(context: BrowserContext, live: Live) -> None:
    with live.database.unit_of_work() as session:
        campaign_settings.save(session, campaign_settings.CampaignSettings(messaging_limit_24h=3), "e2e")
        made = campaigns.create(
            session,
            name="Too many",
            template_name="offer",
            segment=Segment(tiers=("gold",)),
            now=dt.datetime.now(dt.UTC),
            settings=campaign_settings.CampaignSettings(),
        )
    try:
        page = sign_in(context)
        page.goto(f"/admin/whatsapp-campaigns/{made.id}")
        expect(page.locator("#pf-refusal")).to_contain_text("it cannot start")
        expect(page.locator("#start")).to_be_disabled()
        shot(page, "campaigns-03-preflight-over-limit")
        no_csp_violations(page)
    finally:
        with live.database.unit_of_work() as session:
            campaign_settings.save(session, campaign_settings.CampaignSettings(), "e2e")


def test_the_results_page_shows_numbers_and_charts_and_retargets(context: BrowserContext, live: Live) -> None:
    now = dt.datetime.now(dt.UTC)
    settings = campaign_settings.CampaignSettings(quiet_hours="none")
    with live.database.unit_of_work() as session:
        made = campaigns.create(
            session,
            name="Sent gold offer",
            template_name="offer",
            parameters=["name"],
            segment=Segment(tiers=("gold",)),
            now=now,
            settings=settings,
        )
        campaigns.start(session, made, now, settings, "e2e")
    statuses = [("read", None), ("read", None), ("delivered", None), ("sent", None), ("failed", "131049")]
    set_statuses(live.database, made.id, [*statuses, ("skipped", "capped")], now)
    page = sign_in(context)
    page.goto(f"/admin/whatsapp-campaigns/{made.id}")
    expect(page.locator("#r-sent strong")).to_have_text("4")
    expect(page.locator("#r-delivered strong")).to_have_text("3")
    expect(page.locator("#r-read strong")).to_have_text("2")
    expect(page.locator("#r-failed strong")).to_have_text("1")
    expect(page.locator("#r-revenue strong")).to_have_text("₹0.00")
    expect(page.locator("#funnel-chart svg.chart rect")).to_have_count(6)
    expect(page.locator("#reasons svg.chart")).to_have_count(1)
    expect(page.locator("#reasons")).to_contain_text("Meta's per-member marketing limit (131049)")
    swatch = "getComputedStyle(document.querySelector('#funnel-chart .legend .swatch-0')).backgroundColor"
    assert page.evaluate(swatch) == "rgb(37, 99, 235)"
    expect(page.locator("#csv")).to_be_visible()
    shot(page, "campaigns-04-results")
    no_csp_violations(page)
    with page.expect_download() as download:
        page.click("#csv")
    csv_text = Path(download.value.path()).read_text()
    assert csv_text.startswith("recipient_id,member_id,phone") and csv_text.count("\n") == 7
    page.click("text=Retarget those who did not read (2)")
    expect(page.locator(".flash-success")).to_contain_text("made for 2 members who did not read")
    expect(page.locator("h1")).to_contain_text("Sent gold offer (did not read)")
    expect(page.locator("#segment")).to_contain_text(f"Did not read campaign #{made.id}")
    with live.database.unit_of_work() as session:
        assert session.get(MessageCampaign, made.id + 1) is not None
    shot(page, "campaigns-05-retarget-draft")
    no_csp_violations(page)


def test_the_settings_page_saves(context: BrowserContext) -> None:
    page = sign_in(context)
    page.goto("/admin/whatsapp-campaigns")
    page.click("text=Campaign settings")
    page.fill("input[name=rate_per_second]", "90")
    page.fill("input[name=reason]", "faster")
    page.click("text=Save campaign settings")
    expect(page.locator("#campaign-settings .error")).to_contain_text("Number must be between 1 and 80.")
    page.fill("input[name=rate_per_second]", "20")
    page.click("text=Save campaign settings")
    expect(page.locator(".flash-success")).to_contain_text("Nothing changed.")
    shot(page, "campaigns-06-settings")
    no_csp_violations(page)


def test_the_campaign_page_follows_the_send_and_shows_why_it_paused(context: BrowserContext, live: Live) -> None:
    now = dt.datetime.now(dt.UTC)
    settings = campaign_settings.CampaignSettings()
    with live.database.unit_of_work() as session:
        made = campaigns.create(
            session,
            name="Watched",
            template_name="offer",
            segment=Segment(tiers=("silver",)),
            now=now,
            settings=settings,
        )
        campaigns.start(session, made, now, settings, "e2e")
    page = sign_in(context)
    page.goto(f"/admin/whatsapp-campaigns/{made.id}")
    expect(page.locator("#r-pending strong")).to_have_text(str(SILVER))
    set_statuses(live.database, made.id, [("read", None), ("delivered", None)], now)
    expect(page.locator("#r-sent strong")).to_have_text("2", timeout=15_000)  # polled, no reload
    expect(page.locator("#r-read strong")).to_have_text("1")
    expect(page.locator("#r-pending strong")).to_have_text(str(SILVER - 2))
    with live.database.unit_of_work() as session:
        assert campaigns.pause_if_sending(session, made.id, now, "failure rate 40% (20 of 50 sends)")
    expect(page.locator("#pause-reason")).to_contain_text("failure rate 40%", timeout=15_000)
    expect(page.locator("#status")).to_contain_text("paused")
    expect(page.locator("#controls")).to_contain_text("Resume")
    shot(page, "campaigns-07-auto-paused")
    no_csp_violations(page)
    page.click("#controls >> text=Resume")
    expect(page.locator(".flash-success")).to_contain_text("Resumed.")
    expect(page.locator("#status")).to_contain_text("sending")
