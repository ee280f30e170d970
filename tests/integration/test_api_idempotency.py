"""``Idempotency-Key`` on every POST: replays, reuse with another body, a retry while the first runs; the ERP."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from api import transactions
from domain import ledger
from domain.db import Database
from domain.sales import Order
from domain.sync_runs import SyncRequest
from tests.fakes import FrozenClock
from tests.integration.api_support import Api, api_key, member, problem, reward, till


def sale(member_id: int, order_id: str = "POS-1", amount: str = "1000.00") -> dict[str, Any]:
    return {"order_id": order_id, "member_id": member_id, "amount": amount}


def test_the_same_key_and_body_replay_the_first_answer(app: Flask, client: Any, database: Database) -> None:
    cid = member(database)
    api = till(app, client)
    first = api.post("/api/v1/transactions", sale(cid), key="k-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = api.post("/api/v1/transactions", sale(cid), key="k-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    spaced = client.post(
        "/api/v1/transactions",
        data=f'{{ "amount": "1000.00",  "member_id": {cid}, "order_id": "POS-1" }}',
        content_type="application/json",
        headers={**api.headers, "Idempotency-Key": "k-1"},
    )
    assert spaced.status_code == 201 and spaced.headers["Idempotent-Replayed"] == "true"
    reused = problem(
        api.post("/api/v1/transactions", sale(cid, amount="2000.00"), key="k-1"), 422, "idempotency_key_reused"
    )
    assert "k-1" in reused["detail"]
    problem(
        api.post("/api/v1/returns", {"return_id": "R", "order_id": "POS-1", "amount": "1"}, key="k-1"),
        422,
        "idempotency_key_reused",
    )
    with database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        assert ledger.verify(s) == []


def test_refusals_are_replayed_too_and_keys_belong_to_their_holder(app: Flask, client: Any, database: Database) -> None:
    cid, rid = member(database, 50), reward(database, 100)
    api = till(app, client)
    short = api.post(f"/api/v1/members/{cid}/redemptions", {"reward_id": rid}, key="r-1")
    problem(short, 422, "insufficient_points")
    other = Api(client, api_key(app, name="second-till"))
    assert other.post(f"/api/v1/members/{cid}/adjustments", {"points": 100, "reason": "top up"}).status_code == 201
    replay = api.post(f"/api/v1/members/{cid}/redemptions", {"reward_id": rid}, key="r-1")
    problem(replay, 422, "insufficient_points")
    assert replay.headers["Idempotent-Replayed"] == "true"
    # The same key from another caller is that caller's own request.
    theirs = other.post(f"/api/v1/members/{cid}/redemptions", {"reward_id": rid}, key="r-1")
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "ключ"])
def test_a_malformed_key_is_refused(app: Flask, client: Any, database: Database, key: str) -> None:
    cid = member(database)
    headers = {**till(app, client).headers, "Idempotency-Key": key}
    response = client.post("/api/v1/transactions", json=sale(cid), headers=headers)
    problem(response, 400, "validation_error", "Idempotency-Key")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/members", {"phone": "9812345670"}),
        ("/api/v1/members/{cid}/adjustments", {"points": 5, "reason": "x"}),
        ("/api/v1/holds", {"member_id": "{cid}", "points": 10}),
        ("/api/v1/erp/sync", {}),
    ],
)
def test_every_post_replays(app: Flask, client: Any, database: Database, path: str, body: dict[str, Any]) -> None:
    cid = member(database, 100)
    api = till(app, client)
    body = {k: (cid if v == "{cid}" else v) for k, v in body.items()}
    first = api.post(path.format(cid=cid), body, key="same")
    again = api.post(path.format(cid=cid), body, key="same")
    assert first.status_code < 300, first.get_json()
    assert (again.status_code, again.get_json()) == (first.status_code, first.get_json())
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_retry_while_the_first_runs_is_request_in_progress(
    pg_database: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the first request holds its transaction open while the retry arrives."""
    from loyalty import create_app
    from tests.conftest import app_config

    pg_app = create_app(app_config(pg_database.url))
    pg_app.extensions["loyalty.clock"] = clock
    cid = member(pg_database)
    api = Api(pg_app.test_client(), api_key(pg_app))
    entered, go_on = threading.Event(), threading.Event()
    real = transactions.direct_sales.record_sale

    def slow(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert go_on.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(transactions.direct_sales, "record_sale", slow)
    answers: list[Any] = []
    first = threading.Thread(target=lambda: answers.append(api.post("/api/v1/transactions", sale(cid), key="slow")))
    first.start()
    assert entered.wait(30)
    busy = problem(
        Api(pg_app.test_client(), api.headers).post("/api/v1/transactions", sale(cid), key="slow"),
        409,
        "request_in_progress",
    )
    assert busy["code"] == "request_in_progress"
    go_on.set()
    first.join(30)
    assert answers[0].status_code == 201
    replay = api.post("/api/v1/transactions", sale(cid), key="slow")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    pg_app.extensions["loyalty.db"].dispose()


def test_erp_status_and_sync_now(app: Flask, client: Any, database: Database) -> None:
    api = till(app, client, "erp:run")
    status = api.get("/api/v1/erp/status")
    assert status.status_code == 200, status.get_json()
    body = status.get_json()
    assert set(body) == {"entities", "runs", "requests"} and body["runs"] == [] and body["requests"] == []
    assert set(body["entities"]) >= {"customers", "products", "orders", "returns"}
    queued = api.post("/api/v1/erp/sync", {"entities": ["orders"]})
    assert queued.status_code == 202, queued.get_json()
    assert queued.get_json()["status"] == "queued" and queued.get_json()["entities"] == ["orders"]
    again = api.post("/api/v1/erp/sync", {"entities": ["orders"]})
    assert again.status_code == 202 and again.get_json()["id"] == queued.get_json()["id"]
    assert [r["id"] for r in api.get("/api/v1/erp/status").get_json()["requests"]] == [queued.get_json()["id"]]
    problem(api.post("/api/v1/erp/sync", {"entities": ["stock"]}), 400, "validation_error", "entities.0")
    problem(api.post("/api/v1/erp/sync", {"full": "yes"}), 400, "validation_error", "full")
    with database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(SyncRequest)) == 1
