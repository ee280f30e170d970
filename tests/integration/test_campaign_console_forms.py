"""The WhatsApp campaign console's forms refuse bad input with the reason, and the settings page saves and audits."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from domain import campaign_settings
from domain.campaign_models import MessageCampaign
from domain.db import Database
from tests.fakes import FrozenClock
from tests.integration.campaign_console_helpers import FORM, audits, members, only_campaign
from tests.integration.test_admin_security import csrf_token, staff_client

NEW = "/admin/whatsapp-campaigns/new"
SETTINGS = "/admin/whatsapp-campaigns/settings"
GOOD_SETTINGS = {
    "rate_per_second": "40",
    "messaging_limit_24h": "10000",
    "marketing_cap_per_week": "3",
    "quiet_hours": "22-8",
    "price_marketing": "0.7846",
    "price_utility": "0.1150",
    "reason": "Meta raised our tier",
}


def campaigns_made(database: Database) -> int:
    with database.unit_of_work() as s:
        return int(s.scalar(select(func.count(MessageCampaign.id))) or 0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"template_name": "Double Points!"}, "Template names are lower-case letters, digits and _."),
        ({"language": "fr"}, "Not a valid choice."),
        ({"category": "promo"}, "Not a valid choice."),
        ({"parameters-0-source": "", "parameters-1-source": "points"}, "{{1}} is empty but a later parameter is set."),
        ({"parameters-1-source": "text", "parameters-1-text": "  "}, "{{2}}: type the text, or choose a member"),
        ({"parameters-0-source": "balance"}, "Not a valid choice."),
        ({"when": "later"}, "Choose the local date and time to send."),
        ({"when": "later", "send_at": "2026-06-15T09:00"}, "The send time is in the past"),
        ({"min_points": "50", "max_points": "10"}, "At most must not be below at least."),
        ({"spend_min": "500", "spend_max": "100"}, "At most must not be below at least."),
        ({"min_points": "-1"}, "Number must be between 0 and 1000000000."),
        ({"expiring_within_days": "0"}, "Number must be between 1 and 3650."),
        ({"last_purchase_before": "2026-01-01", "last_purchase_after": "2026-02-01"}, "Nobody bought since a day"),
        ({"tiers": ["diamond"]}, "is not a valid choice"),
        ({"birthday_months": ["13"]}, "is not a valid choice"),
        ({"ignore_quiet_hours": "y"}, "Only admins may send in quiet hours."),
        ({"when": "later", "send_at": "9999-12-31T23:59"}, "Dates must be between 1970-01-01 and 2199-12-31."),
        ({"last_purchase_after": "0001-01-01"}, "Dates must be between 1970-01-01 and 2199-12-31."),
        ({"spend_min": "NaN"}, "Number must be between 0 and 10000000000."),
    ],
)
def test_bad_campaign_input_shows_the_form_again_with_the_reason(
    app: Flask, database: Database, changes: dict[str, Any], message: str
) -> None:
    client = staff_client(app, database, "manager")
    answer = client.post(NEW, data={**FORM, **changes, "csrf_token": csrf_token(client, NEW)})
    assert answer.status_code == 400
    page = answer.get_data(as_text=True).replace("&#39;", "'")
    assert message in page, page[page.find("<main") :][:3000]
    assert "New WhatsApp campaign" in page
    assert campaigns_made(database) == 0


def test_an_admin_may_send_in_quiet_hours(app: Flask, database: Database, clock: FrozenClock) -> None:
    members(database, clock)
    client = staff_client(app, database, "admin")
    assert "Send in quiet hours too" in client.get(NEW).get_data(as_text=True)
    answer = client.post(NEW, data={**FORM, "ignore_quiet_hours": "y", "csrf_token": csrf_token(client, NEW)})
    assert answer.status_code == 302
    assert only_campaign(database).ignore_quiet_hours is True
    manager = staff_client(app, database, "manager")
    assert "Send in quiet hours too" not in manager.get(NEW).get_data(as_text=True)


def test_a_campaign_form_without_a_csrf_token_is_refused(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "manager")
    assert client.post(NEW, data=FORM).status_code == 400
    assert campaigns_made(database) == 0


def test_the_settings_page_saves_over_the_environment_and_audits_the_change(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "admin")
    page = client.get(SETTINGS).get_data(as_text=True)
    assert re.search(r'name="rate_per_second"[^>]*value="20"', page) and 'value="21-9"' in page
    answer = client.post(SETTINGS, data={**GOOD_SETTINGS, "csrf_token": csrf_token(client, SETTINGS)})
    assert answer.status_code == 302
    with database.unit_of_work() as s:
        saved = campaign_settings.load(s)
    assert saved.rate_per_second == 40 and saved.messaging_limit_24h == 10000
    assert saved.marketing_cap_per_week == 3 and saved.quiet_hours == "22-8"
    assert saved.price_marketing == Decimal("0.7846") and saved.price_utility == Decimal("0.1150")
    [entry] = audits(database, "campaign_settings.update")
    assert entry.actor == "admin@example.com" and entry.reason == "Meta raised our tier"
    assert entry.details is not None and entry.details["rate_per_second"] == [20, 40]
    after = client.get(SETTINGS).get_data(as_text=True)
    assert "Campaign settings saved" in after and "₹0.78" in after
    # The same values again: nothing to save, nothing to audit.
    client.post(SETTINGS, data={**GOOD_SETTINGS, "csrf_token": csrf_token(client, SETTINGS)})
    assert "Nothing changed." in client.get(SETTINGS).get_data(as_text=True)
    assert len(audits(database, "campaign_settings.update")) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rate_per_second": "81"}, "Number must be between 1 and 80."),
        ({"rate_per_second": "0"}, "Number must be between 1 and 80."),
        ({"rate_per_second": "fast"}, "Not a valid integer value."),
        ({"messaging_limit_24h": "0"}, "Number must be between 1 and 10000000."),
        ({"marketing_cap_per_week": "51"}, "Number must be between 0 and 50."),
        ({"quiet_hours": "25-3"}, "Quiet hours must be two different hours from 0 to 23, not '25-3'."),
        ({"quiet_hours": "evenings"}, "Quiet hours must look like 21-9 or be none, not 'evenings'."),
        ({"price_marketing": "-1"}, "Number must be between 0 and 1000."),
        ({"price_utility": "cheap"}, "Not a valid decimal value."),
        ({"price_marketing": "Infinity"}, "Number must be between 0 and 1000."),
        ({"reason": ""}, "Say why."),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(
    app: Flask, database: Database, changes: dict[str, str], message: str
) -> None:
    client = staff_client(app, database, "admin")
    answer = client.post(SETTINGS, data={**GOOD_SETTINGS, **changes, "csrf_token": csrf_token(client, SETTINGS)})
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True).replace("&#39;", "'")
    with database.unit_of_work() as s:
        assert campaign_settings.load(s) == campaign_settings.CampaignSettings()
    assert audits(database, "campaign_settings.") == []


def test_quiet_hours_none_turns_them_off(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "admin")
    client.post(SETTINGS, data={**GOOD_SETTINGS, "quiet_hours": "None", "csrf_token": csrf_token(client, SETTINGS)})
    with database.unit_of_work() as s:
        assert campaign_settings.load(s).quiet_hours == "none"


def test_the_preflight_uses_the_saved_rate_and_price(app: Flask, database: Database, clock: FrozenClock) -> None:
    members(database, clock, "gold", 3)
    client = staff_client(app, database, "admin")
    client.post(
        SETTINGS,
        data={
            **GOOD_SETTINGS,
            "rate_per_second": "1",
            "price_marketing": "2",
            "csrf_token": csrf_token(client, SETTINGS),
        },
    )
    client.post(NEW, data={**FORM, "csrf_token": csrf_token(client, NEW)})
    page = client.get(f"/admin/whatsapp-campaigns/{only_campaign(database).id}").get_data(as_text=True)
    assert "3 s at 1 per second" in page and "₹6.00" in page
