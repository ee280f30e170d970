"""Campaigns' share of privacy: what marketing a member got (in "my data"), and what erasure forgets.

- Export: every marketing message and campaign the member was sent, with its status and times.
- Erasure: queued marketing messages are skipped (never sent to anyone), the filled-in template
  parameters (which can hold the name) are removed, and WhatsApp ids are dropped; counts stay
  (a status, a time, an error code are statistics, not personal data).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domain import data_export, erasure
from domain.campaign_models import CampaignRecipient, MarketingMessage, MessageCampaign
from domain.customers import Customer
from domain.erasure import Erased


def register() -> None:
    erasure.register("campaigns", forget)
    data_export.register("marketing_messages", export_marketing)


def forget(session: Session, erased: Erased) -> None:
    m, r = MarketingMessage, CampaignRecipient
    session.execute(
        update(m)
        .where(m.customer_id == erased.customer_id, m.status == "pending")
        .values(status="skipped", error_code="erased")
    )
    session.execute(update(m).where(m.customer_id == erased.customer_id).values(template_parameters=[], wamid=None))
    session.execute(
        update(r)
        .where(r.customer_id == erased.customer_id, r.status == "pending")
        .values(status="skipped", error_code="erased")
    )
    session.execute(update(r).where(r.customer_id == erased.customer_id).values(wamid=None))


def export_marketing(session: Session, customer: Customer) -> list[dict[str, Any]]:
    m = MarketingMessage
    stmt = (
        select(m, MessageCampaign.name)
        .join(MessageCampaign, MessageCampaign.id == m.campaign_id, isouter=True)
        .where(m.customer_id == customer.id)
        .order_by(m.id)
    )
    return [
        {
            "template": row.template_name,
            "language": row.template_language,
            "campaign": name,
            "origin": row.origin,
            "status": row.status,
            "queued_at": row.created_at.isoformat(),
            "accepted_at": row.accepted_at.isoformat() if row.accepted_at else None,
        }
        for row, name in session.execute(stmt)
    ]
