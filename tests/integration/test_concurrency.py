"""Concurrent redemptions: real threads, separate sessions, started together by a barrier.

PostgreSQL is the production database: the customer row lock (SELECT ... FOR
UPDATE) serialises one customer's redemptions and the conditional stock UPDATE
never oversells. SQLite serialises writers with BEGIN IMMEDIATE; a smaller run
checks that it holds there too.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from domain import ledger, rewards
from domain.customers import Customer
from domain.db import Database
from domain.errors import DomainError
from domain.rewards import Redemption, Reward
from tests.domain_factories import NOW, RULES, give_points, make_customer

# Fifty threads at once on a pool of 25 each: these tests share one xdist group, so two of them never
# run side by side and ask PostgreSQL (max_connections 100 by default) for more than it has.
pytestmark = pytest.mark.xdist_group("many_connections")


def run_together(workers: int, task: Callable[[int], str]) -> Counter[str]:
    """Run ``task(i)`` in ``workers`` threads that start at the same instant; count the outcomes."""
    barrier = threading.Barrier(workers)
    results: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        barrier.wait()
        try:
            outcome = task(i)
        except DomainError as exc:
            outcome = type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - an unexpected error must show up in the count
            outcome = f"unexpected {type(exc).__name__}: {exc}"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a redemption hung"
    return Counter(results)


def redeem_task(db: Database, customer_ids: list[int], reward_id: int) -> Callable[[int], str]:
    def task(i: int) -> str:
        with db.unit_of_work() as session:
            rewards.redeem(session, customer_ids[i % len(customer_ids)], reward_id, RULES, NOW)
        return "ok"

    return task


def assert_consistent(db: Database) -> None:
    with db.unit_of_work() as s:
        assert s.scalar(select(func.min(Customer.points_balance))) >= 0
        assert ledger.verify(s) == []


def one_customer_many_redemptions(db: Database, points: int, cost: int, workers: int) -> Counter[str]:
    with db.unit_of_work() as s:
        cid = make_customer(s).id
        give_points(s, cid, points)
        rid = rewards.add_reward(s, name="Coffee", points_cost=cost).id
    return run_together(workers, redeem_task(db, [cid], rid))


def many_customers_small_stock(db: Database, customers: int, stock: int) -> tuple[Counter[str], int | None]:
    with db.unit_of_work() as s:
        ids = [make_customer(s).id for _ in range(customers)]
        for cid in ids:
            give_points(s, cid, 100)
        rid = rewards.add_reward(s, name="Spa day", points_cost=40, stock=stock).id
    outcome = run_together(customers, redeem_task(db, ids, rid))
    with db.unit_of_work() as s:
        return outcome, s.get(Reward, rid).stock  # type: ignore[union-attr]


def test_fifty_redemptions_by_one_customer_with_points_for_ten(pg_database: Database) -> None:
    db = Database(pg_database.url, pool_size=25, max_overflow=0)
    try:
        outcome = one_customer_many_redemptions(db, points=100, cost=10, workers=50)
        assert outcome == Counter({"ok": 10, "InsufficientPoints": 40})
        with db.unit_of_work() as s:
            assert s.scalar(select(func.count(Redemption.id))) == 10
            assert s.scalar(select(Customer.points_balance)) == 0
        assert_consistent(db)
    finally:
        db.dispose()


def test_fifty_customers_against_a_stock_of_five(pg_database: Database) -> None:
    db = Database(pg_database.url, pool_size=25, max_overflow=0)
    try:
        outcome, stock_left = many_customers_small_stock(db, customers=50, stock=5)
        assert outcome == Counter({"ok": 5, "OutOfStock": 45})
        assert stock_left == 0
        with db.unit_of_work() as s:
            assert s.scalar(select(func.count(Redemption.id))) == 5
            assert s.scalar(select(func.sum(Customer.points_balance))) == 50 * 100 - 5 * 40
        assert_consistent(db)
    finally:
        db.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_serialises_concurrent_redemptions(database: Database) -> None:
    outcome = one_customer_many_redemptions(database, points=50, cost=10, workers=12)
    assert outcome == Counter({"ok": 5, "InsufficientPoints": 7})
    outcome, stock_left = many_customers_small_stock(database, customers=10, stock=3)
    assert outcome == Counter({"ok": 3, "OutOfStock": 7})
    assert stock_left == 0
    assert_consistent(database)
