"""Redemptions over the API and vouchers at the till: look-up, redeem (once), rollback."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from bot.models import OutboxMessage
from domain import ledger
from domain.customers import Customer
from domain.db import Database
from tests.integration.api_support import RFC3339_UTC, Api, member, problem, reward, till


def issue(api: Api, member_id: int, reward_id: int) -> dict[str, Any]:
    made = api.post(f"/api/v1/members/{member_id}/redemptions", {"reward_id": reward_id})
    assert made.status_code == 201, made.get_json()
    body: dict[str, Any] = made.get_json()
    return body


def test_a_redemption_issues_a_voucher_sent_on_whatsapp(app: Flask, client: Any, database: Database) -> None:
    cid, rid = member(database, 300, phone="+919812345678"), reward(database, 120, stock=2, name="Mug")
    with database.unit_of_work() as s:
        s.get_one(Customer, cid).opted_in = True  # the bot's service consent: WhatsApp messages allowed
    api = till(app, client, "vouchers:write,members:read")
    body = issue(api, cid, rid)
    assert body["status"] == "issued" and body["points_cost"] == 120 and RFC3339_UTC.match(body["expires_at"])
    assert body["voucher_code"] == body["code"] and body["member_id"] == cid
    assert body["reward"] == {"id": rid, "name": "Mug"}
    points = api.get(f"/api/v1/members/{cid}").get_json()["points"]
    assert points == {"balance": 180, "available": 180, "held": 0, "owed": 0}
    with database.unit_of_work() as s:
        sent = s.scalars(select(OutboxMessage).where(OutboxMessage.phone == "+919812345678")).all()
        assert any(body["voucher_code"] in str(m.payload) for m in sent)
    assert api.get("/api/v1/rewards").get_json()["data"][0]["stock"] == 1


def test_redemption_refusals(app: Flask, client: Any, database: Database) -> None:
    cid, dear, gone = member(database, 100), reward(database, 500), reward(database, 10, stock=1, name="Last")
    api = till(app, client, "vouchers:write")
    short = problem(api.post(f"/api/v1/members/{cid}/redemptions", {"reward_id": dear}), 422, "insufficient_points")
    assert short["available"] == 100 and short["needed"] == 500
    issue(api, cid, gone)
    problem(api.post(f"/api/v1/members/{cid}/redemptions", {"reward_id": gone}), 409, "out_of_stock")
    problem(api.post(f"/api/v1/members/{cid}/redemptions", {"reward_id": 99999}), 404, "not_found")
    problem(api.post("/api/v1/members/99999/redemptions", {"reward_id": dear}), 404, "not_found")


def test_voucher_look_up_redeem_once_and_rollback(app: Flask, client: Any, database: Database) -> None:
    cid, rid = member(database, 300), reward(database, 100, name="Mug")
    api = till(app, client, "vouchers:write")
    code = issue(api, cid, rid)["voucher_code"]
    seen = api.get(f"/api/v1/vouchers/{code}").get_json()
    assert {"code", "status", "reward", "member_id", "expires_at"} <= seen.keys()
    assert seen["status"] == "issued" and seen["member_id"] == cid and seen["used_at"] is None
    assert api.get(f"/api/v1/vouchers/{code.lower().replace('-', ' ')}").get_json()["code"] == code
    used = api.post(f"/api/v1/vouchers/{code}/redeem", {"store": "Pune", "order_id": "POS-1"})
    assert used.status_code == 200, used.get_json()
    assert used.get_json() == {**used.get_json(), "status": "used", "used_store": "Pune", "used_order_id": "POS-1"}
    assert RFC3339_UTC.match(used.get_json()["used_at"])
    for retry in ({"store": "Pune", "order_id": "POS-1"}, {}, {"order_id": "POS-2"}):
        twice = problem(api.post(f"/api/v1/vouchers/{code}/redeem", retry), 409, "voucher_not_valid")
        assert twice["voucher_status"] == "used"
    back = api.post(f"/api/v1/vouchers/{code}/rollback", {"reason": "bill voided"})
    assert back.status_code == 200 and back.get_json()["status"] == "issued" and back.get_json()["used_at"] is None
    again = problem(api.post(f"/api/v1/vouchers/{code}/rollback"), 409, "voucher_not_valid")
    assert again["voucher_status"] == "issued"
    assert api.post(f"/api/v1/vouchers/{code}/redeem").get_json()["status"] == "used"
    with database.unit_of_work() as s:
        assert ledger.verify(s) == []


def test_other_members_vouchers_and_unknown_codes(app: Flask, client: Any, database: Database) -> None:
    mine, theirs, rid = member(database, 300), member(database, 300), reward(database, 100)
    api = till(app, client, "vouchers:write")
    code = issue(api, theirs, rid)["voucher_code"]
    problem(api.get(f"/api/v1/vouchers/{code}?member_id={mine}"), 404, "not_found")
    problem(api.post(f"/api/v1/vouchers/{code}/redeem", {"member_id": mine}), 404, "not_found")
    assert api.get(f"/api/v1/vouchers/{code}").get_json()["status"] == "issued"
    assert api.get(f"/api/v1/vouchers/{code}?member_id={theirs}").status_code == 200
    problem(api.get("/api/v1/vouchers/NOPE-NOPE-NOPE"), 404, "not_found")
    problem(api.post("/api/v1/vouchers/NOPE-NOPE-NOPE/redeem"), 404, "not_found")
    problem(api.post("/api/v1/vouchers/NOPE-NOPE-NOPE/rollback"), 404, "not_found")
    problem(api.get(f"/api/v1/vouchers/{'X' * 41}"), 404, "not_found")


def test_an_expired_voucher_reads_expired_and_is_refused(
    app: Flask, client: Any, database: Database, clock: Any
) -> None:
    cid, rid = member(database, 300), reward(database, 100)
    api = till(app, client, "vouchers:write")
    body = issue(api, cid, rid)
    clock.advance(days=400)
    assert api.get(f"/api/v1/vouchers/{body['code']}").get_json()["status"] == "expired"
    late = problem(api.post(f"/api/v1/vouchers/{body['code']}/redeem"), 409, "voucher_not_valid")
    assert late["voucher_status"] == "expired"
