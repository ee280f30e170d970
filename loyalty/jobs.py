"""The domain's scheduled work, one committed batch at a time."""

from __future__ import annotations

import logging

from flask import Flask

from domain import expiry, rewards, tiers
from domain.rules import load_rules
from domain.system import beat
from loyalty import services

log = logging.getLogger(__name__)


def heartbeat(app: Flask) -> None:
    with services.database(app).unit_of_work() as session:
        beat(session, "scheduler", services.now(app))


def expire_points(app: Flask) -> int:
    total = 0
    while True:
        with services.database(app).unit_of_work() as session:
            done = expiry.expire_due(session, services.now(app))
        total += done
        if done == 0:
            break
    if total:
        log.info("expired %d lots of points", total)
    return total


def warn_expiring(app: Flask) -> int:
    after, total = 0, 0
    while True:
        with services.database(app).unit_of_work() as session:
            last, warned = expiry.warn_expiring(session, load_rules(session), services.now(app), after_id=after)
        total += warned
        if last == after:
            return total
        after = last


def expire_vouchers(app: Flask) -> int:
    total = 0
    while True:
        with services.database(app).unit_of_work() as session:
            done = rewards.expire_vouchers(session, services.now(app))
        total += done
        if done == 0:
            return total


def review_tiers(app: Flask) -> int:
    after, total = 0, 0
    while True:
        with services.database(app).unit_of_work() as session:
            last, changed = tiers.review(session, load_rules(session), services.now(app), after_id=after)
        total += changed
        if last == after:
            return total
        after = last
