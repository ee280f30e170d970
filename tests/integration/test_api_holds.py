"""``/api/v1/holds``: points as payment at a till, from pending to captured, released or declined."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot.models import OutboxMessage
from domain import holds, ledger, rewards
from domain.db import Database
from domain.errors import InsufficientPoints
from tests.domain_factories import NOW, RULES
from tests.fakes import FrozenClock
from tests.integration.api_support import MONEY, RFC3339_UTC, Api, member, problem, reward, till

CODE = "428193"


@pytest.fixture(autouse=True)
def known_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 6-digit code the member would read off WhatsApp."""
    monkeypatch.setattr(holds, "new_code", lambda: CODE)


def open_hold(api: Api, member_id: int, points: int, **extra: Any) -> dict[str, Any]:
    made = api.post("/api/v1/holds", {"member_id": member_id, "points": points, **extra})
    assert made.status_code == 201, made.get_json()
    body: dict[str, Any] = made.get_json()
    return body


def points_of(api: Api, member_id: int) -> dict[str, int]:
    found: dict[str, int] = api.get(f"/api/v1/members/{member_id}").get_json()["points"]
    return found


def clean(database: Database) -> None:
    with database.unit_of_work() as s:
        assert ledger.verify(s) == [] and holds.verify(s) == []


def test_a_hold_reserves_points_and_asks_the_member(app: Flask, client: Any, database: Database) -> None:
    cid = member(database, 1000, phone="+919812345678")
    api = till(app, client, "holds:write,members:read")
    body = open_hold(api, cid, 400, store="Pune", order_id="POS-1")
    assert body["status"] == "pending" and body["points"] == 400
    assert body["value"] == {"amount": "100.00", "currency": "INR"} and MONEY.match(body["value"]["amount"])
    assert RFC3339_UTC.match(body["expires_at"]) and body["member_id"] == cid and body["store"] == "Pune"
    assert "code" not in body
    assert points_of(api, cid) == {"balance": 1000, "available": 600, "held": 400, "owed": 0}
    assert api.get(f"/api/v1/holds/{body['id']}").get_json() == body
    with database.unit_of_work() as s:
        sent = s.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == f"hold:{body['id']}:code"))
        assert CODE in str(sent.one().payload)
    by_phone = api.post("/api/v1/holds", {"phone": "09812345678", "points": 100})
    assert by_phone.status_code == 201 and by_phone.get_json()["member_id"] == cid
    short = problem(api.post("/api/v1/holds", {"member_id": cid, "points": 501}), 422, "insufficient_points")
    assert short["available"] == 500
    clean(database)


def test_held_points_are_not_available_to_chat_redemptions(app: Flask, client: Any, database: Database) -> None:
    cid, rid = member(database, 500), reward(database, 200)
    api = till(app, client, "holds:write,vouchers:write")
    open_hold(api, cid, 400)
    with pytest.raises(InsufficientPoints), database.unit_of_work() as s:
        rewards.redeem(s, cid, rid, RULES, NOW, key="redeem:wa:wamid.1")  # as the bot's chat flow does
    problem(api.post(f"/api/v1/members/{cid}/redemptions", {"reward_id": rid}), 422, "insufficient_points")
    clean(database)


def test_verify_by_code_then_capture_part_releases_the_rest(app: Flask, client: Any, database: Database) -> None:
    cid = member(database, 1000)
    api = till(app, client, "holds:write,members:read")
    hold = open_hold(api, cid, 400)
    problem(api.post(f"/api/v1/holds/{hold['id']}/capture"), 409, "hold_not_open")
    verified = api.post(f"/api/v1/holds/{hold['id']}/verify", {"code": CODE})
    assert verified.status_code == 200, verified.get_json()
    assert verified.get_json()["status"] == "held" and verified.get_json()["verified_via"] == "code"
    problem(api.post(f"/api/v1/holds/{hold['id']}/capture", {"points": 401}), 400, "validation_error", "points")
    captured = api.post(f"/api/v1/holds/{hold['id']}/capture", {"points": 300})
    assert captured.status_code == 200, captured.get_json()
    assert captured.get_json()["status"] == "captured" and captured.get_json()["captured_points"] == 300
    assert points_of(api, cid) == {"balance": 700, "available": 700, "held": 0, "owed": 0}
    closed = problem(api.post(f"/api/v1/holds/{hold['id']}/capture"), 409, "hold_not_open")
    assert closed["hold_status"] == "captured"
    problem(api.post(f"/api/v1/holds/{hold['id']}/release"), 409, "hold_not_open")
    spent = api.get(f"/api/v1/members/{cid}/ledger?limit=1").get_json()["data"][0]
    assert (spent["kind"], spent["points"]) == ("redeem", -300)
    clean(database)


def test_three_wrong_codes_release_the_hold(app: Flask, client: Any, database: Database) -> None:
    cid = member(database, 1000)
    api = till(app, client, "holds:write,members:read")
    hold = open_hold(api, cid, 400)
    first = problem(api.post(f"/api/v1/holds/{hold['id']}/verify", {"code": "000000"}), 422, "wrong_code")
    assert first["attempts_left"] == 2 and first["hold_status"] == "pending"
    problem(api.post(f"/api/v1/holds/{hold['id']}/verify", {"code": "000001"}), 422, "wrong_code")
    last = problem(api.post(f"/api/v1/holds/{hold['id']}/verify", {"code": "000002"}), 422, "wrong_code")
    assert last["attempts_left"] == 0 and last["hold_status"] == "released"
    problem(api.post(f"/api/v1/holds/{hold['id']}/verify", {"code": CODE}), 409, "hold_not_open")
    assert points_of(api, cid)["available"] == 1000
    clean(database)


def test_release_and_expiry_give_the_points_back(
    app: Flask, client: Any, database: Database, clock: FrozenClock
) -> None:
    cid = member(database, 1000)
    api = till(app, client, "holds:write,members:read")
    released = api.post(f"/api/v1/holds/{open_hold(api, cid, 300)['id']}/release", {"reason": "paid cash"})
    assert released.status_code == 200 and released.get_json()["status"] == "released"
    assert released.get_json()["reason"] == "paid cash" and points_of(api, cid)["available"] == 1000
    late = open_hold(api, cid, 200)
    assert points_of(api, cid)["held"] == 200
    clock.advance(minutes=16)
    gone = problem(api.post(f"/api/v1/holds/{late['id']}/verify", {"code": CODE}), 409, "hold_not_open")
    assert gone["hold_status"] == "expired"
    with database.unit_of_work() as s:
        assert holds.expire_due(s, clock.now()) == 1
    assert api.get(f"/api/v1/holds/{late['id']}").get_json()["status"] == "released"
    assert points_of(api, cid) == {"balance": 1000, "available": 1000, "held": 0, "owed": 0}
    clean(database)


def test_hold_minutes_from_the_environment(
    database: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loyalty import create_app
    from tests.conftest import app_config

    monkeypatch.setenv("HOLD_MINUTES", "5")
    app = create_app(app_config(database.url))
    app.extensions["loyalty.clock"] = clock
    hold = open_hold(till(app, app.test_client(), "holds:write"), member(database, 100), 10)
    assert hold["expires_at"] == "2026-06-15T10:05:00Z"
    app.extensions["loyalty.db"].dispose()


def test_unknown_holds_and_members(app: Flask, client: Any, database: Database) -> None:
    api = till(app, client, "holds:write")
    problem(api.get("/api/v1/holds/999999"), 404, "not_found")
    for action in ("verify", "capture", "release"):
        body = {"code": CODE} if action == "verify" else {}
        problem(api.post(f"/api/v1/holds/999999/{action}", body), 404, "not_found")
    problem(api.post("/api/v1/holds", {"member_id": 999999, "points": 1}), 404, "not_found")
    problem(api.post("/api/v1/holds", {"phone": "9000000001", "points": 1}), 404, "not_found")
