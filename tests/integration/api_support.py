"""Builders for the integration API tests: keys, staff, members with points, rewards, problem checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from domain import rewards, users
from domain.db import Database
from tests.domain_factories import give_points, make_customer

ALL_SCOPES = "members:read,members:write,transactions:write,vouchers:write,holds:write,points:adjust,erp:run"
PASSWORD = "Tr0ub4dor&3-horse-battery"
E164 = re.compile(r"^\+[1-9]\d{7,14}$")
MONEY = re.compile(r"^\d+\.\d{2}$")
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def api_key(app: Flask, scopes: str = ALL_SCOPES, name: str = "till", rate: str | None = None) -> dict[str, str]:
    """A key made through the CLI, as an operator makes it, as request headers."""
    args = ["apikeys", "create", name, "--scopes", scopes] + (["--rate", rate] if rate else [])
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.output.strip().splitlines()[-1]}"}


def staff(database: Database, email: str = "manager@shop.example", role: str = "manager") -> str:
    with database.unit_of_work() as s:
        users.create_user(s, email, role, PASSWORD)
    return email


def member(database: Database, points: int = 0, phone: str | None = None, name: str = "Asha") -> int:
    with database.unit_of_work() as s:
        cid = make_customer(s, phone=phone, name=name).id
        if points:
            give_points(s, cid, points)
    return cid


def reward(database: Database, cost: int = 100, stock: int | None = None, name: str = "Coffee") -> int:
    with database.unit_of_work() as s:
        return rewards.add_reward(s, name=name, points_cost=cost, stock=stock).id


def problem(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 answer with this status and code (and, when given, a bad ``field``)."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys()
    assert body["status"] == status and body["code"] == code, body
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body


@dataclass
class Api:
    """A test client speaking JSON with one set of credentials."""

    client: FlaskClient
    headers: dict[str, str]

    def get(self, path: str, **headers: str) -> Any:
        return self.client.get(path, headers={**self.headers, **headers})

    def post(self, path: str, body: Any = None, key: str | None = None, **headers: str) -> Any:
        extra = {"Idempotency-Key": key} if key else {}
        return self.client.post(
            path, json=body if body is not None else {}, headers={**self.headers, **extra, **headers}
        )


def till(app: Flask, client: FlaskClient, scopes: str = ALL_SCOPES, name: str = "till") -> Api:
    return Api(client, api_key(app, scopes, name))
