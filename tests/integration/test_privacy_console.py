"""The notice (public, English and Hindi, versions published in the console), the request queue with its
due dates, erasure from a request, the access log, export links and message retention."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Flask
from sqlalchemy import select

from bot import export_links, notice, privacy_data
from bot.models import InboundMessage, OutboxMessage
from domain import data_requests, privacy_settings
from domain.access_log import AccessLogEntry
from domain.customers import Customer
from domain.data_requests import DataRequest
from domain.db import Database
from loyalty.demo import seed
from tests.fakes import FrozenClock
from tests.integration.test_admin_security import csrf_token, staff_client

PHONE = "+919812345678"


def seeded(database: Database, clock: FrozenClock) -> int:
    with database.unit_of_work() as session:
        seed(session, clock.now())
        found = session.scalar(select(Customer.id).where(Customer.phone == PHONE))
        assert found is not None
        return found


def test_the_notice_is_public_itemised_and_in_both_languages(client: Any) -> None:
    english = client.get("/privacy")
    assert english.status_code == 200 and english.headers["Content-Language"] == "en"
    page = english.get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>Privacy notice</h1>" in page
    assert page.count("<h2>") == len(notice.ITEMS) == 9
    for item in ("The data we hold", "How to withdraw your consent", "Your rights", "Data Protection Board"):
        assert item in page
    assert f'data-version="{notice.default_label()}"' in page
    hindi = client.get("/privacy?lang=hi").get_data(as_text=True)
    assert '<html lang="hi">' in hindi and "<h1>गोपनीयता सूचना</h1>" in hindi
    assert "आपके अधिकार" in hindi and "डेटा संरक्षण बोर्ड" in hindi and hindi.count("<h2>") == 9
    assert 'hreflang="en"' in hindi and 'hreflang="hi"' in page
    assert client.get("/privacy?lang=fr").headers["Content-Language"] == "en"


def test_admins_publish_versions_that_the_page_shows(app: Flask, database: Database, client: Any) -> None:
    admin = staff_client(app, database, "admin")
    token = csrf_token(admin, "/admin/privacy/notice")
    editor = admin.get("/admin/privacy/notice").get_data(as_text=True)
    assert "## Who we are" in editor and "## हम कौन हैं" in editor  # starts from what members see now
    bad = admin.post(
        "/admin/privacy/notice",
        data={"csrf_token": token, "body_en": "no items", "body_hi": "कोई नहीं", "reason": "x"},
    )
    assert bad.status_code == 400 and "needs items" in bad.get_data(as_text=True)
    english = "## Who we are\nCorner Shop <script>alert(1)</script>\n- point one\n## Contact\nWrite to dpo@example.com"
    hindi = "## हम कौन हैं\nकॉर्नर शॉप\n## संपर्क\ndpo@example.com पर लिखें"
    published = admin.post(
        "/admin/privacy/notice", data={"csrf_token": token, "body_en": english, "body_hi": hindi, "reason": "DPO"}
    )
    assert published.status_code == 302
    page = client.get("/privacy").get_data(as_text=True)
    assert 'data-version="v1"' in page and "<li>point one</li>" in page and "<h2>Contact</h2>" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "कॉर्नर शॉप" in client.get("/privacy?lang=hi").get_data(as_text=True)
    history = admin.get("/admin/privacy/notice").get_data(as_text=True)
    assert "v1" in history and "en, hi" in history
    manager = staff_client(app, database, "manager")
    assert manager.get("/admin/privacy/notice").status_code == 403


def test_the_queue_shows_due_dates_and_what_is_overdue(app: Flask, database: Database, clock: FrozenClock) -> None:
    seeded(database, clock)
    support = staff_client(app, database, "support")
    page = support.get("/admin/privacy").get_data(as_text=True)
    due = (clock.now() - dt.timedelta(days=2) + dt.timedelta(days=30)).strftime("%Y-%m-%d")
    assert 'id="open-count">1<' in page
    assert '<td class="due"><time datetime="' in page and due in page  # the console's correction request
    assert "overdue" not in page.split('id="requests"')[1]
    everything = support.get("/admin/privacy?show=all").get_data(as_text=True)
    assert "access" in everything and "automatic" in everything  # the chat's summary, handled by the bot
    clock.advance(days=40)
    late = staff_client(app, database, "manager").get("/admin/privacy").get_data(as_text=True)  # a new sign-in
    assert '<strong class="error">overdue</strong>' in late


def test_settings_set_the_due_date_but_never_past_90_days(app: Flask, database: Database, clock: FrozenClock) -> None:
    cid = seeded(database, clock)
    admin = staff_client(app, database, "admin")
    token = csrf_token(admin, "/admin/privacy/settings")
    form = {k: str(v) for k, v in privacy_settings.PrivacySettings().to_json().items()}
    refused = admin.post("/admin/privacy/settings", data={**form, "request_due_days": "91", "csrf_token": token})
    assert refused.status_code == 400
    saved = admin.post("/admin/privacy/settings", data={**form, "request_due_days": "10", "csrf_token": token})
    assert saved.status_code == 302
    opened = admin.post(
        f"/admin/customers/{cid}/privacy-requests",
        data={
            "kind": "access",
            "note": "asked at the counter",
            "csrf_token": csrf_token(admin, f"/admin/customers/{cid}"),
        },
    )
    assert opened.status_code == 302
    with database.unit_of_work() as s:
        request = s.scalars(
            select(DataRequest).where(DataRequest.channel == "console", DataRequest.kind == "access")
        ).one()
        assert request.due_at == clock.now() + dt.timedelta(days=10)


def test_a_manager_erases_from_the_queue_and_the_access_log_shows_who(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    cid = seeded(database, clock)
    with database.unit_of_work() as s:
        customer = s.get(Customer, cid)
        assert customer is not None
        request = data_requests.open_request(
            s, customer, "erasure", channel="whatsapp", now=clock.now(), settings=privacy_settings.load(s)
        )
        rid = request.id
    support = staff_client(app, database, "support")
    assert support.get(f"/admin/customers/{cid}").status_code == 200
    assert (
        support.post(
            f"/admin/privacy/requests/{rid}/erase", data={"csrf_token": csrf_token(support, "/admin/")}
        ).status_code
        == 403
    )
    manager = staff_client(app, database, "manager")
    page = manager.get(f"/admin/privacy/requests/{rid}").get_data(as_text=True)
    assert "Erase now" in page
    done = manager.post(f"/admin/privacy/requests/{rid}/erase", data={"csrf_token": csrf_token(manager, "/admin/")})
    assert done.status_code == 302
    after = manager.get(f"/admin/privacy/requests/{rid}").get_data(as_text=True)
    assert "manager@example.com" in after and "points forfeited" in after and PHONE not in after
    with database.unit_of_work() as s:
        log = [(e.staff, e.action) for e in s.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id))]
    assert log == [("support@example.com", "view"), ("manager@example.com", "erase")]
    admin = staff_client(app, database, "admin")
    listed = admin.get(f"/admin/privacy/access-log?customer={cid}").get_data(as_text=True)
    assert "support@example.com" in listed and "manager@example.com" in listed
    assert manager.get("/admin/privacy/access-log").status_code == 403


def test_export_links_work_for_their_member_only_and_not_after_erasure(
    app: Flask, database: Database, clock: FrozenClock, client: Any
) -> None:
    cid = seeded(database, clock)
    token = export_links.make_token(app.config, cid, "DR-TEST")
    as_json = client.get(f"/privacy/export/{token}")
    assert as_json.status_code == 200 and "no-store" in as_json.headers["Cache-Control"]
    assert json.loads(as_json.get_data())["member"]["phone"] == PHONE
    as_csv = client.get(f"/privacy/export/{token}?format=csv").get_data(as_text=True)
    assert as_csv.splitlines()[0] == "section,record,field,value" and f"member,1,phone,{PHONE}" in as_csv
    assert client.get(f"/privacy/export/{token[:-2]}xx").status_code == 404
    assert export_links.read_token(app.config, token, max_age_seconds=-1) is None  # too old
    other = export_links.make_token({"SECRET_KEY": "another key"}, cid, "DR-TEST")
    assert client.get(f"/privacy/export/{other}").status_code == 404
    assert app.test_cli_runner().invoke(args=["members", "erase", PHONE, "--yes"]).exit_code == 0
    assert client.get(f"/privacy/export/{token}").status_code == 410


def test_message_bodies_older_than_the_retention_period_are_purged(database: Database, clock: FrozenClock) -> None:
    now = clock.now()
    with database.unit_of_work() as s:
        for n, age in enumerate((200, 10)):
            at = now - dt.timedelta(days=age)
            s.add(
                InboundMessage(
                    wa_message_id=f"w{n}",
                    phone=PHONE,
                    kind="text",
                    text=f"old {age}",
                    payload={"a": 1},
                    status="handled",
                    received_at=at,
                )
            )
            s.add(
                OutboxMessage(
                    phone=PHONE,
                    kind="text",
                    payload={"body": f"reply {age}"},
                    idempotency_key=f"o{n}",
                    status="read",
                    next_attempt_at=at,
                    created_at=at,
                    read_at=at,
                    origin="bot",
                )
            )
    with database.unit_of_work() as s:
        assert privacy_data.purge_bodies(s, now - dt.timedelta(days=180)) == 2
        assert privacy_data.purge_bodies(s, now - dt.timedelta(days=180)) == 0
    with database.unit_of_work() as s:
        inbound = {m.wa_message_id: (m.text, m.payload, m.status) for m in s.scalars(select(InboundMessage))}
        assert inbound == {"w0": (None, {}, "handled"), "w1": ("old 10", {"a": 1}, "handled")}
        outbox = {
            m.idempotency_key: (m.payload, m.status, m.read_at is not None) for m in s.scalars(select(OutboxMessage))
        }
        assert outbox == {"o0": ({}, "read", True), "o1": ({"body": "reply 10"}, "read", True)}
