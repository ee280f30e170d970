"""``/api/v1/campaigns`` and ``flask campaigns ...``: names as CONTRACT.md fixes them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from bot.messages import Reply, Template
from domain import consents
from domain.db import Database
from tests.domain_factories import make_customer
from tests.fakes import FrozenClock

BODY = {
    "name": "Gold weekend",
    "template": {"name": "double_points", "language": "member", "parameters": ["name", "points"]},
    "segment": {"tiers": ["gold"], "min_points": 0},
}


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Template]] = []

    def send(self, phone: str, message: Reply | Template) -> str:
        assert isinstance(message, Template)
        self.sent.append((phone, message))
        return f"wamid.R{len(self.sent)}"


def api_key(app: Flask, scopes: str = "campaigns:write") -> dict[str, str]:
    result = app.test_cli_runner().invoke(args=["apikeys", "create", "scripts", "--scopes", scopes])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.output.strip().splitlines()[-1]}"}


def gold_members(database: Database, clock: FrozenClock, n: int) -> list[int]:
    ids = []
    with database.unit_of_work() as s:
        for i in range(n):
            c = make_customer(s, clock.now() - dt.timedelta(days=9), name=f"G{i}")
            c.tier, c.language = "gold", "hi" if i % 2 else "en"
            consents.record(s, c, consents.MARKETING, True, channel="till", now=clock.now() - dt.timedelta(days=9))
            ids.append(c.id)
        make_customer(s, clock.now(), name="Silver").tier = "silver"
    return ids


def test_create_start_get_and_the_state_changes(
    app: Flask, client: Any, database: Database, clock: FrozenClock
) -> None:
    app.extensions["bot.sender"] = Recorder()
    gold_members(database, clock, 3)
    auth = api_key(app)
    made = client.post("/api/v1/campaigns", json=BODY, headers=auth)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["status"] == "draft" and body["audience"] == 3
    cid = body["id"]
    started = client.post(f"/api/v1/campaigns/{cid}/start", headers={**auth, "Idempotency-Key": "s1"})
    assert started.status_code == 200 and started.get_json()["status"] == "sending"
    replay = client.post(f"/api/v1/campaigns/{cid}/start", headers={**auth, "Idempotency-Key": "s1"})
    assert replay.headers.get("Idempotent-Replayed") == "true"
    again = client.post(f"/api/v1/campaigns/{cid}/start", headers=auth)
    assert again.status_code == 409 and again.get_json()["code"] == "invalid_transition"
    assert client.post(f"/api/v1/campaigns/{cid}/pause", headers=auth).get_json()["status"] == "paused"
    assert client.post(f"/api/v1/campaigns/{cid}/resume", headers=auth).get_json()["status"] == "sending"
    got = client.get(f"/api/v1/campaigns/{cid}", headers=auth).get_json()
    assert got["counts"] == {"sent": 0, "delivered": 0, "read": 0, "failed": 0, "skipped": 0, "pending": 3}
    flight = client.get(f"/api/v1/campaigns/{cid}/preflight", headers=auth).get_json()
    assert flight["eligible"] == 3 and flight["limit_left"] == 1000 and flight["cost"]["amount"] == "2.58"
    assert client.post(f"/api/v1/campaigns/{cid}/cancel", headers=auth).get_json()["status"] == "cancelled"
    assert client.get(f"/api/v1/campaigns/{cid}", headers=auth).get_json()["counts"]["skipped"] == 3
    listed = client.get("/api/v1/campaigns?limit=1", headers=auth).get_json()
    assert [c["id"] for c in listed["data"]] == [cid] and listed["has_more"] is False


def test_start_refuses_past_the_messaging_limit(
    app: Flask, client: Any, database: Database, clock: FrozenClock
) -> None:
    app.config["MESSAGING_LIMIT_24H"] = "2"
    gold_members(database, clock, 3)
    auth = api_key(app)
    cid = client.post("/api/v1/campaigns", json=BODY, headers=auth).get_json()["id"]
    refused = client.post(f"/api/v1/campaigns/{cid}/start", headers=auth)
    assert refused.status_code == 409
    problem = refused.get_json()
    assert refused.mimetype == "application/problem+json"
    assert problem["code"] == "limit_exceeded" and problem["audience"] == 3 and problem["limit_left"] == 2


def test_bad_input_is_a_validation_problem_never_a_500(app: Flask, client: Any, database: Database) -> None:
    auth = api_key(app)
    for body in (
        {"name": "x"},
        {**BODY, "template": {"name": "t", "language": "fr"}},
        {**BODY, "segment": {"tiers": ["gold"], "colour": "red"}},
        {**BODY, "segment": {"min_points": 10, "max_points": 1}},
        {**BODY, "segment": {"last_purchase_after": "yesterday"}},
    ):
        answer = client.post("/api/v1/campaigns", json=body, headers=auth)
        assert answer.status_code == 400, (body, answer.get_json())
        assert answer.get_json()["code"] == "validation_error"
    assert client.get("/api/v1/campaigns/999", headers=auth).status_code == 404


def test_the_scope_is_needed(app: Flask, client: Any, database: Database) -> None:
    auth = api_key(app, "members:read")
    answer = client.post("/api/v1/campaigns", json=BODY, headers=auth)
    assert answer.status_code == 403 and answer.get_json()["code"] == "forbidden"


def test_the_cli_creates_sends_and_lists(app: Flask, database: Database, clock: FrozenClock) -> None:
    recorder = Recorder()
    app.extensions["bot.sender"] = recorder
    gold_members(database, clock, 4)
    runner = app.test_cli_runner()
    made = runner.invoke(
        args=[
            *("campaigns", "create", "CLI offer", "--template", "offer", "--language", "member"),
            *("--param", "name", "--segment", '{"tiers": ["gold"]}'),
        ]
    )
    assert made.exit_code == 0, made.output
    cid = made.output.strip().splitlines()[-1]
    sent = runner.invoke(args=["campaigns", "send", cid])
    assert sent.exit_code == 0, sent.output
    assert "done" in sent.output and "sent=4" in sent.output
    assert sorted(m.language for _, m in recorder.sent) == ["en", "en", "hi", "hi"]
    listed = runner.invoke(args=["campaigns", "list"])
    assert listed.output.startswith(f"{cid}\tdone")
    again = runner.invoke(args=["campaigns", "pause", cid])
    assert again.exit_code == 1 and "cannot pause" in again.output
    assert runner.invoke(args=["campaigns", "send", "999"]).exit_code == 1
    csv_out = runner.invoke(args=["campaigns", "csv", cid]).output.splitlines()
    assert csv_out[0].startswith("recipient_id,member_id,phone") and len(csv_out) == 5
    results = runner.invoke(args=["campaigns", "results", cid])
    assert '"sent": 4' in results.output


def test_the_openapi_document_lists_the_campaign_endpoints(app: Flask, client: Any) -> None:
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    paths = document["paths"]
    for path in ("", "/{campaign_id}", "/{campaign_id}/start", "/{campaign_id}/pause", "/{campaign_id}/resume"):
        assert f"/api/v1/campaigns{path}" in paths
    assert "/api/v1/campaigns/{campaign_id}/cancel" in paths
