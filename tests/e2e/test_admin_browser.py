"""The console in a real headless Chromium (Debian's), driven by Playwright, against the app on an ephemeral port.

One app, database and browser for the module (the flows build on demo data);
each test opens its own browser context, so sessions never leak between tests.
Screenshots of every page land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from domain import affiliates, ledger, rewards
from domain.affiliate_models import Affiliate, Commission
from domain.customers import Customer
from domain.db import Database
from domain.rewards import Reward
from domain.rules import ProgramRules, load_rules
from domain.users import create_user
from loyalty.demo import seed
from tests.conftest import app_config

pytestmark = pytest.mark.xdist_group("admin_browser")

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
ADMIN, SUPPORT = "admin@example.com", "support@example.com"


class Live:
    def __init__(self, app: Flask, url: str, database: Database) -> None:
        self.app, self.url, self.database = app, url, database


def _prepare(database: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    with database.unit_of_work() as session:
        seed(session, now)
        create_user(session, ADMIN, "admin", PASSWORD)
        create_user(session, SUPPORT, "support", PASSWORD)
        affiliates.apply(session, name="Corner Store", phone="+919855566677", now=now, rules=ProgramRules())
        asha = session.scalar(select(Customer).where(Customer.phone == "+919812345678"))
        mug = session.scalar(select(Reward).where(Reward.name == "Free coffee mug"))
        assert asha is not None and mug is not None
        ledger.credit(
            session,
            ledger.lock_customer(session, asha.id),
            kind="adjust",
            points=500,
            key="e2e:points",
            now=now,
            expires_at=now + dt.timedelta(days=365),
        )
        rewards.redeem(session, asha.id, mug.id, load_rules(session), now)


@pytest.fixture(scope="module")
def live(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from loyalty import create_app

    path = tmp_path_factory.mktemp("admin-browser") / "console.db"
    shutil.copyfile(sqlite_template, path)
    app = create_app(app_config(f"sqlite:///{path}"))
    database: Database = app.extensions["loyalty.db"]
    _prepare(database)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="admin-e2e-server", daemon=True)
    thread.start()
    yield Live(app, f"http://127.0.0.1:{server.server_port}", database)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    database.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser, live: Live) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(context: BrowserContext, email: str = ADMIN) -> Page:
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login\?next="))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    return page


def asha_id(live: Live) -> int:
    with live.database.unit_of_work() as session:
        found = session.scalar(select(Customer.id).where(Customer.phone == "+919812345678"))
    assert found is not None
    return found


def test_sign_in_lands_on_the_dashboard_with_charts(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/admin/login")
    shot(page, "01-login")
    page.fill("input[name=email]", ADMIN)
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    expect(page.locator(".flash-error")).to_contain_text("Wrong email or password")
    page.fill("input[name=email]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("svg.chart")).to_have_count(3)
    shot(page, "02-dashboard")


def test_search_by_a_differently_formatted_phone(context: BrowserContext) -> None:
    page = sign_in(context)
    page.click("nav.nav >> text=Customers")
    page.fill("input[name=q]", "098123-45678")
    page.press("input[name=q]", "Enter")
    expect(page.locator("table.list")).to_contain_text("Asha Verma")
    expect(page.locator("table.list")).not_to_contain_text("Ravi Kumar")
    shot(page, "03-customer-search")
    page.click("text=Asha Verma")
    expect(page.locator("h1")).to_contain_text("Asha Verma")
    shot(page, "04-customer")


def test_adjust_points_then_see_it_in_the_ledger_and_the_audit_log(context: BrowserContext, live: Live) -> None:
    page = sign_in(context)
    page.goto(f"/admin/customers/{asha_id(live)}")
    before = int(page.locator("#balance").inner_text().replace(",", ""))
    page.fill("#adjust-form input[name=points]", "40")
    page.fill("#adjust-form input[name=reason]", "browser goodwill")
    page.click("#adjust-form button")
    expect(page.locator(".flash-success")).to_contain_text("+40 points recorded")
    expect(page.locator("#balance")).to_have_text(f"{before + 40:,}")
    expect(page.locator("#ledger tbody tr").first).to_contain_text("browser goodwill")
    shot(page, "05-customer-adjusted")
    page.click("nav.nav >> text=Audit")
    page.fill("input[name=action]", "points.")
    page.click("form.filters button")
    expect(page.locator("#audit")).to_contain_text("browser goodwill")
    expect(page.locator("#audit")).to_contain_text(ADMIN)
    shot(page, "06-audit")


def test_a_wrong_field_shows_the_form_again(context: BrowserContext, live: Live) -> None:
    page = sign_in(context)
    page.goto(f"/admin/customers/{asha_id(live)}")
    page.fill("#adjust-form input[name=points]", "12")
    page.click("#adjust-form button")
    expect(page.locator("#adjust-form .error")).to_contain_text("A reason is required.")


def test_create_a_reward(context: BrowserContext) -> None:
    page = sign_in(context)
    page.click("nav.nav >> text=Rewards")
    page.click("text=New reward")
    page.fill("input[name=name]", "Canvas tote")
    page.fill("input[name=points_cost]", "320")
    page.fill("input[name=stock]", "15")
    shot(page, "07-reward-form")
    page.click("form.stack button.primary")
    expect(page.locator(".flash-success")).to_contain_text("Canvas tote")
    expect(page.locator("table.list")).to_contain_text("Canvas tote")
    shot(page, "08-rewards")


def test_mark_a_redemption_used(context: BrowserContext) -> None:
    page = sign_in(context)
    page.click("nav.nav >> text=Redemptions")
    row = page.locator("tr", has_text="Free coffee mug").first
    expect(row).to_contain_text("issued")
    shot(page, "09-redemptions")
    row.locator("button", has_text="Mark used").click()
    expect(page.locator(".flash-success")).to_contain_text("marked used")
    page.goto("/admin/redemptions?status=used")
    expect(page.locator("table.list")).to_contain_text("Free coffee mug")


def test_approve_an_affiliate(context: BrowserContext) -> None:
    page = sign_in(context)
    page.goto("/admin/affiliates?status=pending")
    row = page.locator("tr", has_text="Corner Store")
    shot(page, "10-affiliates")
    row.locator("button", has_text="Approve").click()
    expect(page.locator(".flash-success")).to_contain_text("Corner Store is now approved")
    expect(page.locator("h1")).to_contain_text("approved")


def test_mark_a_payout_as_paid(context: BrowserContext, live: Live) -> None:
    with live.database.unit_of_work() as session:
        partner = session.scalar(select(Affiliate).where(Affiliate.name == "Style by Neha"))
        assert partner is not None
        partner_id = partner.id
        assert session.scalar(select(Commission.id).where(Commission.affiliate_id == partner_id)) is not None
    page = sign_in(context)
    page.goto(f"/admin/affiliates/{partner_id}")
    page.click("text=Approve selected")
    expect(page.locator(".flash-success")).to_contain_text("approved")
    page.fill("input[name=reference]", "UPI-E2E-1")
    page.click("text=Mark approved commissions as paid")
    expect(page.locator(".flash-success")).to_contain_text("recorded as paid")
    expect(page.locator("#payouts")).to_contain_text("UPI-E2E-1")
    shot(page, "11-affiliate-paid")
    with page.expect_download() as download:
        page.locator("#payouts a", has_text="CSV").first.click()
    assert download.value.suggested_filename.startswith("payout-")


def test_trigger_a_sync_and_watch_it_finish(context: BrowserContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """The browser half only: ``erp.sync.run`` is faked here (the integration test runs the real one)."""
    from erp import sync

    calls: list[dict[str, Any]] = []

    def fake_run(app: Flask, **kwargs: Any) -> sync.SyncSummary:
        calls.append(kwargs)
        for n in range(1, 4):
            kwargs["progress"]("customers", n * 10)
            time.sleep(0.3)
        return sync.SyncSummary(read=30, created=3, updated=2, unchanged=25, status="ok")

    monkeypatch.setattr(sync, "run", fake_run)
    page = sign_in(context)
    page.click("nav.nav >> text=ERP")
    shot(page, "12-erp")
    page.click("#sync-now")
    expect(page.locator(".flash-success")).to_contain_text("Sync started")
    expect(page.locator("#sync-state")).to_contain_text("created 3", timeout=20_000)
    assert calls and calls[0]["trigger"] == "console"
    shot(page, "13-erp-synced")


def test_a_support_user_is_refused_an_adjustment(context: BrowserContext, live: Live) -> None:
    page = sign_in(context, SUPPORT)
    customer = asha_id(live)
    page.goto(f"/admin/customers/{customer}")
    expect(page.locator("#adjust-form")).to_have_count(0)
    expect(page.locator("text=not change their points")).to_be_visible()
    token = page.locator("form.signout input[name=csrf_token]").get_attribute("value")
    response = context.request.post(
        f"/admin/customers/{customer}/adjust",
        form={"csrf_token": token or "", "points": "500", "reason": "sneaky", "nonce": "abcdefgh12"},
    )
    assert response.status == 403
    page.goto("/admin/settings")
    expect(page.locator("h1")).to_have_text("403")
    shot(page, "14-support-forbidden")


def test_every_page_renders_and_works_on_a_phone(browser: Browser, live: Live) -> None:
    pages = [
        "/admin/",
        "/admin/customers",
        "/admin/rewards",
        "/admin/redemptions",
        "/admin/affiliates",
        "/admin/conversations",
        "/admin/simulator",
        "/admin/messages",
        "/admin/reports",
        "/admin/erp",
        "/admin/audit",
        "/admin/settings",
        "/admin/users",
        f"/admin/customers/{asha_id(live)}",
    ]
    phone = browser.new_context(
        base_url=live.url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        page = sign_in(phone)
        for n, path in enumerate(pages, start=20):
            response = page.goto(path)
            assert response is not None and response.status == 200, path
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 400, f"{path} scrolls sideways on a phone ({width}px)"
            name = path.strip("/").replace("/", "-") or "dashboard"
            shot(page, f"{n}-phone-{name}")
        page.click("label.nav-button")
        expect(page.locator("nav.nav")).to_be_visible()
    finally:
        phone.close()


def test_the_simulator_chats_with_the_bot_as_a_test_member(context: BrowserContext) -> None:
    page = sign_in(context)
    page.click("nav.nav >> text=Simulator")
    page.fill("input[name=phone]", "98000 11122")
    page.fill("input[name=text]", "hi")
    page.click("form.stack button.primary")
    expect(page.locator("#sim-thread .bubble.out").first).to_be_visible()
    shot(page, "15-simulator")
    page.fill("input[name=phone]", "98765 43210")  # Ravi Kumar, a real (demo) customer
    page.fill("input[name=text]", "points")
    page.click("form.stack button.primary")
    expect(page.locator(".flash-error")).to_contain_text("the simulator acts only on test members")


CONSOLE_PAGES = [
    "/admin/login",
    "/admin/",
    "/admin/customers",
    "/admin/customers?q=asha",
    "/admin/rewards",
    "/admin/rewards/new",
    "/admin/redemptions",
    "/admin/affiliates",
    "/admin/conversations",
    "/admin/conversations/+919812345678",
    "/admin/simulator",
    "/admin/messages",
    "/admin/reports",
    "/admin/erp",
    "/admin/audit",
    "/admin/settings",
    "/admin/users",
    "/admin/account",
    "/admin/api-keys",
]
# Every violation the page's CSP reports, collected from the first script that runs.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  var where = e.sourceFile + ":" + e.lineNumber;
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + where);
});
"""


def test_console_pages_and_charts_load_without_csp_violations(context: BrowserContext, live: Live) -> None:
    context.add_init_script(CSP_LISTENER)
    page = sign_in(context)
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    for path in [*CONSOLE_PAGES, f"/admin/customers/{asha_id(live)}", "/admin/users/1"]:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        csp = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        page.wait_for_load_state("load")
        assert page.evaluate("window.__cspViolations") == [], path
        # The stylesheet applied: a page without its CSS would lay the top bar out differently.
        assert page.evaluate("getComputedStyle(document.body).margin") == "0px", path
    assert not [line for line in console if "Content Security Policy" in line], console
    page.goto("/admin/")
    expect(page.locator("svg.chart")).to_have_count(3)
    swatch = "getComputedStyle(document.querySelector('.legend .swatch-0')).backgroundColor"
    assert page.evaluate(swatch) == "rgb(37, 99, 235)"
    shot(page, "16-dashboard-under-csp")
    page.goto("/admin/conversations")
    page.fill("input[name=phone]", "+919812345678")
    page.click("form[data-open-phone] button")
    expect(page).to_have_url(re.compile(r"/admin/conversations/%2B919812345678$"))
    assert page.evaluate("window.__cspViolations") == []


def test_a_copied_session_cookie_opens_nothing_after_sign_out(browser: Browser, context: BrowserContext) -> None:
    page = sign_in(context)
    cookies = context.cookies()
    thief = browser.new_context(base_url=page.url.split("/admin")[0])
    try:
        thief.add_cookies(cookies)
        other = thief.new_page()
        other.goto("/admin/")
        expect(other.locator("h1")).to_have_text("Dashboard")
        page.click("form.signout button")
        expect(page).to_have_url(re.compile(r"/admin/login"))
        other.goto("/admin/")
        expect(other).to_have_url(re.compile(r"/admin/login\?next="))
    finally:
        thief.close()
