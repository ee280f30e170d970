"""The privacy console in a real browser: an erasure request walked from the queue to done, the notice editor.

Its own app and database (the demo data), like ``test_admin_browser``, whose fixtures it reuses, so that
erasing a demo member here never takes one from the other browser tests.
"""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import BrowserContext, expect
from sqlalchemy import select

from domain import data_requests, privacy_settings
from domain.customers import Customer
from tests.e2e.test_admin_browser import Live, browser, context, live, shot, sign_in

pytestmark = pytest.mark.xdist_group("admin_browser")
__all__ = ["browser", "context", "live"]  # the shared fixtures, used by name

MEERA = "+919900112233"


def open_erasure_request(live: Live) -> tuple[int, str]:
    with live.database.unit_of_work() as session:
        meera = session.scalar(select(Customer).where(Customer.phone == MEERA))
        assert meera is not None
        request = data_requests.open_request(
            session,
            meera,
            "erasure",
            channel="whatsapp",
            now=dt.datetime.now(dt.UTC),
            settings=privacy_settings.load(session),
        )
        return meera.id, request.reference


def test_an_erasure_request_walked_from_the_queue(context: BrowserContext, live: Live) -> None:
    customer_id, reference = open_erasure_request(live)
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).strftime("%Y-%m-%d")
    page = sign_in(context)
    page.click("nav.nav >> text=Privacy")
    expect(page.locator("h1")).to_have_text("Privacy requests")
    row = page.locator("#requests tr", has_text=reference)
    expect(row).to_contain_text("erasure")
    expect(row.locator("td.due")).to_contain_text(due)
    shot(page, "40-privacy-queue")
    row.locator("a", has_text=reference).click()
    expect(page.locator("h1")).to_contain_text(reference)
    expect(page.locator("#due")).to_contain_text(due)
    shot(page, "41-privacy-request")
    page.click("button:has-text('Erase now')")  # the confirmation dialog is accepted by sign_in's handler
    expect(page.locator(".flash-success")).to_contain_text("points forfeited")
    expect(page.locator("h1")).to_contain_text("done")
    expect(page.locator("#handled-by")).to_contain_text("admin@example.com")
    shot(page, "42-privacy-request-done")
    page.goto(f"/admin/customers/{customer_id}")
    expect(page.locator("h1")).to_contain_text(f"Erased member #{customer_id}")
    expect(page.locator("body")).not_to_contain_text("Meera")
    page.goto("/admin/customers")
    page.fill("input[name=q]", "99001 12233")
    page.press("input[name=q]", "Enter")
    expect(page.locator("p.empty")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("9900112233")
    page.goto("/admin/privacy?show=all")
    expect(page.locator("#requests tr", has_text=reference)).to_contain_text("admin@example.com")
    shot(page, "43-privacy-queue-all")


def test_the_notice_editor_publishes_a_version_members_see(context: BrowserContext) -> None:
    page = sign_in(context)
    page.goto("/admin/privacy/notice")
    shot(page, "44-privacy-notice-editor")
    english = page.locator("textarea[name=body_en]")
    english.fill(english.input_value() + "\n## Grievance officer\nWrite to grievance@example.com")
    page.fill("input[name=reason]", "grievance contact")
    page.click("#notice-form button.primary")
    expect(page.locator(".flash-success")).to_contain_text("published")
    expect(page.locator("#versions")).to_contain_text("v1")
    page.goto("/privacy")
    expect(page.locator("#version")).to_contain_text("v1")
    expect(page.locator("h2", has_text="Grievance officer")).to_be_visible()
    shot(page, "45-privacy-notice")
    page.goto("/privacy?lang=hi")
    expect(page.locator("h1")).to_have_text("गोपनीयता सूचना")
