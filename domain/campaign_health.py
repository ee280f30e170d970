"""The number's health and the templates' reviews, from Meta's webhooks: a reason to stop sending.

Invariants:
- A quality webhook saying the number is FLAGGED or RED (or was downgraded) pauses every
  scheduled or sending campaign, with the event as the reason; the number's last state is kept
  (``settings`` key ``whatsapp_health``) for the pre-flight box, and ``start`` refuses while it is bad.
- A template review of REJECTED, PAUSED, DISABLED (or a RED template quality) pauses the
  campaigns that use that template (any language unless the webhook names one).
- Nothing resumes by itself: a person reads the reason and resumes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.campaign_models import CampaignEvent, MessageCampaign
from domain.rules import Setting

KEY = "whatsapp_health"
BAD_QUALITY = ("FLAGGED", "RED", "DOWNGRADE")
GOOD_QUALITY = ("UNFLAGGED", "GREEN", "UPGRADE")
BAD_TEMPLATE = ("REJECTED", "PAUSED", "DISABLED", "RED", "PENDING_DELETION")
ACTIVE = ("scheduled", "sending")


def state(session: Session) -> dict[str, Any]:
    """``{"quality": {"event","at","reason"}, "templates": {"name:lang": {"event","at","reason"}}}``."""
    row = session.get(Setting, KEY)
    return dict(row.value) if row else {"quality": None, "templates": {}}


def _save(session: Session, value: dict[str, Any]) -> None:
    row = session.get(Setting, KEY, with_for_update=True)
    if row is None:
        session.add(Setting(key=KEY, value=value, updated_by="whatsapp"))
    else:
        row.value = value


def number_blocked(session: Session) -> str | None:
    """Why campaigns may not start now (the number is flagged), or None."""
    quality = state(session).get("quality") or {}
    event = quality.get("event")
    return f"the number's quality is {event}" if event in BAD_QUALITY else None


def template_blocked(session: Session, name: str, language: str) -> str | None:
    """Why this template may not be sent now, or None."""
    templates = state(session).get("templates") or {}
    for key in (f"{name}:{language}", f"{name}:*"):
        found = templates.get(key) or {}
        if found.get("event") in BAD_TEMPLATE:
            return f"template {name} is {found['event']}"
    return None


def on_quality(session: Session, event: str, now: dt.datetime, reason: str | None = None) -> list[int]:
    """Record the number's quality; pause active campaigns when it is bad. Returns the paused ids."""
    value = state(session)
    value["quality"] = {"event": event, "at": now.isoformat(), "reason": reason}
    _save(session, value)
    if event not in BAD_QUALITY:
        return []
    why = f"the number's quality is {event}" + (f": {reason}" if reason else "")
    return _pause(session, select(MessageCampaign).where(MessageCampaign.status.in_(ACTIVE)), now, why)


def on_template(
    session: Session, name: str, language: str | None, event: str, now: dt.datetime, reason: str | None = None
) -> list[int]:
    """Record a template's review; pause the active campaigns sending it when it is bad."""
    value = state(session)
    templates = dict(value.get("templates") or {})
    templates[f"{name}:{language or '*'}"] = {"event": event, "at": now.isoformat(), "reason": reason}
    value["templates"] = templates
    _save(session, value)
    if event not in BAD_TEMPLATE:
        return []
    stmt = select(MessageCampaign).where(MessageCampaign.status.in_(ACTIVE), MessageCampaign.template_name == name)
    if language:
        stmt = stmt.where(MessageCampaign.template_language.in_((language, "member")))
    why = f"template {name} is {event}" + (f": {reason}" if reason else "")
    return _pause(session, stmt, now, why)


def _pause(session: Session, stmt: Any, now: dt.datetime, reason: str) -> list[int]:
    paused = []
    for campaign in session.scalars(stmt.with_for_update()).all():
        # ``campaigns.pause`` without the import (``campaigns.start`` asks this module first).
        campaign.status, campaign.pause_reason, campaign.paused_at = "paused", reason[:300], now
        session.add(CampaignEvent(campaign_id=campaign.id, action="pause", reason=reason, actor="whatsapp", at=now))
        paused.append(campaign.id)
    return paused
