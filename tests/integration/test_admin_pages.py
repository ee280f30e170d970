"""Console pages with the Flask test client, on SQLite and PostgreSQL: each action and what it leaves behind."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from domain import affiliates, rewards
from domain import campaigns as whatsapp_campaigns
from domain.affiliate_models import Affiliate, Commission, Payout
from domain.audit import AuditEntry
from domain.birthdays import NO_YEAR
from domain.campaign_settings import CampaignSettings
from domain.customers import Customer
from domain.db import Database
from domain.ledger import LedgerEntry
from domain.rewards import Redemption, Reward
from domain.rules import ProgramRules, load_rules
from domain.segments import Segment
from loyalty.demo import seed
from tests.domain_factories import give_points
from tests.fakes import FrozenClock
from tests.integration.test_admin_security import csrf_token, staff_client


def seeded(database: Database, clock: FrozenClock) -> None:
    with database.unit_of_work() as session:
        seed(session, clock.now())


def customer_id(database: Database, phone: str = "+919812345678") -> int:
    with database.unit_of_work() as session:
        found = session.scalar(select(Customer.id).where(Customer.phone == phone))
    assert found is not None
    return found


def count(database: Database, model: Any, *where: Any) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_search_finds_a_customer_by_a_differently_formatted_phone_name_or_code(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    seeded(database, clock)
    client = staff_client(app, database, "support")
    for query in ("098123 45678", "+91-98123-45678", "919812345678", "asha", "C1001"):
        page = client.get("/admin/customers", query_string={"q": query}).get_data(as_text=True)
        assert "Asha Verma" in page, query
        assert "Ravi Kumar" not in page, query


def test_customer_search_paginates(app: Flask, database: Database, clock: FrozenClock) -> None:
    from domain.customers import NewCustomer, enrol

    with database.unit_of_work() as session:
        for n in range(30):
            enrol(session, NewCustomer(phone=f"+9198100{n:05d}", name=f"Pager {n:02d}"), clock.now())
    client = staff_client(app, database, "support")
    first = client.get("/admin/customers?q=pager").get_data(as_text=True)
    second = client.get("/admin/customers?q=pager&page=2").get_data(as_text=True)
    assert first.count("Pager ") == 25 and 'rel="next"' in first
    assert second.count("Pager ") == 5 and 'rel="prev"' in second


def test_customer_page_shows_balance_tier_ledger_redemptions_and_referrals(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    seeded(database, clock)
    asha = customer_id(database)
    page = staff_client(app, database, "support").get(f"/admin/customers/{asha}").get_data(as_text=True)
    with database.unit_of_work() as session:
        customer = session.get(Customer, asha)
        assert customer is not None
        balance = customer.points_balance
    assert f'<strong id="balance">{balance:,}</strong>' in page
    assert "more spend to" in page
    assert "Priya Nair" in page  # referred by Asha
    assert "/admin/conversations/+919812345678" in page
    assert "Record adjustment" not in page  # support looks, does not adjust


def test_customer_page_shows_a_birthday_without_a_year_as_day_and_month(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    seeded(database, clock)
    asha = customer_id(database)
    with database.unit_of_work() as session:
        customer = session.get(Customer, asha)
        assert customer is not None
        customer.birthday = dt.date(NO_YEAR, 8, 14)
    page = staff_client(app, database, "support").get(f"/admin/customers/{asha}").get_data(as_text=True)
    assert "<dd>--08-14" in page and "0004" not in page


def test_customer_page_title_is_the_name_and_its_sections_appear_once(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    seeded(database, clock)
    client = staff_client(app, database, "support")
    page = client.get(f"/admin/customers/{customer_id(database)}").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title is not None and "<" not in title.group(1) and "Asha Verma" in title.group(1)
    assert page.count('id="privacy"') == 1 and page.count('id="consents"') == 1


def test_adjustment_writes_ledger_and_audit_once_even_when_submitted_twice(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    seeded(database, clock)
    asha = customer_id(database)
    client = staff_client(app, database, "manager")
    token = csrf_token(client, f"/admin/customers/{asha}")
    form = {"csrf_token": token, "points": "75", "reason": "goodwill", "nonce": "nonce-abcdefgh"}
    before = count(database, LedgerEntry, LedgerEntry.customer_id == asha)
    first = client.post(f"/admin/customers/{asha}/adjust", data=form)
    second = client.post(f"/admin/customers/{asha}/adjust", data=form)
    assert first.status_code == second.status_code == 302
    assert count(database, LedgerEntry, LedgerEntry.customer_id == asha) == before + 1
    assert count(database, AuditEntry, AuditEntry.action == "points.adjust") == 1
    with database.unit_of_work() as session:
        entry = session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "adjust"))
        audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "points.adjust"))
    assert entry is not None and entry.delta == 75 and entry.actor == "manager@example.com"
    assert audit is not None and audit.reason == "goodwill" and audit.actor == "manager@example.com"
    page = client.get(f"/admin/customers/{asha}").get_data(as_text=True)
    assert "goodwill" in page and "+75" in page


def test_adjustment_without_reason_or_beyond_the_balance_is_refused_politely(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    seeded(database, clock)
    asha = customer_id(database)
    client = staff_client(app, database, "manager")
    token = csrf_token(client, f"/admin/customers/{asha}")
    url = f"/admin/customers/{asha}/adjust"
    no_reason = client.post(url, data={"csrf_token": token, "points": "10", "reason": "", "nonce": "n-12345678"})
    assert no_reason.status_code == 400
    assert "A reason is required." in no_reason.get_data(as_text=True)
    too_much = client.post(
        url,
        data={"csrf_token": token, "points": "-99999", "reason": "oops", "nonce": "n-87654321"},
        headers={"Referer": f"http://localhost/admin/customers/{asha}"},
        follow_redirects=True,
    )
    assert too_much.status_code == 200
    assert "needs 99999 points" in too_much.get_data(as_text=True)
    assert count(database, LedgerEntry, LedgerEntry.kind == "adjust") == 0


def test_staff_can_record_an_opt_out(app: Flask, database: Database, clock: FrozenClock) -> None:
    seeded(database, clock)
    asha = customer_id(database)
    client = staff_client(app, database, "support")
    token = csrf_token(client, f"/admin/customers/{asha}")
    client.post(f"/admin/customers/{asha}/opt-out", data={"csrf_token": token})
    with database.unit_of_work() as session:
        customer = session.get(Customer, asha)
        assert customer is not None and customer.opted_in is False and customer.opt_in_source == "console"
    assert count(database, AuditEntry, AuditEntry.action == "customer.opt_out") == 1


def test_rewards_create_edit_and_deactivate(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "manager")
    token = csrf_token(client, "/admin/rewards/new")
    created = client.post(
        "/admin/rewards/new",
        data={"csrf_token": token, "name": "Tote bag", "points_cost": "300", "stock": "12", "active": "y"},
    )
    assert created.status_code == 302
    with database.unit_of_work() as session:
        reward = session.scalar(select(Reward).where(Reward.name == "Tote bag"))
        assert reward is not None and reward.stock == 12 and reward.active
        reward_id = reward.id
    edited = client.post(
        f"/admin/rewards/{reward_id}",
        data={"csrf_token": token, "name": "Tote bag", "points_cost": "350", "stock": "", "active": "y"},
    )
    assert edited.status_code == 302
    client.post(f"/admin/rewards/{reward_id}/toggle", data={"csrf_token": token})
    with database.unit_of_work() as session:
        reward = session.get(Reward, reward_id)
        assert reward is not None and reward.points_cost == 350 and reward.stock is None and not reward.active
        actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "reward")))
    assert actions == {"reward.create", "reward.update", "reward.deactivate"}


def issue_voucher(database: Database, clock: FrozenClock) -> int:
    with database.unit_of_work() as session:
        asha = session.scalar(select(Customer).where(Customer.phone == "+919812345678"))
        mug = session.scalar(select(Reward).where(Reward.name == "Free coffee mug"))
        assert asha is not None and mug is not None
        give_points(session, asha.id, mug.points_cost, now=clock.now())
        return rewards.redeem(session, asha.id, mug.id, load_rules(session), clock.now()).id


def test_redemptions_marked_used_and_cancelled_with_refund(app: Flask, database: Database, clock: FrozenClock) -> None:
    seeded(database, clock)
    first, second = issue_voucher(database, clock), issue_voucher(database, clock)
    client = staff_client(app, database, "manager")
    listing = client.get("/admin/redemptions").get_data(as_text=True)
    assert f'id="redemption-{first}"' in listing
    token = csrf_token(client, "/admin/redemptions")
    client.post(f"/admin/redemptions/{first}/fulfil", data={"csrf_token": token})
    balance_before = _balance(database)
    client.post(f"/admin/redemptions/{second}/cancel", data={"csrf_token": token, "reason": "changed mind"})
    with database.unit_of_work() as session:
        statuses = {r.id: r.status for r in session.scalars(select(Redemption))}
    assert statuses == {first: "used", second: "cancelled"}
    assert _balance(database) == balance_before + 250
    again = client.post(
        f"/admin/redemptions/{first}/fulfil", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "is used, not issued" in again


def _balance(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(Customer.points_balance).where(Customer.phone == "+919812345678")) or 0)


def test_affiliate_approval_terms_commissions_payout_and_csv(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    seeded(database, clock)
    with database.unit_of_work() as session:
        pending = affiliates.apply(
            session, name="New Shop", phone="+919855566677", now=clock.now(), rules=ProgramRules()
        ).id
        partner = session.scalar(select(Affiliate).where(Affiliate.name == "Style by Neha"))
        assert partner is not None
        partner_id = partner.id
    assert count(database, Commission, Commission.affiliate_id == partner_id) >= 1
    client = staff_client(app, database, "manager")
    assert "New Shop" in client.get("/admin/affiliates?status=pending").get_data(as_text=True)
    token = csrf_token(client, f"/admin/affiliates/{pending}")
    client.post(f"/admin/affiliates/{pending}/decide/approved", data={"csrf_token": token})
    terms = {"csrf_token": token, "commission_type": "percent", "percent": "7.5", "fixed": "0", "window_days": "90"}
    client.post(f"/admin/affiliates/{pending}/terms", data=terms)
    client.post(f"/admin/affiliates/{partner_id}/approve-commissions", data={"csrf_token": token})
    paid = client.post(f"/admin/affiliates/{partner_id}/pay", data={"csrf_token": token, "reference": "UPI-42"})
    assert paid.status_code == 302
    with database.unit_of_work() as session:
        approved = session.get(Affiliate, pending)
        assert approved is not None and approved.status == "approved" and str(approved.commission_percent) == "7.50"
        payout = session.scalar(select(Payout).where(Payout.affiliate_id == partner_id))
        assert payout is not None and payout.reference == "UPI-42"
        statuses = set(session.scalars(select(Commission.status).where(Commission.affiliate_id == partner_id)))
    assert statuses == {"paid"}
    exported = client.get(f"/admin/payouts/{payout.id}.csv")
    assert exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0][0] == "commission_id" and len(rows) >= 2
    # Amounts are written as money for DEFAULT_LOCALE and CURRENCY (₹1,234.50); they still add up to the payout.
    assert all(r[4].startswith("₹") for r in rows[1:])
    assert sum(Decimal(r[4].lstrip("₹").replace(",", "")) for r in rows[1:]) == payout.amount


def test_settings_take_effect_without_restart_and_are_audited(app: Flask, database: Database) -> None:
    client = staff_client(app, database, "admin")
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'name="points_per_unit"' in page
    token = csrf_token(client, "/admin/settings")
    form = {
        "csrf_token": token,
        "points_per_unit": "2",
        "spend_unit": "100",
        "gold": "20000",
        "platinum": "60000",
        "expiry_months": "18",
        "expiry_warning_days": "10",
        "referrer_bonus": "150",
        "referee_bonus": "75",
        "referral_min_purchase": "500",
        "voucher_valid_days": "30",
        "point_value": "0.5",
        "tpl_points_earned": "points_earned_v2",
        "tpl_tier_changed": "tier_changed",
        "tpl_points_expiring": "points_expiring",
        "tpl_voucher_issued": "voucher_issued",
        "tpl_link_code": "link_code_v2",
        "reason": "festival season",
    }
    assert client.post("/admin/settings", data=form).status_code == 302
    with database.unit_of_work() as session:
        rules = load_rules(session)
        audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "rules.update"))
    assert rules.points_per_unit == 2 and rules.expiry_months == 18 and rules.referrer_bonus == 150
    assert str(rules.tier_thresholds["gold"]) == "20000.00" or rules.tier_thresholds["gold"] == 20000
    assert rules.templates["points_earned"] == "points_earned_v2"
    assert rules.templates["link_code"] == "link_code_v2"  # the LINK code's authentication template
    assert audit is not None and audit.reason == "festival season" and "points_per_unit" in audit.details
    bad = client.post("/admin/settings", data={**form, "gold": "90000"}, follow_redirects=True)
    assert "tier thresholds must start at 0 and rise" in bad.get_data(as_text=True)
    with database.unit_of_work() as session:
        assert load_rules(session).tier_thresholds["gold"] == 20000


def test_campaigns_are_created_and_deactivated(app: Flask, database: Database) -> None:
    from domain.earning import Campaign

    client = staff_client(app, database, "admin")
    token = csrf_token(client, "/admin/settings")
    data = {
        "csrf_token": token,
        "name": "Diwali double",
        "starts_on": "2026-10-20",
        "ends_on": "2026-11-05",
        "multiplier": "2",
        "bonus_points": "0",
        "category": "",
        "min_amount": "0",
    }
    assert client.post("/admin/settings/campaigns", data=data).status_code == 302
    with database.unit_of_work() as session:
        campaign = session.scalar(select(Campaign))
        assert campaign is not None and campaign.active
    client.post(f"/admin/settings/campaigns/{campaign.id}/toggle", data={"csrf_token": token})
    with database.unit_of_work() as session:
        assert session.get(Campaign, campaign.id).active is False  # type: ignore[union-attr]
    backwards = client.post("/admin/settings/campaigns", data={**data, "ends_on": "2026-10-01"})
    assert backwards.status_code in (302, 400)
    assert count(database, Campaign) == 1


def test_staff_accounts_are_created_by_admins(app: Flask, database: Database) -> None:
    from domain.users import StaffUser

    client = staff_client(app, database, "admin")
    token = csrf_token(client, "/admin/users")
    data = {"csrf_token": token, "email": "new@example.com", "role": "support", "password": "long enough pw"}
    assert client.post("/admin/users", data=data).status_code == 302
    short = client.post("/admin/users", data={**data, "email": "b@example.com", "password": "short"})
    assert short.status_code == 400
    with database.unit_of_work() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.email == "new@example.com"))
        assert user is not None and user.role == "support" and user.password_hash.startswith("scrypt$")
    assert count(database, StaffUser) == 2


def test_audit_log_filters(app: Flask, database: Database, clock: FrozenClock) -> None:
    from domain import audit

    with database.unit_of_work() as session:
        audit.record(
            session, actor="a@x.io", action="points.adjust", entity_type="customer", entity_id=1, now=clock.now()
        )
        audit.record(
            session,
            actor="b@x.io",
            action="reward.create",
            entity_type="reward",
            entity_id=2,
            now=clock.now() - dt.timedelta(days=40),
        )
    client = staff_client(app, database, "support")
    by_actor = client.get("/admin/audit?actor=a@x").get_data(as_text=True)
    assert "points.adjust" in by_actor and "reward.create" not in by_actor
    by_date = client.get("/admin/audit", query_string={"start": "2026-06-01"}).get_data(as_text=True)
    assert "points.adjust" in by_date and "reward.create" not in by_date
    by_entity = client.get("/admin/audit?entity_type=reward").get_data(as_text=True)
    assert "reward.create" in by_entity and "points.adjust" not in by_entity


def test_reports_stream_csv_for_the_chosen_dates(app: Flask, database: Database, clock: FrozenClock) -> None:
    seeded(database, clock)
    issue_voucher(database, clock)
    client = staff_client(app, database, "manager")
    members = client.get("/admin/reports?kind=members&start=2025-01-01&end=2026-12-31")
    assert members.is_streamed
    rows = list(csv.reader(io.StringIO(members.get_data(as_text=True))))
    assert rows[0][:3] == ["id", "phone", "name"]
    assert {r[1] for r in rows[1:]} >= {"+919812345678", "+919844455566"}
    recent = client.get("/admin/reports?kind=members&start=2026-06-01&end=2026-06-15").get_data(as_text=True)
    assert "+919844455566" not in recent and "+919822233344" in recent  # Priya re-dated to 10 days ago
    for kind in ("ledger", "redemptions", "commissions"):
        response = client.get(f"/admin/reports?kind={kind}&start=2025-01-01&end=2026-12-31")
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and response.mimetype == "text/csv", kind
        assert len(body.splitlines()) >= 2, kind
    assert client.get("/admin/reports?kind=members&start=not-a-date").status_code == 400


def test_dashboard_shows_figures_and_charts(app: Flask, database: Database, clock: FrozenClock) -> None:
    seeded(database, clock)
    page = staff_client(app, database, "support").get("/admin/").get_data(as_text=True)
    with database.unit_of_work() as session:
        members = session.scalar(select(func.count(Customer.id)))
        outstanding = session.scalar(select(func.sum(Customer.points_balance)))
    assert f"<strong>{members:,}</strong>" in page
    assert f"<strong>{outstanding:,}</strong>" in page
    assert page.count("<svg") == 3


def test_messages_list_shows_delivery_status_and_failure_reason(
    app: Flask, database: Database, clock: FrozenClock
) -> None:
    from bot.models import OutboxMessage

    with database.unit_of_work() as session:
        for n, status in enumerate(("sent", "delivered", "read", "failed")):
            session.add(
                OutboxMessage(
                    phone="+919812345678",
                    kind="text",
                    payload={"body": f"hello {status}"},
                    idempotency_key=f"k{n}",
                    status=status,
                    attempts=1,
                    next_attempt_at=clock.now(),
                    created_at=clock.now(),
                    error="131026 message undeliverable" if status == "failed" else None,
                    origin="bot",
                )
            )
    client = staff_client(app, database, "support")
    everything = client.get("/admin/messages").get_data(as_text=True)
    assert all(f"hello {s}" in everything for s in ("sent", "delivered", "read", "failed"))
    failed = client.get("/admin/messages?status=failed").get_data(as_text=True)
    assert "131026 message undeliverable" in failed and "hello read" not in failed
    by_phone = client.get("/admin/messages", query_string={"phone": "98123 45678"}).get_data(as_text=True)
    assert "hello sent" in by_phone


def test_sync_now_runs_the_real_erp_sync_in_the_background(app: Flask, database: Database) -> None:
    from erp.models import SyncRun

    client = staff_client(app, database, "manager")
    token = csrf_token(client, "/admin/erp")
    response = client.post("/admin/erp/sync", data={"csrf_token": token})
    assert response.status_code == 302
    deadline = time.monotonic() + 60
    while client.get("/admin/erp/status").get_json()["running"] and time.monotonic() < deadline:
        time.sleep(0.1)
    status = client.get("/admin/erp/status").get_json()
    assert status["running"] is False and status["started_by"] == "manager@example.com"
    with database.unit_of_work() as session:
        run = session.scalar(select(SyncRun).order_by(SyncRun.id.desc()))
    assert run is not None and run.trigger == "console"
    assert status["status"] == run.status
    page = client.get("/admin/erp").get_data(as_text=True)
    assert "console" in page


def test_an_admin_can_open_every_page_of_the_console(app: Flask, database: Database, clock: FrozenClock) -> None:
    from tests.integration.test_admin_security import admin_rules, sample_url

    seeded(database, clock)
    issue_voucher(database, clock)
    with database.unit_of_work() as session:
        partner = session.scalar(select(Affiliate).where(Affiliate.name == "Style by Neha"))
        assert partner is not None
        ids = list(session.scalars(select(Commission.id).where(Commission.affiliate_id == partner.id)))
        affiliates.approve_commissions(session, ids, actor="t", now=clock.now())
        affiliates.mark_paid(session, partner.id, actor="t", now=clock.now(), reference="R1")
        whatsapp_campaigns.create(  # the WhatsApp campaign pages need one
            session,
            name="Weekend offer",
            template_name="offer",
            parameters=["name"],
            segment=Segment(),
            now=clock.now(),
            settings=CampaignSettings(),
        )
    client = staff_client(app, database, "admin")
    opened = []
    for rule in admin_rules(app):
        if "GET" not in (rule.methods or ()):
            continue
        url = sample_url(app, rule)
        response = client.get(url)
        body = response.get_data()
        assert response.status_code == 200, (url, response.status_code, body[:300])
        opened.append(url)
    assert len(opened) >= 18
