"""The console's automations page on SQLite and PostgreSQL: who sees it, who edits it, what a bad value says."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from sqlalchemy import select

from domain import automation_runs, automations, consents
from domain.audit import AuditEntry
from domain.automation_models import Automation
from domain.db import Database
from tests.domain_factories import make_customer
from tests.fakes import FrozenClock
from tests.integration.test_admin_security import csrf_token, staff_client

GOOD = {
    "enabled": "y",
    "template_name": "happy_birthday",
    "template_language": "hi",
    "template_parameters": "name\n  bonus_points \n\nEnjoy your day",
    "bonus_points": "250",
    "send_hour": "11",
    "reason": "launch",
}


def post(client: Any, kind: str, **changes: str) -> Any:
    data = {**GOOD, **changes, "csrf_token": csrf_token(client, f"/admin/automations/{kind}")}
    return client.post(f"/admin/automations/{kind}", data={k: v for k, v in data.items() if v is not None})


def saved(database: Database, kind: str) -> Automation | None:
    with database.unit_of_work() as s:
        return s.get(Automation, kind)


def audits(database: Database) -> list[AuditEntry]:
    with database.unit_of_work() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "automation.update")))


def test_everyone_sees_the_automations_and_only_admins_edit(app: Flask, database: Database) -> None:
    for role in ("support", "manager"):
        client = staff_client(app, database, role)
        page = client.get("/admin/automations")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert 'href="/admin/automations"' in html  # in the nav
        for title in ("Birthday bonus", "Join anniversary", "Win-back", "Points-expiry reminders", "Tier at risk"):
            assert title in html
        assert 'id="automation-expiry"' in html and "30, 7, 1 days before" in html
        assert "/admin/automations/birthday" not in html  # no edit link
        assert client.get("/admin/automations/birthday").status_code == 403
        token = csrf_token(client, "/admin/automations")
        assert client.post("/admin/automations/birthday", data={**GOOD, "csrf_token": token}).status_code == 403
    assert saved(database, "birthday") is None


def test_the_page_keeps_to_the_consoles_content_security_policy(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "admin")
    for url in ("/admin/automations", "/admin/automations/birthday", "/admin/automations/expiry"):
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert "<script>" not in html and "style=" not in html and "<style" not in html and "onclick" not in html


def test_an_admin_saves_an_automation_audited_and_the_next_run_uses_it(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    client = staff_client(app, database, "admin")
    response = post(client, "birthday")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/automations"
    row = saved(database, "birthday")
    assert row is not None and row.enabled and row.updated_by == "admin@example.com"
    assert (row.template_name, row.template_language, row.bonus_points, row.send_hour) == (
        "happy_birthday",
        "hi",
        250,
        11,
    )
    assert row.template_parameters == ["name", "bonus_points", "Enjoy your day"]
    (entry,) = audits(database)
    assert entry.entity_id == "birthday" and entry.reason == "launch"
    assert entry.details["enabled"] == [False, True] and entry.details["bonus_points"] == [100, 250]
    page = client.get("/admin/automations").get_data(as_text=True)
    assert "happy_birthday" in page and "Birthday bonus saved: on." in page

    assert post(client, "birthday").status_code == 302  # the same again changes nothing
    assert len(audits(database)) == 1

    with database.unit_of_work() as s:
        customer = make_customer(s, clock.now() - dt.timedelta(days=300), name="Meera Shah")
        consents.record(
            s, customer, consents.MARKETING, True, channel="whatsapp", now=clock.now() - dt.timedelta(days=1)
        )
        customer.birthday = dt.date(1991, 6, 15)
    clock.set(dt.datetime(2026, 6, 15, 6, 0, tzinfo=dt.UTC))  # 11:30 in Kolkata
    assert automation_runs.run_automations(database.unit_of_work, clock.now())["birthday"] == 1
    page = client.get("/admin/automations").get_data(as_text=True)
    assert "pending 1" in page


def test_expiry_reminders_keep_their_service_template_and_take_up_to_five_days(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "admin")
    response = post(client, "expiry", days="1, 14, 30", template_name="ignored", bonus_points="5", enabled="")
    assert response.status_code == 302
    row = saved(database, "expiry")
    assert row is not None and not row.enabled
    assert row.days == [30, 14, 1] and row.template_name == "points_expiring" and row.bonus_points == 0
    page = client.get("/admin/automations/expiry").get_data(as_text=True)
    assert "points expiring" in page and "template_name" not in page


def test_bad_values_are_refused_with_a_message_and_nothing_is_saved(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "admin")
    cases = [
        ("birthday", {"template_name": "Birthday Bonus!"}, "lowercase letters, digits and underscores"),
        ("birthday", {"template_name": ""}, "lowercase letters, digits and underscores"),
        ("birthday", {"template_language": "fr"}, "Not a valid choice"),
        ("birthday", {"send_hour": "24"}, "The hour must be 0 to 23."),
        ("birthday", {"send_hour": ""}, "Give the hour, 0 to 23."),
        ("birthday", {"bonus_points": "-5"}, "Bonus points must be 0 to 1,000,000."),
        ("birthday", {"bonus_points": "lots"}, "Not a valid integer value."),
        ("birthday", {"template_parameters": "x" * 201}, "Literal text is at most 200 characters"),
        ("birthday", {"template_parameters": "\n".join(["name"] * 11)}, "At most 10 parameters."),
        ("winback", {"days": "abc"}, "whole numbers separated by commas"),
        ("winback", {"days": ""}, "Days without a purchase: give a number."),
        ("winback", {"days": "3"}, "Days without a purchase must be 7 to 730."),
        ("winback", {"days": "90, 120"}, "give one number"),
        ("expiry", {"days": "30, 7, 1, 2, 3, 4"}, "up to 5 different numbers"),
        ("expiry", {"days": "7, 7"}, "up to 5 different numbers"),
        ("expiry", {"days": "400"}, "must be 1 to 365"),
        ("tier_risk", {"days": "40"}, "must be 1 to 28"),
    ]
    for kind, change, message in cases:
        response = post(client, kind, **change)
        html = response.get_data(as_text=True)
        assert response.status_code == 400, (kind, change)
        assert message in html, (kind, change, message)
        assert 'class="error"' in html
    assert client.get("/admin/automations/nope").status_code == 404
    assert [saved(database, kind) for kind in automations.KINDS] == [None] * 5
    assert audits(database) == []
