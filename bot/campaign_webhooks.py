"""Webhook updates about campaign messages and the number: delivery reports, quality, template reviews.

Called inside the webhook's transaction (``bot.webhook``), like the outbox's delivery reports:
a report about a campaign message moves its recipient (``domain.campaign_results``); any other
report goes on to the outbox. A bad quality rating or a refused template pauses campaigns
(``domain.campaign_health``).
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.inbound import AccountEvent, StatusUpdate, Update
from bot.models import EarlyStatus
from domain import campaign_health, campaign_results
from domain.campaign_models import CampaignRecipient, MarketingMessage
from runtime import services

log = logging.getLogger(__name__)


def apply(session: Session, update: Update, now: dt.datetime) -> list[StatusUpdate]:
    """Apply what concerns campaigns; returns the delivery reports that were about other messages."""
    for event in update.account_events:
        apply_event(session, event, now)
    return [report for report in update.statuses if not apply_report(session, report, now)]


def apply_report(session: Session, report: StatusUpdate, now: dt.datetime) -> bool:
    """Apply one delivery report if it is about a campaign's or an automation's message (True), else leave it."""
    return campaign_results.apply_status(
        session,
        report.wa_message_id,
        report.status,
        report.at or now,
        error_code=report.error_code,
        error=report.error,
        tracker=report.tracker,
    )


def apply_event(session: Session, event: AccountEvent, now: dt.datetime) -> list[int]:
    if event.kind == "quality":
        paused = campaign_health.on_quality(session, event.event, now, event.reason)
    elif event.template_name:
        paused = campaign_health.on_template(
            session, event.template_name, event.template_language, event.event, now, event.reason
        )
    else:
        return []
    if paused:
        log.warning("WhatsApp %s %s: paused campaign(s) %s", event.kind, event.event, paused)
    return paused


def apply_early(session: Session, now: dt.datetime, wamids: list[str] | None = None) -> int:
    """Reports that came before the sender had written their message's WhatsApp id (kept by ``bot.status``):
    applied once the id is there. ``wamids``: only those (the sender, right after writing them)."""
    known = select(CampaignRecipient.wamid).where(CampaignRecipient.wamid == EarlyStatus.wa_message_id)
    known_message = select(MarketingMessage.wamid).where(MarketingMessage.wamid == EarlyStatus.wa_message_id)
    stmt = select(EarlyStatus).where(known.exists() | known_message.exists()).order_by(EarlyStatus.id).limit(1000)
    if wamids is not None:
        if not wamids:
            return 0
        stmt = stmt.where(EarlyStatus.wa_message_id.in_(wamids))
    kept = list(session.scalars(stmt))
    for report in kept:
        update = StatusUpdate(report.wa_message_id, report.status, report.at, report.error_code, report.error)
        apply_report(session, update, now)
    if kept:
        session.execute(delete(EarlyStatus).where(EarlyStatus.id.in_([r.id for r in kept])))
    return len(kept)


def apply_early_statuses(app: Flask) -> int:
    """Scheduler job: early reports for campaign messages whose id a sender wrote meanwhile."""
    with services.database(app).unit_of_work() as session:
        return apply_early(session, services.now(app))
