"""``/api/v1/members``: look-up, enrolment, the member, the ledger pages, adjustments; the catalog."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from domain.audit import AuditEntry
from domain.consents import Consent
from domain.customers import Customer
from domain.db import Database
from tests.integration.api_support import E164, RFC3339_UTC, member, problem, reward, till

MEMBER_FIELDS = {"id", "phone", "name", "tier", "points", "referral_code"}


def assert_member(body: dict[str, Any], member_id: int, balance: int) -> None:
    assert body.keys() >= MEMBER_FIELDS
    assert body["id"] == member_id and E164.match(body["phone"])
    assert body["points"] == {"balance": balance, "available": balance, "held": 0, "owed": 0}
    assert isinstance(body["tier"], str) and isinstance(body["referral_code"], str)
    assert RFC3339_UTC.match(body["created_at"])


def test_look_up_by_phone_in_any_format_answers_e164(app: Flask, client: Any, database: Database) -> None:
    cid = member(database, 120, phone="+919812345678", name="Asha Verma")
    api = till(app, client, "members:read")
    for phone in ("+919812345678", "09812345678", "98123 45678", "+91-98123-45678"):
        found = api.get(f"/api/v1/members?phone={phone.replace('+', '%2B')}")
        assert found.status_code == 200, found.get_json()
        assert_member(found.get_json(), cid, 120)
        assert found.get_json()["phone"] == "+919812345678" and found.get_json()["name"] == "Asha Verma"
    problem(api.get("/api/v1/members?phone=9876500000"), 404, "not_found")
    problem(api.get("/api/v1/members?phone=12"), 400, "validation_error", "phone")
    problem(api.get("/api/v1/members"), 400, "validation_error", "phone")


def test_enrol_is_201_then_200_with_the_same_member(app: Flask, client: Any, database: Database) -> None:
    api = till(app, client, "members:write,members:read")
    first = api.post("/api/v1/members", {"phone": "098123 45678", "name": "Ravi", "language": "hi"})
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["phone"] == "+919812345678" and body["name"] == "Ravi" and body["language"] == "hi"
    assert_member(body, body["id"], body["points"]["balance"])
    again = api.post("/api/v1/members", {"phone": "+91 98123 45678"})
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]
    assert api.get(f"/api/v1/members/{body['id']}").get_json() == again.get_json()
    with database.unit_of_work() as s:
        assert len(s.scalars(select(Customer)).all()) == 1
        actors = {a.actor for a in s.scalars(select(AuditEntry).where(AuditEntry.action.like("api.%")))}
    assert actors == {"apikey:till"}


def test_marketing_opt_in_at_the_till_records_consent(app: Flask, client: Any, database: Database) -> None:
    api = till(app, client, "members:write")
    made = api.post("/api/v1/members", {"phone": "9812345600", "marketing_opt_in": True})
    assert made.status_code == 201 and made.get_json()["marketing_opt_in"] is True
    with database.unit_of_work() as s:
        purposes = {(c.purpose, c.granted) for c in s.scalars(select(Consent))}
    assert ("marketing", True) in purposes


def test_enrol_with_a_referral_code(app: Flask, client: Any, database: Database) -> None:
    api = till(app, client, "members:write,members:read")
    referrer = api.post("/api/v1/members", {"phone": "9812345601"}).get_json()
    friend = api.post("/api/v1/members", {"phone": "9812345602", "referral_code": referrer["referral_code"]})
    assert friend.status_code == 201, friend.get_json()
    problem(api.post("/api/v1/members", {"phone": "9812345603", "referral_code": "NOSUCH"}), 422, "referral_refused")


def test_get_member_and_unknown_ids(app: Flask, client: Any, database: Database) -> None:
    cid = member(database, 40)
    api = till(app, client, "members:read")
    assert_member(api.get(f"/api/v1/members/{cid}").get_json(), cid, 40)
    problem(api.get("/api/v1/members/999999"), 404, "not_found")
    problem(api.get("/api/v1/members/0"), 404, "not_found")
    problem(api.get("/api/v1/members/abc"), 404, "not_found")
    problem(api.get(f"/api/v1/members/{10**30}"), 404, "not_found")


def test_ledger_pages_newest_first_with_a_cursor(app: Flask, client: Any, database: Database) -> None:
    cid = member(database)
    api = till(app, client, "members:read,points:adjust")
    for n in range(1, 6):
        assert api.post(f"/api/v1/members/{cid}/adjustments", {"points": n, "reason": f"r{n}"}).status_code == 201
    first = api.get(f"/api/v1/members/{cid}/ledger?limit=2").get_json()
    assert set(first) == {"data", "has_more", "next_cursor"}
    assert [e["points"] for e in first["data"]] == [5, 4] and first["has_more"] is True
    entry = first["data"][0]
    assert entry["kind"] == "adjust" and entry["actor"] == "apikey:till" and RFC3339_UTC.match(entry["created_at"])
    assert isinstance(first["next_cursor"], str)
    second = api.get(f"/api/v1/members/{cid}/ledger?limit=2&starting_after={first['next_cursor']}").get_json()
    assert [e["points"] for e in second["data"]] == [3, 2]
    last = api.get(f"/api/v1/members/{cid}/ledger?limit=2&starting_after={second['next_cursor']}").get_json()
    assert [e["points"] for e in last["data"]] == [1] and last == {**last, "has_more": False, "next_cursor": None}
    default = api.get(f"/api/v1/members/{cid}/ledger").get_json()
    assert len(default["data"]) == 5 and default["has_more"] is False
    for bad in ("limit=0", "limit=101", "limit=x", "limit=-1", f"limit={10**30}"):
        problem(api.get(f"/api/v1/members/{cid}/ledger?{bad}"), 400, "validation_error", "limit")
    problem(api.get(f"/api/v1/members/{cid}/ledger?starting_after=abc"), 400, "validation_error", "starting_after")
    problem(api.get("/api/v1/members/999999/ledger"), 404, "not_found")


def test_adjustments_credit_and_debit_audited_under_the_key(app: Flask, client: Any, database: Database) -> None:
    cid = member(database, 100)
    api = till(app, client, "points:adjust", name="backoffice")
    credit = api.post(f"/api/v1/members/{cid}/adjustments", {"points": 50, "reason": "goodwill"})
    assert credit.status_code == 201, credit.get_json()
    body = credit.get_json()
    assert body["points"] == 50 and body["reason"] == "goodwill" and body["member"]["points"]["balance"] == 150
    assert isinstance(body["entry_id"], int)
    debit = api.post(f"/api/v1/members/{cid}/adjustments", {"points": -30, "reason": "duplicate bill"})
    assert debit.status_code == 201 and debit.get_json()["member"]["points"]["balance"] == 120
    short = problem(
        api.post(f"/api/v1/members/{cid}/adjustments", {"points": -500, "reason": "x"}), 422, "insufficient_points"
    )
    assert short["available"] == 120
    with database.unit_of_work() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action.like("api.%"))).all()
    assert [a.actor for a in audit] == ["apikey:backoffice"] * 2


def test_rewards_catalog_with_affordable_per_member(app: Flask, client: Any, database: Database) -> None:
    cid = member(database, 150)
    cheap, dear = reward(database, 100, stock=3, name="Mug"), reward(database, 500, name="Bag")
    api = till(app, client, "members:read")
    plain = api.get("/api/v1/rewards").get_json()
    assert [(r["id"], r["name"], r["points_cost"]) for r in plain["data"]] == [(cheap, "Mug", 100), (dear, "Bag", 500)]
    assert plain["data"][0]["stock"] == 3 and "stock" not in plain["data"][1]
    assert all("affordable" not in r for r in plain["data"]) and plain["has_more"] is False
    mine = api.get(f"/api/v1/rewards?member_id={cid}").get_json()
    assert [r["affordable"] for r in mine["data"]] == [True, False]
    page = api.get("/api/v1/rewards?limit=1").get_json()
    assert page["has_more"] is True and len(page["data"]) == 1
    rest = api.get(f"/api/v1/rewards?limit=1&starting_after={page['next_cursor']}").get_json()
    assert [r["id"] for r in rest["data"]] == [dear]
    problem(api.get("/api/v1/rewards?member_id=999999"), 404, "not_found")
    problem(api.get("/api/v1/rewards?member_id=abc"), 400, "validation_error", "member_id")


def test_reads_on_postgresql_need_no_transaction(database: Database) -> None:
    """``Database.reads``: autocommit on PostgreSQL (no BEGIN/COMMIT round trips), a transaction on SQLite."""
    cid = member(database, 10, phone="+919812345678")
    with database.reads() as s:
        assert s.get_one(Customer, cid).points_balance == 10
        raw = s.connection().connection.dbapi_connection
        autocommit = getattr(raw, "autocommit", None) is True  # psycopg2's flag; sqlite3's is not True
    assert autocommit is database.is_postgresql
