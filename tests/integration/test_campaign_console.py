"""WhatsApp campaigns in the console, with the Flask test client on SQLite and PostgreSQL: each page and action."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from flask import Flask
from sqlalchemy import select

from domain.campaign_models import CampaignRecipient, MarketingMessage, MessageCampaign
from domain.customers import Customer
from domain.db import Database
from tests.fakes import FrozenClock
from tests.integration.campaign_console_helpers import (
    FORM,
    audits,
    campaign,
    held_back,
    members,
    set_statuses,
)
from tests.integration.test_admin_security import csrf_token, staff_client

NEW = "/admin/whatsapp-campaigns/new"


def create(client: object, form: dict[str, object] | None = None) -> int:
    token = csrf_token(client, NEW)
    answer = client.post(NEW, data={**(form or FORM), "csrf_token": token})  # type: ignore[attr-defined]
    assert answer.status_code == 302, answer.get_data(as_text=True)
    found = re.search(r"/whatsapp-campaigns/(\d+)$", answer.headers["Location"])
    assert found, answer.headers["Location"]
    return int(found.group(1))


def post(client: object, path: str, **data: object) -> object:
    token = csrf_token(client, path.rsplit("/", 1)[0])
    return client.post(path, data={"csrf_token": token, **data})  # type: ignore[attr-defined]


def test_the_nav_names_whatsapp_campaigns_apart_from_bonus_campaigns(app: Flask, database: Database) -> None:
    admin = staff_client(app, database, "admin")
    page = admin.get("/admin/").get_data(as_text=True)
    assert ">WhatsApp campaigns</a>" in page
    settings = admin.get("/admin/settings").get_data(as_text=True)
    assert "Bonus campaigns" in settings and "Add bonus campaign" in settings
    listing = admin.get("/admin/whatsapp-campaigns").get_data(as_text=True)
    assert "New WhatsApp campaign" in listing and "Bonus campaigns" in listing


def test_support_reads_but_cannot_create_send_or_change_settings(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    members(database, clock)
    manager = staff_client(app, database, "manager")
    cid = create(manager)
    support = staff_client(app, database, "support")
    listing = support.get("/admin/whatsapp-campaigns").get_data(as_text=True)
    assert "Gold weekend" in listing and "New WhatsApp campaign" not in listing
    page = support.get(f"/admin/whatsapp-campaigns/{cid}")
    assert page.status_code == 200 and "Pre-flight" in page.get_data(as_text=True)
    assert 'id="start"' not in page.get_data(as_text=True) and "Send test" not in page.get_data(as_text=True)
    assert support.get(NEW).status_code == 403
    assert support.get("/admin/whatsapp-campaigns/settings").status_code == 403
    assert support.get(f"/admin/whatsapp-campaigns/{cid}/recipients.csv").status_code == 403
    token = csrf_token(support, "/admin/whatsapp-campaigns")
    for action in ("start", "pause", "resume", "cancel", "retarget", "test"):
        assert support.post(f"/admin/whatsapp-campaigns/{cid}/{action}", data={"csrf_token": token}).status_code == 403
    assert campaign(database, cid).status == "draft"
    assert manager.get("/admin/whatsapp-campaigns/settings").status_code == 403


def test_a_manager_creates_a_draft_with_template_parameters_and_segment(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    members(database, clock)
    members(database, clock, "silver", 2)
    client = staff_client(app, database, "manager")
    form = {
        **FORM,
        "parameters-2-source": "text",
        "parameters-2-text": "this weekend",
        "min_points": "0",
        "expiring_within_days": "30",
        "last_purchase_before": "2026-06-01",
        "spend_min": "100.50",
        "spend_days": "90",
        "stores": "Andheri, Pune",
        "languages": ["en", "hi"],
        "affiliate_referred": "no",
        "birthday_months": ["10", "11"],
    }
    cid = create(client, form)
    made = campaign(database, cid)
    assert made.status == "draft" and made.created_by == "manager@example.com"
    assert made.template_name == "double_points" and made.template_language == "member"
    assert made.template_parameters == ["name", "points", "this weekend"]
    assert made.segment == {
        "tiers": ["gold"],
        "min_points": 0,
        "expiring_within_days": 30,
        "last_purchase_before": "2026-06-01T00:00:00+05:30",  # midnight in Asia/Kolkata
        "spend_min": "100.50",
        "spend_days": 90,
        "stores": ["Andheri", "Pune"],
        "languages": ["en", "hi"],
        "affiliate_referred": False,
        "birthday_months": [10, 11],
    }
    [entry] = audits(database, "whatsapp_campaign.create")
    assert entry.actor == "manager@example.com" and entry.entity_id == str(cid)
    page = client.get(f"/admin/whatsapp-campaigns/{cid}").get_data(as_text=True)
    assert "Tier: Gold" in page and "Birthday in Oct, Nov" in page and "Not through an affiliate" in page
    assert "“this weekend”" in page and "Spent at least ₹100.50 in the last 90 days" in page


def test_the_live_count_shows_eligible_and_held_back_by_reason(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    members(database, clock, "gold", 3)
    members(database, clock, "silver", 2)
    held_back(database, clock)
    client = staff_client(app, database, "manager")
    gold = client.get("/admin/whatsapp-campaigns/audience", query_string={"tiers": "gold"}).get_json()
    assert gold == {
        "eligible": 3,
        "held_back": {"stop": 1, "no_consent": 1, "undeliverable": 1, "capped": 1},
        "matching": 7,
    }
    both = client.get("/admin/whatsapp-campaigns/audience", query_string=[("tiers", "gold"), ("tiers", "silver")])
    assert both.get_json()["eligible"] == 5
    everyone = client.get("/admin/whatsapp-campaigns/audience").get_json()
    assert everyone["eligible"] == 5 and everyone["matching"] == 9
    rich = client.get("/admin/whatsapp-campaigns/audience", query_string={"min_points": "1"}).get_json()
    assert rich["eligible"] == 0


def test_the_live_count_refuses_bad_input_with_the_field(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "support")
    for args, field in (
        ({"min_points": "ten"}, "min_points"),
        ({"min_points": "10", "max_points": "2"}, "max_points"),
        ({"expiring_within_days": "0"}, "expiring_within_days"),
        ({"tiers": "diamond"}, "tiers"),
        ({"birthday_months": "13"}, "birthday_months"),
        ({"last_purchase_before": "yesterday"}, "last_purchase_before"),
        ({"spend_min": "-5"}, "spend_min"),
        ({"spend_min": "NaN"}, "spend_min"),
        ({"last_purchase_before": "9999-12-31"}, "last_purchase_before"),
        ({"spend_days": "99999999999999999999"}, "spend_days"),
    ):
        answer = client.get("/admin/whatsapp-campaigns/audience", query_string=args)
        assert answer.status_code == 400, args
        assert field in answer.get_json()["errors"], (args, answer.get_json())


def test_the_preflight_box_shows_audience_cap_limit_time_and_cost(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    members(database, clock, "gold", 3)
    held_back(database, clock)
    client = staff_client(app, database, "manager")
    cid = create(client)
    page = client.get(f"/admin/whatsapp-campaigns/{cid}").get_data(as_text=True)
    assert re.search(r'id="pf-audience">3<', page)
    assert "Weekly frequency cap: 1" in page and "No marketing consent: 1" in page
    assert "1 held back by the weekly cap" in page
    # The capped member's two accepted messages count toward the 24-hour limit (1000 by default).
    assert re.search(r'id="pf-limit">999<', page)
    assert "1 s at 20 per second" in page
    assert "₹2.58" in page and "₹0.86" in page  # 3 × the marketing price, in the console's money format
    assert 'id="pf-refusal"' not in page and 'id="start"' in page


def test_start_is_refused_past_the_messaging_limit_and_the_refusal_is_audited(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    app.config["MESSAGING_LIMIT_24H"] = "2"
    members(database, clock, "gold", 3)
    client = staff_client(app, database, "manager")
    cid = create(client)
    page = client.get(f"/admin/whatsapp-campaigns/{cid}").get_data(as_text=True)
    assert 'id="pf-refusal"' in page and re.search(r'id="start" disabled', page)
    answer = post(client, f"/admin/whatsapp-campaigns/{cid}/start")
    assert answer.status_code == 302  # type: ignore[attr-defined]
    after = client.get(f"/admin/whatsapp-campaigns/{cid}").get_data(as_text=True)
    assert "Not started: the audience of 3 is more than the 2 members" in after
    assert campaign(database, cid).status == "draft"
    with database.unit_of_work() as s:
        assert s.scalar(select(CampaignRecipient.id)) is None
    [refused] = audits(database, "whatsapp_campaign.start_refused")
    assert "audience of 3" in str(refused.details)
    assert [a.action for a in audits(database, "whatsapp_campaign.")] == [
        "whatsapp_campaign.create",
        "whatsapp_campaign.start_refused",
    ]


def test_start_pause_resume_cancel_each_change_the_status_and_are_audited(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    members(database, clock, "gold", 3)
    client = staff_client(app, database, "manager")
    cid = create(client)
    base = f"/admin/whatsapp-campaigns/{cid}"
    post(client, f"{base}/start")
    assert campaign(database, cid).status == "sending"
    page = client.get(base).get_data(as_text=True)
    assert "Sending started." in page and ">Pause<" in page and 'id="preflight"' not in page
    progress = client.get(f"{base}/progress").get_json()
    assert progress == {
        "status": "sending",
        "pause_reason": None,
        "counts": {"sent": 0, "delivered": 0, "read": 0, "failed": 0, "skipped": 0, "pending": 3},
    }
    assert 'data-progress-url="/admin/whatsapp-campaigns/' in page
    post(client, f"{base}/pause")
    assert client.get(f"{base}/progress").get_json()["pause_reason"] == "paused by manager@example.com"
    assert "data-progress-url" not in client.get(base).get_data(as_text=True)
    paused = campaign(database, cid)
    assert paused.status == "paused" and paused.pause_reason == "paused by manager@example.com"
    assert "paused by manager@example.com" in client.get(base).get_data(as_text=True)
    post(client, f"{base}/resume")
    assert campaign(database, cid).status == "sending"
    post(client, f"{base}/resume")  # not paused: refused politely
    assert "A sending campaign cannot resume." in client.get(base).get_data(as_text=True)
    post(client, f"{base}/cancel")
    assert campaign(database, cid).status == "cancelled"
    actions = [a.action for a in audits(database, "whatsapp_campaign.")]
    assert actions == [
        "whatsapp_campaign.create",
        "whatsapp_campaign.start",
        "whatsapp_campaign.pause",
        "whatsapp_campaign.resume",
        "whatsapp_campaign.resume_refused",
        "whatsapp_campaign.cancel",
    ]
    history = client.get(base).get_data(as_text=True)
    assert all(word in history for word in ("created", "start", "pause", "resume", "cancel"))


def test_an_auto_pause_shows_why(app: Flask, database: Database, clock: FrozenClock) -> None:
    from domain import campaign_health

    members(database, clock, "gold", 2)
    client = staff_client(app, database, "manager")
    cid = create(client)
    post(client, f"/admin/whatsapp-campaigns/{cid}/start")
    with database.unit_of_work() as s:
        campaign_health.on_quality(s, "RED", clock.now(), "quality rating low")
    page = client.get(f"/admin/whatsapp-campaigns/{cid}").get_data(as_text=True)
    assert 'id="pause-reason"' in page and "Paused by WhatsApp:" in page
    assert "the number&#39;s quality is RED" in page or "the number's quality is RED" in page
    assert ">Resume<" in page


def test_results_numbers_chart_retarget_and_csv(app: Flask, database: Database, clock: FrozenClock) -> None:
    members(database, clock, "gold", 5)
    client = staff_client(app, database, "manager")
    cid = create(client)
    post(client, f"/admin/whatsapp-campaigns/{cid}/start")
    statuses = [("read", None), ("delivered", None), ("sent", None), ("failed", "131049"), ("skipped", "capped")]
    set_statuses(database, cid, statuses, clock.now())
    page = client.get(f"/admin/whatsapp-campaigns/{cid}").get_data(as_text=True)
    for stat, n in (("sent", 3), ("delivered", 2), ("read", 1), ("failed", 1), ("replied", 0), ("opted-out", 0)):
        assert re.search(rf'id="r-{stat}"><span>[^<]+</span><strong>{n}</strong>', page), stat
    assert page.count('<svg class="chart"') == 2
    assert "Failed: Meta&#39;s per-member marketing limit (131049)" in page or "per-member marketing limit" in page
    assert "Skipped: Weekly frequency cap" in page and "₹0.00" in page
    assert "Retarget those who did not read (2)" in page
    listed = client.get("/admin/whatsapp-campaigns").get_data(as_text=True)
    assert re.search(
        r'<td class="num">5</td><td class="num">3</td>\s*<td class="num">1</td><td class="num">1</td>', listed
    )
    answer = post(client, f"/admin/whatsapp-campaigns/{cid}/retarget")
    location = answer.headers["Location"]  # type: ignore[attr-defined]
    new_id = int(location.rsplit("/", 1)[1])
    retarget = campaign(database, new_id)
    assert retarget.status == "draft" and retarget.retarget_of_id == cid
    assert retarget.segment["unread_of_campaign"] == cid and retarget.audience == 2
    assert retarget.name == "Gold weekend (did not read)"
    assert "Did not read campaign #" in client.get(location).get_data(as_text=True)
    download = client.get(f"/admin/whatsapp-campaigns/{cid}/recipients.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert rows[0][:5] == ["recipient_id", "member_id", "phone", "name", "status"]
    assert sorted(r[4] for r in rows[1:]) == ["delivered", "failed", "read", "sent", "skipped"]
    assert [a.action for a in audits(database, "whatsapp_campaign.csv")] == ["whatsapp_campaign.csv"]
    assert [a.entity_id for a in audits(database, "whatsapp_campaign.retarget")] == [str(new_id)]


def test_a_test_send_goes_to_staff_test_members_once_per_form(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    real = members(database, clock, "gold", 1)[0]
    client = staff_client(app, database, "manager")
    cid = create(client)
    page = client.get(f"/admin/whatsapp-campaigns/{cid}").get_data(as_text=True)
    nonce = re.search(r'name="nonce" type="hidden" value="([^"]+)"', page)
    assert nonce
    form = {"phones": "098765 43210, +91 98765 00001", "nonce": nonce.group(1)}
    post(client, f"/admin/whatsapp-campaigns/{cid}/test", **form)
    after = client.get(f"/admin/whatsapp-campaigns/{cid}").get_data(as_text=True)
    assert "Test queued to 2 staff number(s)" in after and "+919876543210" in after
    post(client, f"/admin/whatsapp-campaigns/{cid}/test", **form)  # a double submit
    assert "That test was queued already." in client.get(f"/admin/whatsapp-campaigns/{cid}").get_data(as_text=True)
    with database.unit_of_work() as s:
        queued = list(s.scalars(select(MarketingMessage).order_by(MarketingMessage.id)))
        staff = {c.id: c for c in s.scalars(select(Customer).where(Customer.is_test.is_(True)))}
    assert len(queued) == 2 and all(m.origin == "test" and m.status == "pending" for m in queued)
    assert {m.customer_id for m in queued} == set(staff)
    assert {c.phone for c in staff.values()} == {"+919876543210", "+919876500001"}
    assert all(c.marketing_opt_in for c in staff.values())
    assert queued[0].template_name == "double_points" and queued[0].template_parameters == ["Staff test", "0"]
    assert len(audits(database, "whatsapp_campaign.test_send")) == 1
    # The test members are not in any campaign's audience.
    assert client.get("/admin/whatsapp-campaigns/audience").get_json()["eligible"] == 1
    with database.unit_of_work() as s:
        real_phone = s.get(Customer, real).phone  # type: ignore[union-attr]
    for phones, said in (
        (real_phone, "is a real customer&#39;s number"),
        ("12", "No test sent:"),
        ("1,2,3,4,5,6", "at most 5 staff numbers"),
    ):
        post(client, f"/admin/whatsapp-campaigns/{cid}/test", phones=phones, nonce="another-nonce-1")
        assert said in client.get(f"/admin/whatsapp-campaigns/{cid}").get_data(as_text=True), phones
    with database.unit_of_work() as s:
        assert len(list(s.scalars(select(MarketingMessage)))) == 2


def test_a_local_send_time_is_stored_in_utc_and_start_schedules_it(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    members(database, clock, "gold", 1)
    client = staff_client(app, database, "manager")
    cid = create(client, {**FORM, "when": "later", "send_at": "2026-06-16T09:30"})
    made = campaign(database, cid)
    assert made.send_at == dt.datetime(2026, 6, 16, 4, 0, tzinfo=dt.UTC)
    page = client.get(f"/admin/whatsapp-campaigns/{cid}").get_data(as_text=True)
    assert "2026-06-16 09:30 IST" in page and ">Schedule<" in page
    post(client, f"/admin/whatsapp-campaigns/{cid}/start")
    assert campaign(database, cid).status == "scheduled"
    assert "Scheduled for its send time." in client.get(f"/admin/whatsapp-campaigns/{cid}").get_data(as_text=True)


def test_the_list_pages_through_campaigns(app: Flask, database: Database, clock: FrozenClock) -> None:
    from domain import campaign_settings, campaigns
    from domain.segments import Segment

    with database.unit_of_work() as s:
        for n in range(27):
            campaigns.create(
                s,
                name=f"Offer {n:02d}",
                template_name="offer",
                segment=Segment(),
                now=clock.now(),
                settings=campaign_settings.CampaignSettings(),
            )
    client = staff_client(app, database, "support")
    first = client.get("/admin/whatsapp-campaigns").get_data(as_text=True)
    second = client.get("/admin/whatsapp-campaigns?page=2").get_data(as_text=True)
    assert first.count("Offer ") == 25 and "Offer 26" in first and 'rel="next"' in first
    assert second.count("Offer ") == 2 and "Offer 00" in second
    assert client.get("/admin/whatsapp-campaigns/999").status_code == 404
    assert client.get("/admin/whatsapp-campaigns/999/progress").status_code == 404
    with database.unit_of_work() as s:
        assert len(list(s.scalars(select(MessageCampaign)))) == 27
