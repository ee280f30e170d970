"""The bot's scheduled work (run by the scheduler process, never inside web workers)."""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import business_number, conversations, fast_retry, outbox, pipeline, status
from bot.models import Conversation
from bot.retry import RetryPolicy
from bot.sender import Sender, deliver_many, dispatcher, send_now, sender_for, sender_threads
from domain.customers import Customer
from domain.db import Database
from domain.notifications import Notification
from runtime import services

log = logging.getLogger(__name__)

BATCH = 200
SEND_BATCH = 50


def retry_outbox(app: Flask) -> Counter[str]:
    """Send every row that is due: new ones the web worker could not send, backed-off retries,
    and rows whose sender died mid-attempt. Rows are claimed one by one, so running
    beside the web workers' sender threads never sends a message twice.

    Each Graph API call waits a round trip, so after an outage the backlog is sent on
    ``BOT_SENDER_THREADS`` threads at once; all rows of one phone go to the same thread,
    in order, so a customer's replies still arrive in the order they were written. Rows that
    failed for the first time here get their fast retries from this process (``bot.fast_retry``);
    stale chat replies are expired, not sent (``bot.retry``).
    """
    db, snd, policy = services.database(app), sender_for(app), fast_retry.retry_policy(app)
    results: Counter[str] = Counter()
    lanes = sender_threads(app.config)
    after = 0
    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="outbox-retry") as pool:
        while True:
            with db.unit_of_work() as session:
                rows = outbox.due_rows(session, services.now(app), limit=BATCH, after_id=after)
            if not rows:
                break
            by_lane: dict[int, list[int]] = {}
            for outbox_id, phone in rows:
                by_lane.setdefault(zlib.crc32(phone.encode()) % lanes, []).append(outbox_id)
            futures = [
                pool.submit(_deliver_in_order, db, snd, ids, lambda: services.now(app), policy)
                for ids in by_lane.values()
            ]
            for future, ids in zip(futures, by_lane.values(), strict=True):
                outcome = future.result()
                results.update(outcome.get(i, "skipped") for i in ids)
                fast_retry.retry_soon(app, outcome, dispatcher(app).submit)
            after = rows[-1][0]
    if results["sent"] or results["failed"] or results["retry"] or results["expired"]:
        log.info("outbox retry: %s", dict(results))
    return results


def _deliver_in_order(
    db: Database, snd: Sender, ids: list[int], now: Callable[[], Any], policy: RetryPolicy
) -> dict[int, str]:
    outcome: dict[int, str] = {}
    for start in range(0, len(ids), SEND_BATCH):
        outcome.update(deliver_many(db, snd, ids[start : start + SEND_BATCH], now, policy=policy))
    return outcome


def refresh_business_number(app: Flask) -> business_number.BusinessNumber:
    """Read the business's display number from the Graph API into the settings (``bot.business_number``);
    the scheduler runs it when it starts and every few hours. A failure is recorded, never raised."""
    with services.database(app).unit_of_work() as session:
        found = business_number.refresh(session, sender_for(app), services.now(app), app.config)
    if not found.known:
        log.warning("WhatsApp business number unknown: %s", found.problem)
    return found


def apply_early_statuses(app: Flask) -> tuple[int, int]:
    """Delivery reports that overtook the recording of their message's WhatsApp id (``bot.status``)."""
    with services.database(app).unit_of_work() as session:
        applied, dropped = status.apply_early(session, services.now(app))
    if applied or dropped:
        log.info("early delivery reports: %d applied, %d dropped after a day unmatched", applied, dropped)
    return applied, dropped


STRANDED_AFTER = dt.timedelta(seconds=30)  # well past what a live handler thread needs


def handle_stranded(app: Flask) -> int:
    """Handle inbound messages still ``received`` after ``STRANDED_AFTER``: their worker died, or the
    database failed while handling them. Claiming makes this safe beside live handler threads."""
    db, config = services.database(app), app.config
    with db.unit_of_work() as session:
        batch = pipeline.stranded(session, services.now(app) - STRANDED_AFTER)  # the next run takes any more
    handled = 0
    for item in batch:
        replies = pipeline.handle_through(db, item, services.now(app), config)
        send_now(app, replies)
        handled += 1
    if handled:
        log.warning("handled stored messages of %d number(s) that no handler thread had taken", handled)
    return handled


def dispatch_notifications(app: Flask) -> Counter[str]:
    """Turn pending domain notifications into outbox rows, then try to send them."""
    db, config = services.database(app), app.config
    results: Counter[str] = Counter()
    after = 0
    while True:
        with db.unit_of_work() as session:
            batch = _pending_after(session, after)
            for notification in batch:
                results[dispatch_one(session, notification, services.now(app), config)] += 1
        if not batch:
            break
        after = batch[-1].id
    if results:
        log.info("notifications: %s", dict(results))
        retry_outbox(app)
    return results


def _pending_after(session: Session, after: int) -> list[Notification]:
    stmt = (
        select(Notification)
        .where(Notification.status == "pending", Notification.id > after)
        .order_by(Notification.id)
        .limit(BATCH)
    )
    return list(session.scalars(stmt))


def dispatch_one(session: Session, notification: Notification, now: dt.datetime, config: Mapping[str, Any]) -> str:
    """Skip (with the reason), or enqueue the in-window message or else the approved template."""
    customer = session.get(Customer, notification.customer_id)
    if customer is None or not customer.opted_in:
        return _close(notification, "skipped", now, "customer not opted in" if customer else "customer not found")
    try:
        with session.begin_nested():
            message = _render(session, notification, customer, now, config)
            outbox.enqueue(
                session,
                customer.phone,
                message,
                key=f"notification:{notification.id}",
                now=now,
                customer_id=customer.id,
                origin="notification",
            )
    except Exception as exc:
        log.exception("notification %d could not be rendered", notification.id)
        return _close(notification, "skipped", now, f"render failed: {type(exc).__name__}")
    return _close(notification, "dispatched", now)


def _render(
    session: Session, notification: Notification, customer: Customer, now: dt.datetime, config: Mapping[str, Any]
) -> Any:
    from bot import notify

    reply, template = notify.render(session, notification, customer, config)
    conv = session.get(Conversation, customer.phone)
    return reply if conv is not None and conversations.window_open(conv, now) else template


def _close(notification: Notification, status: str, now: dt.datetime, reason: str | None = None) -> str:
    notification.status = status
    notification.status_reason = reason
    notification.dispatched_at = now if status == "dispatched" else None
    return status
