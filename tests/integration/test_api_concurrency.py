"""PostgreSQL, real threads with their own sessions: the API and the chat racing on one member.

Fifty requests at once (holds, captures, releases, API and chat redemptions) never spend a point that
is not there nor sell stock that is not there, and ``loyalty verify``'s checks stay clean; twenty
retries of one sale at once award once, with one Idempotency-Key and with twenty.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from domain import holds, ledger, rewards
from domain.customers import Customer
from domain.db import Database
from domain.errors import DomainError
from domain.holds import Hold
from domain.rewards import Redemption, Reward
from domain.sales import Order
from tests.conftest import app_config
from tests.domain_factories import NOW, RULES
from tests.fakes import FrozenClock
from tests.integration.api_support import ALL_SCOPES, api_key, member, reward

# Fifty threads at once on a pool of 25 each: these tests share one xdist group, so two of them never
# run side by side and ask PostgreSQL (max_connections 100 by default) for more than it has.
pytestmark = pytest.mark.xdist_group("many_connections")

CODE = "428193"


@pytest.fixture
def pg_app(pg_database: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    from loyalty import create_app

    monkeypatch.setattr(holds, "new_code", lambda: CODE)
    app = create_app(app_config(pg_database.url))
    app.extensions["loyalty.clock"] = clock
    app.extensions["loyalty.db"].dispose()
    # Fifty requests queue on 25 connections, as on a deployed worker, not on 50 of the server's 100 slots.
    app.extensions["loyalty.db"] = Database(pg_database.url, pool_size=25, max_overflow=0)
    yield app
    app.extensions["loyalty.db"].dispose()


def together(tasks: list[Callable[[], str]]) -> Counter[str]:
    """Run every task in its own thread, all released at the same instant; count the outcomes."""
    barrier, lock, results = threading.Barrier(len(tasks)), threading.Lock(), Counter[str]()

    def run(task: Callable[[], str]) -> None:
        barrier.wait()
        try:
            outcome = task()
        except DomainError as exc:
            outcome = exc.code
        except Exception as exc:  # noqa: BLE001 - an unexpected error must show in the count
            outcome = f"unexpected {type(exc).__name__}: {exc}"
        with lock:
            results[outcome] += 1

    threads = [threading.Thread(target=run, args=(task,)) for task in tasks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a request hung"
    return results


def poster(app: Flask, headers: dict[str, str], label: str, path: str, body: dict[str, Any], **extra: str) -> Any:
    def task() -> str:
        answer = app.test_client().post(path, json=body, headers={**headers, **extra})
        code = answer.get_json().get("code") if answer.status_code >= 400 else "ok"
        return f"{label} {answer.status_code} {code}"

    return task


def test_fifty_mixed_spends_on_one_member(pg_app: Flask, pg_database: Database) -> None:
    db = pg_database
    cid, rid = member(db, 1000), reward(db, 100, stock=5)
    headers = api_key(pg_app, ALL_SCOPES)
    client = pg_app.test_client()
    opened = []
    for _ in range(20):  # 400 points held, 600 available
        hold = client.post("/api/v1/holds", json={"member_id": cid, "points": 20}, headers=headers).get_json()
        assert (
            client.post(f"/api/v1/holds/{hold['id']}/verify", json={"code": CODE}, headers=headers).status_code == 200
        )
        opened.append(hold["id"])

    def chat(i: int) -> Callable[[], str]:
        def task() -> str:
            with db.unit_of_work() as s:
                rewards.redeem(s, cid, rid, RULES, NOW, key=f"redeem:wa:wamid.{i}")
            return "chat ok"

        return task

    tasks = (
        [poster(pg_app, headers, "capture", f"/api/v1/holds/{h}/capture", {}) for h in opened[:8]]
        + [poster(pg_app, headers, "capture-again", f"/api/v1/holds/{h}/capture", {}) for h in opened[:2]]
        + [poster(pg_app, headers, "release", f"/api/v1/holds/{h}/release", {}) for h in opened[10:20]]
        + [poster(pg_app, headers, "redeem", f"/api/v1/members/{cid}/redemptions", {"reward_id": rid})] * 10
        + [chat(i) for i in range(10)]
        + [poster(pg_app, headers, "hold", "/api/v1/holds", {"member_id": cid, "points": 100})] * 10
    )
    assert len(tasks) == 50
    outcomes = together(tasks)
    allowed = {
        "capture 200 ok", "capture 409 hold_not_open", "capture-again 200 ok", "capture-again 409 hold_not_open",
        "release 200 ok",
        "redeem 201 ok", "redeem 409 out_of_stock", "redeem 422 insufficient_points",
        "chat ok", "out_of_stock", "insufficient_points", "hold 201 ok", "hold 422 insufficient_points",
    }  # fmt: skip
    assert set(outcomes) <= allowed, outcomes
    assert outcomes["capture 200 ok"] + outcomes["capture-again 200 ok"] == 8
    assert outcomes["release 200 ok"] == 10
    issued = outcomes["redeem 201 ok"] + outcomes["chat ok"]
    with db.unit_of_work() as s:
        customer = s.get_one(Customer, cid)
        captured = s.scalar(select(func.coalesce(func.sum(Hold.captured_points), 0)))
        open_points = s.scalar(select(func.coalesce(func.sum(Hold.points), 0)).where(Hold.status.in_(holds.OPEN)))
        stock = s.get_one(Reward, rid).stock
        vouchers = s.scalar(select(func.count()).select_from(Redemption))
        assert captured == 8 * 20 and stock is not None and stock >= 0 and vouchers == issued == 5 - stock
        assert customer.points_balance == 1000 - captured - 100 * vouchers
        assert customer.points_held == open_points == 2 * 20 + 100 * outcomes["hold 201 ok"]  # holds 8 and 9 stay held
        assert customer.points_balance - customer.points_held >= 0
        assert ledger.verify(s) == [] and holds.verify(s) == []
    assert pg_app.test_cli_runner().invoke(args=["loyalty", "verify"]).exit_code == 0


@pytest.mark.parametrize("same_key", [True, False], ids=["one-key", "twenty-keys"])
def test_twenty_retries_of_one_sale_award_once(pg_app: Flask, pg_database: Database, same_key: bool) -> None:
    cid = member(pg_database)
    headers = api_key(pg_app, "transactions:write")
    body = {"order_id": "POS-77", "member_id": cid, "amount": "1000.00"}
    tasks = [
        poster(
            pg_app, headers, "sale", "/api/v1/transactions", body, **{"Idempotency-Key": "k" if same_key else f"k{i}"}
        )
        for i in range(20)
    ]
    outcomes = together(tasks)
    assert outcomes["sale 201 ok"] >= 1 and set(outcomes) <= {
        "sale 201 ok",
        "sale 200 ok",
        "sale 409 request_in_progress",
    }
    if not same_key:
        assert outcomes == Counter({"sale 201 ok": 1, "sale 200 ok": 19})
    with pg_database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        assert s.get_one(Customer, cid).points_balance == 10
        assert ledger.verify(s) == []
    again = {**headers, "Idempotency-Key": "k" if same_key else "k0"}
    replay = pg_app.test_client().post("/api/v1/transactions", json=body, headers=again)
    assert replay.status_code in (200, 201) and replay.headers["Idempotent-Replayed"] == "true"
