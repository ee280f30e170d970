"""Bad input on every endpoint: each answers 4xx problem+json naming the field, never a 500.

For every POST: malformed JSON, a body that is not an object, a non-JSON content type, an unknown field,
each required field missing, and per field wrong types, huge numbers (10**30), negative amounts and
out-of-range values. For every route: unknown ids, other members' vouchers, unknown routes and methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask

from domain.db import Database
from tests.integration.api_support import Api, member, problem, reward, till

HUGE = 10**30


@dataclass(frozen=True)
class Post:
    path: str
    valid: dict[str, Any]
    required: tuple[str, ...] = ()
    bad: dict[str, list[Any]] = field(default_factory=dict)


TEXT = [5, True, [], {}]
POSTS: dict[str, Post] = {
    "enrol": Post(
        "/api/v1/members",
        {"phone": "9812345699"},
        ("phone",),
        {
            "phone": [123, True, [], "abc", "12", "x" * 41, None],
            "name": [5, [], "x" * 201, "bad\x01name"],
            "language": ["fr", 1],
            "referral_code": [1, "x" * 17],
            "marketing_opt_in": ["yes", 1, "true"],
        },
    ),
    "adjust": Post(
        "/api/v1/members/{a}/adjustments",
        {"points": 5, "reason": "goodwill"},
        ("points", "reason"),
        {"points": ["5", 5.5, True, HUGE, -HUGE, 0, None], "reason": [*TEXT, "", "x" * 201]},
    ),
    "redeem_reward": Post(
        "/api/v1/members/{a}/redemptions",
        {"reward_id": 1},
        ("reward_id",),
        {"reward_id": ["1", -1, 0, HUGE, True, 1.5, None]},
    ),
    "sale": Post(
        "/api/v1/transactions",
        {"order_id": "POS-9", "member_id": 1, "amount": "100.00"},
        ("order_id", "amount"),
        {
            "order_id": [*TEXT, "", "x" * 65],
            "member_id": ["1", HUGE, -1, 0, True],
            "amount": [-1, "-1.00", "abc", HUGE, "1" + "0" * 30, "1.001", True, [], None, "NaN", "Infinity"],
            "currency": ["RUPEES", 5],
            "store": TEXT,
            "occurred_at": ["yesterday", 5, "2026-06-15T10:00:00", "1900-01-01T00:00:00Z"],
            "lines": ["x", {}, 5],
            "lines.0.amount": [-1, HUGE, "x"],
            "lines.0.qty": [0, -1, "x"],
        },
    ),
    "return": Post(
        "/api/v1/returns",
        {"return_id": "R-9", "order_id": "POS-1", "amount": "10.00"},
        ("return_id", "order_id", "amount"),
        {"return_id": [*TEXT, ""], "order_id": TEXT, "amount": [-1, 0, HUGE, "x", None]},
    ),
    "voucher_redeem": Post(
        "/api/v1/vouchers/{code}/redeem",
        {},
        (),
        {"store": TEXT, "order_id": [*TEXT, "x" * 65], "member_id": ["x", HUGE, -1]},
    ),
    "voucher_rollback": Post("/api/v1/vouchers/{code}/rollback", {}, (), {"reason": TEXT}),
    "hold": Post(
        "/api/v1/holds",
        {"member_id": 1, "points": 10},
        ("points",),
        {"member_id": ["1", HUGE, -1], "points": [-1, 0, HUGE, "5", 1.5, True], "store": TEXT, "order_id": TEXT},
    ),
    "verify": Post(
        "/api/v1/holds/{hold}/verify", {"code": "000000"}, ("code",), {"code": [123456, "12345", "abcdef", None]}
    ),
    "capture": Post("/api/v1/holds/{hold}/capture", {}, (), {"points": [-1, 0, HUGE, "5", 1.5]}),
    "release": Post("/api/v1/holds/{hold}/release", {}, (), {"reason": TEXT}),
    "erp_sync": Post("/api/v1/erp/sync", {}, (), {"full": ["yes", 1], "entities": ["orders", [], "x"]}),
    "token": Post(
        "/api/v1/auth/token",
        {"email": "a@b.example", "password": "x"},
        ("email", "password"),
        {"email": TEXT, "password": [5, ""]},
    ),
    "refresh": Post("/api/v1/auth/refresh", {"refresh_token": "x"}, ("refresh_token",), {"refresh_token": TEXT}),
}


@dataclass
class World:
    api: Api
    ids: dict[str, Any]

    def path(self, template: str) -> str:
        return template.format(**self.ids)


@pytest.fixture
def world(app: Flask, client: Any, database: Database) -> World:
    a, b = member(database, 1000, phone="+919812345678"), member(database, 1000, phone="+919812345679")
    rid = reward(database, 100)
    api = till(app, client)
    code = api.post(f"/api/v1/members/{b}/redemptions", {"reward_id": rid}).get_json()["voucher_code"]
    hold = api.post("/api/v1/holds", {"member_id": a, "points": 10}).get_json()["id"]
    assert api.post("/api/v1/transactions", {"order_id": "POS-1", "member_id": a, "amount": "100"}).status_code == 201
    return World(api, {"a": a, "b": b, "code": code, "hold": hold, "reward": rid})


def nested(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """``body`` with ``lines.0.amount``-style fields set (a valid line around the bad value)."""
    if "." not in dotted:
        return {**body, dotted: value}
    top, _, leaf = dotted.split(".")
    return {**body, top: [{"amount": "10.00", leaf: value}]}


def posted(world: World, name: str, body: Any = None, **kwargs: Any) -> Any:
    post = POSTS[name]
    return world.api.client.post(world.path(post.path), headers=world.api.headers, json=body, **kwargs)


@pytest.mark.parametrize("name", list(POSTS))
def test_bodies_that_are_not_json_objects(world: World, name: str) -> None:
    for raw in ('{"a": ', "[1, 2]", '"text"', "null", "{" * 100 + "}" * 100, "\xff\xfe"):
        problem(
            posted(world, name, data=raw.encode("latin-1"), content_type="application/json"),
            400,
            "validation_error",
            "body",
        )
    valid = '{"reason": "x"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        problem(posted(world, name, data=valid, content_type=content_type), 400, "validation_error", "body")


@pytest.mark.parametrize("name", list(POSTS))
def test_unknown_and_missing_fields_are_named(world: World, name: str) -> None:
    post = POSTS[name]
    body = {
        k: (world.ids["a"] if k == "member_id" else world.ids["reward"] if k == "reward_id" else v)
        for k, v in post.valid.items()
    }
    problem(posted(world, name, {**body, "bogus": 1}), 400, "validation_error", "bogus")
    for required in post.required:
        without = {k: v for k, v in body.items() if k != required}
        problem(posted(world, name, without), 400, "validation_error", required)


@pytest.mark.parametrize("name", list(POSTS))
def test_wrong_types_huge_and_negative_values_are_named(world: World, name: str) -> None:
    post = POSTS[name]
    body = {
        k: (world.ids["a"] if k == "member_id" else world.ids["reward"] if k == "reward_id" else v)
        for k, v in post.valid.items()
    }
    for dotted, values in post.bad.items():
        for value in values:
            answer = posted(world, name, nested(body, dotted, value))
            assert answer.status_code == 400, (dotted, value, answer.get_json())
            problem(answer, 400, "validation_error", dotted)


def test_phone_or_member_id_exactly_one(world: World) -> None:
    a = world.ids["a"]
    not_a_line = {"order_id": "X", "amount": "1", "member_id": a, "lines": [5]}
    problem(world.api.post("/api/v1/transactions", not_a_line), 400, "validation_error", "lines.0")
    both = {"order_id": "X", "amount": "1", "member_id": a, "phone": "+919812345678"}
    problem(world.api.post("/api/v1/transactions", both), 400, "validation_error", "member_id")
    problem(
        world.api.post("/api/v1/transactions", {"order_id": "X", "amount": "1"}), 400, "validation_error", "member_id"
    )
    problem(world.api.post("/api/v1/holds", {"points": 1}), 400, "validation_error", "member_id")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/members/999999",
        "/api/v1/members/999999/ledger",
        "/api/v1/rewards?member_id=999999",
        "/api/v1/vouchers/NOPE-NOPE",
        "/api/v1/holds/999999",
        f"/api/v1/holds/{HUGE}",
        "/api/v1/members/-1",
    ],
)
def test_unknown_ids_on_reads(world: World, path: str) -> None:
    problem(world.api.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/members/999999/adjustments", {"points": 5, "reason": "x"}),
        ("/api/v1/members/999999/redemptions", {"reward_id": 1}),
        ("/api/v1/members/{a}/redemptions", {"reward_id": 999999}),
        ("/api/v1/transactions", {"order_id": "N", "member_id": 999999, "amount": "1"}),
        ("/api/v1/returns", {"return_id": "N", "order_id": "NO-SUCH-ORDER", "amount": "1"}),
        ("/api/v1/vouchers/NOPE-NOPE/redeem", {}),
        ("/api/v1/vouchers/NOPE-NOPE/rollback", {}),
        ("/api/v1/vouchers/{code}/redeem", {"member_id": "{a}"}),
        ("/api/v1/holds", {"member_id": 999999, "points": 1}),
        ("/api/v1/holds/999999/verify", {"code": "000000"}),
        ("/api/v1/holds/999999/capture", {}),
        ("/api/v1/holds/999999/release", {}),
    ],
)
def test_unknown_ids_and_other_members_vouchers_on_writes(world: World, path: str, body: dict[str, Any]) -> None:
    filled = {k: (world.ids["a"] if v == "{a}" else v) for k, v in body.items()}
    problem(world.api.post(world.path(path), filled), 404, "not_found")
    if "{code}" in path:
        assert world.api.get(world.path("/api/v1/vouchers/{code}")).get_json()["status"] == "issued"
        problem(world.api.get(world.path("/api/v1/vouchers/{code}?member_id={a}")), 404, "not_found")


@pytest.mark.parametrize(
    "query",
    [
        "phone=",
        "phone=abc",
        "phone=" + "9" * 41,
        "limit=0",
        "limit=101",
        "limit=abc",
        f"limit={HUGE}",
        "starting_after=x",
        "member_id=0",
        f"member_id={HUGE}",
        "member_id=-1",
    ],
)
def test_bad_query_strings(world: World, query: str) -> None:
    name = query.split("=")[0]
    path = {"phone": "/api/v1/members", "member_id": "/api/v1/rewards"}.get(name, "/api/v1/members/{a}/ledger")
    problem(world.api.get(world.path(path) + "?" + query), 400, "validation_error", name)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nothing", 404),
        ("GET", "/api/v2/members", 404),
        ("GET", "/api", 404),
        ("POST", "/api/v1/members/1/nothing", 404),
        ("DELETE", "/api/v1/members", 405),
        ("PUT", "/api/v1/holds/1", 405),
        ("GET", "/api/v1/transactions", 405),
        ("PATCH", "/api/v1/members/1", 405),
        ("GET", "/api/v1/auth/token", 405),
    ],
)
def test_unknown_api_routes_and_methods(world: World, method: str, path: str, status: int) -> None:
    answer = world.api.client.open(path, method=method, headers=world.api.headers)
    problem(answer, status, "not_found" if status == 404 else "method_not_allowed")
    if status == 405:
        assert answer.headers["Allow"]


def test_nothing_answered_a_500(world: World) -> None:
    """The world was built through the API too; a huge body is refused without reading it all."""
    big = '{"reason": "' + "x" * 3_000_000 + '"}'
    answer = posted(world, "release", data=big, content_type="application/json")
    assert 400 <= answer.status_code < 500 and answer.mimetype == "application/problem+json"
