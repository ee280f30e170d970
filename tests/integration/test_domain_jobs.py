"""The domain's scheduled jobs through the app: expiry, warnings, vouchers, tier review, heartbeat."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from flask import Flask

from domain import consents, rewards
from domain.customers import Customer
from domain.db import Database
from domain.rewards import Redemption
from domain.system import last_beat
from loyalty import jobs
from loyalty.scheduler import job_table
from tests.domain_factories import RULES, balance, give_points, make_customer, notifications, record_order
from tests.fakes import FrozenClock

DAY = dt.timedelta(days=1)


def test_jobs_run_to_completion_in_batches(app: Flask, database: Database, clock: FrozenClock) -> None:
    now = clock.now()
    with database.unit_of_work() as s:
        made = [make_customer(s, now) for _ in range(3)]
        ids = [c.id for c in made]
        for c in made:
            consents.record(s, c, consents.SERVICE, True, channel="whatsapp", now=now)
        for cid in ids:
            give_points(s, cid, 10, now=now, expires_at=now + 7 * DAY)
            give_points(s, cid, 200, now=now, expires_at=now + 400 * DAY)
        rid = rewards.add_reward(s, name="Mug", points_cost=100).id
        red_id = rewards.redeem(s, ids[0], rid, RULES, now).id
        record_order(s, ids[1], "O-1", "30000", when=now - 300 * DAY, now=now)
    # The redemption spent customer 0's soonest-expiring lot, so only two customers have points expiring.
    # The expiry reminders (an automation, on by default) remind 7 days ahead.
    assert jobs.run_automations(app) == Counter(expiry=2)
    assert jobs.run_automations(app) == Counter()
    clock.advance(days=7)
    assert jobs.expire_points(app) == 2
    assert jobs.expire_points(app) == 0
    clock.advance(days=30)
    assert jobs.expire_vouchers(app) == 1
    clock.advance(days=100)
    assert jobs.review_tiers(app) == 1
    jobs.heartbeat(app)
    with database.unit_of_work() as s:
        assert [len(notifications(s, cid, "points_expiring")) for cid in ids] == [0, 1, 1]
        assert balance(s, ids[0]) == (210, 0)  # 210 - 100 redeemed + 100 refunded by the voucher's expiry
        assert balance(s, ids[2]) == (200, 0)
        assert s.get(Redemption, red_id).status == "expired"  # type: ignore[union-attr]
        assert s.get(Customer, ids[1]).tier == "silver"  # type: ignore[union-attr]
        beat = last_beat(s, "scheduler")
        assert beat is not None and beat.beat_at == clock.now()


def test_the_domain_jobs_are_scheduled(app: Flask) -> None:
    names = {name for name, _, _ in job_table(app)}
    assert {"expire_points", "run_automations", "expire_vouchers", "review_tiers", "heartbeat"} <= names
    assert {"retry_outbox", "handle_stranded", "apply_early_statuses", "dispatch_notifications"} <= names
