"""WhatsApp's own marketing switch ("Stop promotions" in the chat, the ``user_preferences`` webhook).

A *stop* is a marketing withdrawal in the consent ledger (channel ``stop_promotions``), recorded in
the webhook's transaction like a delivery report. A *resume* only lets WhatsApp deliver marketing
again; it is not consent to ours (DPDP Act s.6: consent is specific and given to us), so it records
nothing: the member says yes to offers in the chat, or at the till.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.inbound import PreferenceUpdate
from domain import consents, user_ids
from domain.customers import Customer

log = logging.getLogger(__name__)


def apply_all(session: Session, updates: Iterable[PreferenceUpdate], now: dt.datetime) -> int:
    """Record every stop; returns how many withdrew a consent."""
    return sum(apply(session, update, now) for update in updates)


def apply(session: Session, update: PreferenceUpdate, now: dt.datetime) -> bool:
    if update.value != "stop":
        log.debug("WhatsApp marketing preference %s: nothing to record", update.value)
        return False
    by = Customer.wa_user_id if user_ids.is_user_id(update.phone) else Customer.phone
    customer = session.scalar(select(Customer).where(by == update.phone).with_for_update())
    if customer is None:
        return False
    # Recorded when it reached us, so ledger rows stay in the order they were written; a redelivery
    # adds no row (a plain repeat).
    return consents.record(session, customer, consents.MARKETING, False, channel="stop_promotions", now=now)
