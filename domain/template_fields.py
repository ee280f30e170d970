"""A template's ``{{1}}``, ``{{2}}``... filled from the member: the fields a campaign or automation may name.

A parameter that is one of ``FIELDS`` is the member's value; anything else is literal text,
sent as written. WhatsApp refuses an empty parameter, so a missing value becomes a dash
(a member without a name is "there": "Hi there").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from domain.customers import Customer
from domain.expiry import expiring_soon

FIELDS = ("name", "points", "tier", "expiring_points", "expiry_date", "referral_code")
EXPIRY_HORIZON_DAYS = 30  # "expiring points" are those expiring within this many days
NO_NAME = {"en": "there", "hi": "दोस्त"}
MAX_PARAMETER = 1024  # WhatsApp's limit for one body parameter


def template_language(campaign_language: str, customer: Customer) -> str:
    """``member`` means each member's own language; otherwise the campaign's."""
    return customer.language if campaign_language == "member" else campaign_language


def fill(session: Session, customer: Customer, parameters: Sequence[str], now: dt.datetime) -> list[str]:
    """Each parameter as the text to send this member."""
    expiring = None
    if any(p in ("expiring_points", "expiry_date") for p in parameters):
        expiring = expiring_soon(session, customer.id, now, EXPIRY_HORIZON_DAYS)
    values = {
        "name": (customer.name or "").strip() or NO_NAME.get(customer.language, NO_NAME["en"]),
        "points": str(customer.points_balance),
        "tier": customer.tier.title(),
        "expiring_points": str(expiring.points if expiring else 0),
        "expiry_date": expiring.expires_at.date().strftime("%d %b %Y") if expiring else "-",
        "referral_code": customer.referral_code,
    }
    return [(values.get(p, p).strip() or "-")[:MAX_PARAMETER] for p in parameters]
