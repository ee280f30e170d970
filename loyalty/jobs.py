"""The domain's scheduled work, one committed batch at a time."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

from domain import automation_runs, expiry, holds, idempotency, rewards, tiers
from domain.rules import load_rules
from domain.system import beat
from runtime import services

log = logging.getLogger(__name__)


def heartbeat(app: Flask) -> None:
    with services.database(app).unit_of_work() as session:
        beat(session, "scheduler", services.now(app))


def _until_empty(app: Flask, batch: Callable[[Session], int]) -> int:
    """Run ``batch`` in its own transaction until it finds nothing to do."""
    total = 0
    while True:
        with services.database(app).unit_of_work() as session:
            done = batch(session)
        total += done
        if done == 0:
            return total


def _by_customer_id(app: Flask, batch: Callable[[Session, int], tuple[int, int]]) -> int:
    """Walk customers in id order, one committed batch at a time; ``batch`` returns (last id, count)."""
    after, total = 0, 0
    while True:
        with services.database(app).unit_of_work() as session:
            last, count = batch(session, after)
        total += count
        if last == after:
            return total
        after = last


def expire_points(app: Flask) -> int:
    total = _until_empty(app, lambda session: expiry.expire_due(session, services.now(app)))
    if total:
        log.info("expired %d lots of points", total)
    return total


def run_automations(app: Flask) -> Counter[str]:
    """Lifecycle automations (birthday, anniversary, win-back, expiry reminders, tier at risk), each once
    per member per occasion; safe beside another scheduler on another host."""
    done = automation_runs.run_automations(services.database(app).unit_of_work, services.now(app))
    if done:
        log.info("automations: %s", dict(done))
    return done


def expire_vouchers(app: Flask) -> int:
    return _until_empty(app, lambda session: rewards.expire_vouchers(session, services.now(app)))


def review_tiers(app: Flask) -> int:
    return _by_customer_id(
        app, lambda session, after: tiers.review(session, load_rules(session), services.now(app), after_id=after)
    )


def expire_holds(app: Flask) -> int:
    """Give back the points of holds (payments at a till) that passed their time unconfirmed or uncaptured."""
    total = _until_empty(app, lambda session: holds.expire_due(session, services.now(app)))
    if total:
        log.info("released %d expired holds", total)
    return total


def purge_idempotency(app: Flask) -> int:
    """Forget stored Idempotency-Key answers once they are older than they must be kept (24 h and more)."""
    return _until_empty(app, lambda session: idempotency.purge(session, services.now(app)))
