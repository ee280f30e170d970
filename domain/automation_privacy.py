"""Automations' share of privacy: what they did for a member is in "my data"; erasure keeps the counts.

- Export: every occasion an automation acted on for the member (which automation, the occasion,
  the bonus points, when). The points are in the ledger's part and the messages in the marketing
  part as well.
- Erasure: nothing to forget here. An occasion row holds an automation's name, a year or a day and
  a number of points: no name, phone or message text (the queued message's filled-in parameters
  are cleared by ``domain.campaign_privacy``); and keeping the row means an erased member's
  anonymised account is never given a birthday bonus again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import data_export
from domain.automation_models import AutomationOccasion
from domain.customers import Customer


def register() -> None:
    data_export.register("automations", export_occasions)


def export_occasions(session: Session, customer: Customer) -> list[dict[str, Any]]:
    o = AutomationOccasion
    rows = session.scalars(select(o).where(o.customer_id == customer.id).order_by(o.id))
    return [
        {
            "automation": row.kind,
            "occasion": row.occasion,
            "bonus_points": row.bonus_points,
            "told_by": row.channel,
            "at": row.created_at.isoformat(),
        }
        for row in rows
    ]
