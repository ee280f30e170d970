"""Retention: members inactive for ``PrivacySettings.inactive_years`` are warned, then erased.

Off by default (``inactive_years = 0``). A member's last activity is the latest of joining, a
message to the bot and a purchase. The warning is a service notification (WhatsApp, in the
member's language, only if they accept service messages); ``retention_warning_hours`` later, a
member still inactive since the warning is erased exactly as on request, through a data request
of channel ``retention`` handled by ``automatic``. Any activity after the warning cancels it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.orm import Session

from domain import data_requests, erasure
from domain.customers import Customer
from domain.notifications import notify
from domain.privacy_settings import PrivacySettings
from domain.sales import Order

BATCH = 200


def years_before(now: dt.datetime, years: int) -> dt.datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def _last_order() -> Select[Any]:
    return select(func.max(Order.order_date)).where(Order.customer_id == Customer.id)


def _inactive_before(cutoff: dt.datetime) -> list[ColumnElement[bool]]:
    last_order = _last_order().scalar_subquery()
    return [
        Customer.erased_at.is_(None),
        Customer.created_at < cutoff,
        or_(Customer.last_active_at.is_(None), Customer.last_active_at < cutoff),
        or_(last_order.is_(None), last_order < cutoff),
    ]


def warn_inactive(session: Session, settings: PrivacySettings, now: dt.datetime, after_id: int = 0) -> tuple[int, int]:
    """One batch of warnings in id order; returns (last id looked at, warnings recorded)."""
    if settings.inactive_years <= 0:
        return after_id, 0
    cutoff = years_before(now, settings.inactive_years)
    erase_on = now + dt.timedelta(hours=settings.retention_warning_hours)
    stmt = (
        select(Customer)
        .where(Customer.id > after_id, Customer.retention_warned_at.is_(None), *_inactive_before(cutoff))
        .order_by(Customer.id)
        .limit(BATCH)
    )
    found = list(session.scalars(stmt))
    for customer in found:
        customer.retention_warned_at = now
        notify(
            session,
            customer.id,
            "retention_warning",
            key=f"retention:{customer.id}:{now.date().isoformat()}",
            payload={"erase_on": erase_on.isoformat(), "years": settings.inactive_years},
            now=now,
        )
    return (found[-1].id if found else after_id), len(found)


def cancel_stale_warnings(session: Session) -> int:
    """Members who came back after their warning are no longer due for erasure."""
    stmt = (
        update(Customer)
        .where(
            Customer.retention_warned_at.is_not(None),
            Customer.last_active_at.is_not(None),
            Customer.last_active_at > Customer.retention_warned_at,
        )
        .values(retention_warned_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def erase_inactive(session: Session, settings: PrivacySettings, now: dt.datetime, *, hash_key: str) -> int:
    """One batch of erasures of members warned long enough ago and inactive since; returns how many."""
    if settings.inactive_years <= 0:
        return 0
    warned_by = now - dt.timedelta(hours=settings.retention_warning_hours)
    last_order = _last_order().scalar_subquery()
    stmt = (
        select(Customer)
        .where(
            Customer.erased_at.is_(None),
            Customer.retention_warned_at.is_not(None),
            Customer.retention_warned_at <= warned_by,
            or_(Customer.last_active_at.is_(None), Customer.last_active_at <= Customer.retention_warned_at),
            or_(last_order.is_(None), and_(last_order <= Customer.retention_warned_at)),
        )
        .order_by(Customer.id)
        .limit(BATCH)
    )
    done = 0
    for customer in list(session.scalars(stmt)):
        request = data_requests.open_request(
            session, customer, "erasure", channel="retention", now=now, settings=settings
        )
        erasure.erase_for(session, request, now=now, actor="automatic", hash_key=hash_key, reason="retention")
        done += 1
    return done
