"""Who may call: API keys (CLI and console), scopes, staff tokens with rotation, reuse detection, lock-out."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from domain.api_keys import ApiKey
from domain.db import Database
from tests.fakes import FrozenClock
from tests.integration.api_support import PASSWORD, Api, api_key, member, problem, staff
from tests.integration.test_admin_security import csrf_token, staff_client
from tests.integration.test_admin_security import sign_in as console_sign_in

ENDPOINTS = [
    ("GET", "/api/v1/members?phone=9812345678", "members:read"),
    ("POST", "/api/v1/members", "members:write"),
    ("GET", "/api/v1/members/1", "members:read"),
    ("GET", "/api/v1/members/1/ledger", "members:read"),
    ("GET", "/api/v1/rewards", "members:read"),
    ("POST", "/api/v1/members/1/redemptions", "vouchers:write"),
    ("POST", "/api/v1/transactions", "transactions:write"),
    ("POST", "/api/v1/returns", "transactions:write"),
    ("GET", "/api/v1/vouchers/ABCD-EFGH", "vouchers:write"),
    ("POST", "/api/v1/vouchers/ABCD-EFGH/redeem", "vouchers:write"),
    ("POST", "/api/v1/vouchers/ABCD-EFGH/rollback", "vouchers:write"),
    ("POST", "/api/v1/holds", "holds:write"),
    ("GET", "/api/v1/holds/1", "holds:write"),
    ("POST", "/api/v1/holds/1/verify", "holds:write"),
    ("POST", "/api/v1/holds/1/capture", "holds:write"),
    ("POST", "/api/v1/holds/1/release", "holds:write"),
    ("POST", "/api/v1/members/1/adjustments", "points:adjust"),
    ("GET", "/api/v1/erp/status", "erp:run"),
    ("POST", "/api/v1/erp/sync", "erp:run"),
]
OTHER_SCOPE = {"members:read": "vouchers:write"}


def call(client: Any, method: str, path: str, headers: dict[str, str]) -> Any:
    return client.open(path, method=method, json={} if method == "POST" else None, headers=headers)


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_every_endpoint_wants_a_valid_key_with_its_scope(
    app: Flask, client: Any, database: Database, method: str, path: str, scope: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer lk_not-a-key"}, {"Authorization": "Basic abc"}):
        refused = problem(call(client, method, path, headers), 401, "unauthorized")
        assert refused["type"].endswith("unauthorized")
    assert call(client, method, path, {"Authorization": "Bearer la_forged"}).status_code == 401
    other = api_key(app, OTHER_SCOPE.get(scope, "members:read"), name="other")
    forbidden = problem(call(client, method, path, other), 403, "forbidden")
    assert forbidden["required_scope"] == scope
    right = api_key(app, scope, name="right")
    assert call(client, method, path, right).status_code not in (401, 403)


def test_a_revoked_key_is_refused_from_the_next_request(app: Flask, client: Any, database: Database) -> None:
    headers = api_key(app, "members:read", name="till-7")
    assert client.get("/api/v1/rewards", headers=headers).status_code == 200
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["apikeys", "list"])
    assert listed.exit_code == 0 and "till-7" in listed.output and "members:read" in listed.output
    assert headers["Authorization"].split()[1] not in listed.output
    assert runner.invoke(args=["apikeys", "revoke", "till-7"]).exit_code == 0
    problem(client.get("/api/v1/rewards", headers=headers), 401, "unauthorized")
    with database.unit_of_work() as s:
        stored = s.scalars(select(ApiKey)).one()
        assert stored.secret_hash != headers["Authorization"].split()[1] and stored.last_used_at is not None


def test_admins_make_and_revoke_keys_in_the_console(app: Flask, database: Database) -> None:
    console = staff_client(app, database, "admin")
    token = csrf_token(console, "/admin/api-keys")
    made = console.post(
        "/admin/api-keys", data={"name": "webshop", "scopes": ["members:read"], "rate": "", "csrf_token": token}
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    secret = re.search(r"lk_[A-Za-z0-9_-]+", made.get_data(as_text=True))
    assert secret is not None
    headers = {"Authorization": f"Bearer {secret.group(0)}"}
    assert app.test_client().get("/api/v1/rewards", headers=headers).status_code == 200
    listing = console.get("/admin/api-keys").get_data(as_text=True)
    assert "webshop" in listing and secret.group(0) not in listing
    with database.unit_of_work() as s:
        key_id = s.scalars(select(ApiKey.id)).one()
    console.post(f"/admin/api-keys/{key_id}/revoke", data={"csrf_token": csrf_token(console, "/admin/api-keys")})
    problem(app.test_client().get("/api/v1/rewards", headers=headers), 401, "unauthorized")
    assert staff_client(app, database, "manager").get("/admin/api-keys").status_code in (302, 403)


def sign_in(client: Any, email: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_staff_sign_in_refresh_rotates_and_reuse_is_refused(app: Flask, client: Any, database: Database) -> None:
    email = staff(database)
    cid = member(database, 100)
    signed = sign_in(client, email)
    assert signed.status_code == 200, signed.get_json()
    tokens = signed.get_json()
    assert {"access_token", "refresh_token", "expires_in"} <= tokens.keys() and tokens["expires_in"] > 0
    me = Api(client, bearer(tokens["access_token"]))
    assert me.get(f"/api/v1/members/{cid}").status_code == 200
    adjusted = me.post(f"/api/v1/members/{cid}/adjustments", {"points": 5, "reason": "by hand"})
    assert adjusted.status_code == 201
    assert me.get(f"/api/v1/members/{cid}/ledger").get_json()["data"][0]["actor"] == email
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    fresh = rotated.get_json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert Api(client, bearer(fresh["access_token"])).get(f"/api/v1/members/{cid}").status_code == 200
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    problem(reused, 401, "unauthorized")
    # A stolen refresh token presented again revokes its whole family, the fresh tokens with it.
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}), 401, "unauthorized")
    problem(Api(client, bearer(fresh["access_token"])).get(f"/api/v1/members/{cid}"), 401, "unauthorized")
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": "nonsense"}), 401, "unauthorized")


def test_a_tampered_access_token_is_refused(app: Flask, client: Any, database: Database) -> None:
    email = staff(database)
    tokens = sign_in(client, email).get_json()
    assert client.get("/api/v1/rewards", headers=bearer(tokens["access_token"])).status_code == 200
    tampered = tokens["access_token"][:-2] + ("AA" if not tokens["access_token"].endswith("AA") else "BB")
    problem(client.get("/api/v1/rewards", headers=bearer(tampered)), 401, "unauthorized")


def test_support_reads_only(app: Flask, client: Any, database: Database) -> None:
    email = staff(database, "support@shop.example", "support")
    cid = member(database, 100)
    me = Api(client, bearer(sign_in(client, email).get_json()["access_token"]))
    assert me.get(f"/api/v1/members/{cid}").status_code == 200
    assert me.get("/api/v1/rewards").status_code == 200
    problem(me.post(f"/api/v1/members/{cid}/adjustments", {"points": 5, "reason": "x"}), 403, "forbidden")
    problem(me.post("/api/v1/transactions", {"order_id": "1", "member_id": cid, "amount": "1"}), 403, "forbidden")
    problem(me.post("/api/v1/holds", {"member_id": cid, "points": 1}), 403, "forbidden")
    problem(me.get("/api/v1/erp/status"), 403, "forbidden")


def test_lock_out_applies_to_the_api_sign_in(app: Flask, client: Any, database: Database, clock: FrozenClock) -> None:
    email = staff(database)
    for _ in range(5):
        problem(sign_in(client, email, "wrong password"), 401, "unauthorized")
    locked = problem(sign_in(client, email), 401, "unauthorized")
    unknown = problem(sign_in(client, "nobody@shop.example"), 401, "unauthorized")
    assert locked["detail"] == unknown["detail"]
    console = app.test_client()  # the same account is locked at the console's door too
    assert console_sign_in(console, email, PASSWORD).status_code != 302
    clock.advance(minutes=16)
    assert console_sign_in(app.test_client(), email, PASSWORD).status_code == 302
    assert sign_in(client, email).status_code == 200
    problem(client.post("/api/v1/auth/token", json={"email": email}), 400, "validation_error", "password")
    problem(client.post("/api/v1/auth/token", data="x", content_type="text/plain"), 400, "validation_error")


def test_sign_out_revokes_the_family(app: Flask, client: Any, database: Database) -> None:
    tokens = sign_in(client, staff(database)).get_json()
    assert client.get("/api/v1/rewards", headers=bearer(tokens["access_token"])).status_code == 200
    out = client.post("/api/v1/auth/revoke", json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    problem(client.get("/api/v1/rewards", headers=bearer(tokens["access_token"])), 401, "unauthorized")
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401, "unauthorized")
    assert client.post("/api/v1/auth/revoke", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
