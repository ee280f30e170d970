"""The automations page in a real browser: the list, a refused value, a save, and nothing the CSP blocks.

Reuses ``test_admin_browser``'s app, browser and screenshots (``test-artifacts/screenshots/``).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.e2e.test_admin_browser import CSP_LISTENER, Live, browser, context, live, shot, sign_in

pytestmark = pytest.mark.xdist_group("admin_browser")
__all__ = ["browser", "context", "live"]  # the shared fixtures, used by name


def test_an_admin_switches_the_birthday_bonus_on(context: BrowserContext, live: Live) -> None:
    context.add_init_script(CSP_LISTENER)
    page = sign_in(context)
    page.click("nav.nav >> text=Automations")
    expect(page.locator("h1")).to_have_text("Automations")
    expect(page.locator("#automations tbody tr")).to_have_count(5)
    expect(page.locator("#automation-expiry")).to_contain_text("on")
    expect(page.locator("#automation-birthday")).to_contain_text("off")
    shot(page, "50-automations")

    page.locator("#automation-birthday a", has_text="Edit").click()
    expect(page.locator("h1")).to_have_text("Birthday bonus")
    page.check("input[name=enabled]")
    page.fill("input[name=template_name]", "Birthday Offer")
    page.fill("input[name=bonus_points]", "150")
    page.click("button:has-text('Save')")
    expect(page.locator(".field.has-error")).to_contain_text("lowercase letters, digits and underscores")
    shot(page, "51-automation-refused")

    page.fill("input[name=template_name]", "birthday_offer")
    page.click("button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text("Birthday bonus saved: on.")
    row = page.locator("#automation-birthday")
    expect(row).to_contain_text("birthday_offer")
    expect(row).to_contain_text("150")
    shot(page, "52-automations-saved")
    assert page.evaluate("window.__cspViolations") == []
