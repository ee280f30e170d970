"""``/api/v1/members/{id}/consents``: the ledger over the API, withdrawal from a web shop, children."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from sqlalchemy import select

from domain import consents
from domain.customers import Customer
from domain.db import Database
from tests.domain_factories import make_customer


def api_key(app: Flask, scopes: str = "members:read,members:write", name: str = "webshop") -> dict[str, str]:
    result = app.test_cli_runner().invoke(args=["apikeys", "create", name, "--scopes", scopes])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.output.strip().splitlines()[-1]}"}


def member(database: Database) -> int:
    with database.unit_of_work() as s:
        c = make_customer(s, phone="+919812345678")
        consents.record(s, c, consents.SERVICE, True, channel="whatsapp", now=c.created_at, notice_version="v1")
        return c.id


def test_consent_is_given_listed_and_withdrawn_over_the_api(app: Flask, client: Any, database: Database) -> None:
    cid, auth = member(database), api_key(app)
    given = client.post(f"/api/v1/members/{cid}/consents", json={"purpose": "marketing", "granted": True}, headers=auth)
    assert given.status_code == 201, given.get_json()
    assert given.get_json()["changed"] is True and given.get_json()["member"]["marketing_opt_in"] is True
    again = client.post(f"/api/v1/members/{cid}/consents", json={"purpose": "marketing", "granted": True}, headers=auth)
    assert again.get_json()["changed"] is False
    stop = client.post(f"/api/v1/members/{cid}/consents", json={"purpose": "service", "granted": False}, headers=auth)
    assert stop.status_code == 201
    listed = client.get(f"/api/v1/members/{cid}/consents?limit=2", headers=auth).get_json()
    assert [(r["purpose"], r["granted"], r["channel"], r["actor"]) for r in listed["data"]] == [
        ("service", False, "api", "apikey:webshop"),
        ("marketing", True, "api", "apikey:webshop"),
    ]
    assert listed["has_more"] is True
    rest = client.get(f"/api/v1/members/{cid}/consents?starting_after={listed['next_cursor']}", headers=auth).get_json()
    assert [r["notice_version"] for r in rest["data"]] == ["v1"] and rest["has_more"] is False


def test_the_api_refuses_what_is_not_its_to_give(app: Flask, client: Any, database: Database) -> None:
    cid, auth = member(database), api_key(app)
    service = client.post(f"/api/v1/members/{cid}/consents", json={"purpose": "service", "granted": True}, headers=auth)
    assert service.status_code == 400 and service.get_json()["code"] == "validation_error"
    unknown = client.post(f"/api/v1/members/{cid}/consents", json={"purpose": "news", "granted": True}, headers=auth)
    assert unknown.status_code == 400
    with database.unit_of_work() as s:
        kid = s.scalars(select(Customer)).one()
        consents.set_birthday(s, kid, dt.date(2014, 1, 1), channel="api", now=dt.datetime(2026, 6, 15, tzinfo=dt.UTC))
    minor = client.post(f"/api/v1/members/{cid}/consents", json={"purpose": "marketing", "granted": True}, headers=auth)
    assert minor.status_code == 422 and minor.get_json()["code"] == "parental_consent_required"
    body = {"purpose": "marketing", "granted": True, "parent": True}
    assert client.post(f"/api/v1/members/{cid}/consents", json=body, headers=auth).status_code == 201
    reader = api_key(app, "members:read", name="reports")
    assert client.post(f"/api/v1/members/{cid}/consents", json=body, headers=reader).status_code == 403
    assert client.get("/api/v1/members/999/consents", headers=reader).status_code == 404
    document = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/members/{member_id}/consents" in document["paths"]
