"""Members for the WhatsApp campaign console tests: consented, held back for each reason, and a campaign to look at."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from domain import consents, marketing
from domain.audit import AuditEntry
from domain.campaign_models import CampaignRecipient, MessageCampaign
from domain.db import Database
from tests.domain_factories import make_customer
from tests.fakes import FrozenClock

FORM: dict[str, Any] = {
    "name": "Gold weekend",
    "template_name": "double_points",
    "language": "member",
    "category": "marketing",
    "parameters-0-source": "name",
    "parameters-1-source": "points",
    "when": "now",
    "tiers": ["gold"],
}


def members(database: Database, clock: FrozenClock, tier: str = "gold", n: int = 3) -> list[int]:
    """``n`` members of ``tier`` who consented to marketing nine days ago."""
    ids = []
    with database.unit_of_work() as s:
        for i in range(n):
            c = make_customer(s, clock.now() - dt.timedelta(days=9), name=f"{tier.title()} {i}")
            c.tier = tier
            consents.record(s, c, consents.MARKETING, True, channel="till", now=clock.now() - dt.timedelta(days=9))
            ids.append(c.id)
    return ids


def held_back(database: Database, clock: FrozenClock) -> None:
    """One gold member held back by each reason: no consent, STOP, undeliverable, the weekly cap."""
    long_ago = clock.now() - dt.timedelta(days=9)
    with database.unit_of_work() as s:
        make_customer(s, long_ago, name="No consent").tier = "gold"
        stop = make_customer(s, long_ago, name="Stopped")
        stop.tier = "gold"
        consents.record(s, stop, consents.MARKETING, True, channel="till", now=long_ago)
        consents.record(s, stop, consents.MARKETING, False, channel="stop_promotions", now=clock.now())
        for name in ("Undeliverable", "Capped"):
            c = make_customer(s, long_ago, name=name)
            c.tier = "gold"
            consents.record(s, c, consents.MARKETING, True, channel="till", now=long_ago)
            if name == "Undeliverable":
                marketing.mark_undeliverable(s, c.id, "131026", clock.now())
                continue
            for k in range(2):
                marketing.record_accepted(
                    s,
                    c.id,
                    key=f"earlier:{c.id}:{k}",
                    campaign_id=None,
                    template=("earlier", "en", []),
                    wamid=f"wamid.E{c.id}{k}",
                    now=clock.now() - dt.timedelta(hours=2),
                )


def campaign(database: Database, campaign_id: int) -> MessageCampaign:
    with database.unit_of_work() as s:
        found = s.get(MessageCampaign, campaign_id)
    assert found is not None
    return found


def only_campaign(database: Database) -> MessageCampaign:
    with database.unit_of_work() as s:
        found = list(s.scalars(select(MessageCampaign)))
    assert len(found) == 1, found
    return found[0]


def audits(database: Database, prefix: str) -> list[AuditEntry]:
    with database.unit_of_work() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id)))


def set_statuses(database: Database, campaign_id: int, statuses: list[tuple[str, str | None]], at: dt.datetime) -> None:
    """Move the campaign's recipients (in id order) to these statuses, as the sender and webhooks would."""
    with database.unit_of_work() as s:
        rows = list(
            s.scalars(
                select(CampaignRecipient)
                .where(CampaignRecipient.campaign_id == campaign_id)
                .order_by(CampaignRecipient.id)
            )
        )
        for row, (status, code) in zip(rows, statuses, strict=False):
            row.status, row.error_code = status, code
            if status in ("sent", "delivered", "read"):
                row.sent_at, row.wamid = at, f"wamid.C{row.id}"
            if status in ("delivered", "read"):
                row.delivered_at = at
            if status == "read":
                row.read_at = at
            if status == "failed":
                row.failed_at = at
