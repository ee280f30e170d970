"""Members for campaign tests in bulk (Core inserts): who consented, who said STOP, who bounced, who is capped.

The consent ledger and the members' cached flags agree, as ``domain.consents.record`` keeps them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import insert

from domain.campaign_models import MarketingMessage, Undeliverable
from domain.consents import Consent
from domain.customers import Customer
from domain.db import Database

KINDS = ("eligible", "no_consent", "stop", "undeliverable", "capped", "once_this_week")


@dataclass
class Seeded:
    phones: dict[str, list[str]] = field(default_factory=dict)
    ids: dict[str, list[int]] = field(default_factory=dict)

    def of(self, *kinds: str) -> list[str]:
        return [p for k in kinds for p in self.phones.get(k, [])]


def seed(db: Database, now: dt.datetime, counts: dict[str, int], *, first: int = 1) -> Seeded:
    """``counts``: how many of each of ``KINDS``; phones are +9170000xxxxx from ``first`` on."""
    seeded, number = Seeded(), first
    joined = now - dt.timedelta(days=60)
    with db.engine.begin() as conn:
        for kind in KINDS:
            rows = []
            for _ in range(counts.get(kind, 0)):
                rows.append(_customer(number, kind, joined))
                number += 1
            if not rows:
                continue
            ids = list(conn.execute(insert(Customer).returning(Customer.id), rows).scalars())
            seeded.ids[kind] = ids
            seeded.phones[kind] = [str(r["phone"]) for r in rows]
            conn.execute(insert(Consent), [c for cid in ids for c in _consents(cid, kind, joined)])
            if kind == "undeliverable":
                code_rows = [
                    {"customer_id": cid, "code": "131026", "marked_at": now - dt.timedelta(days=3)} for cid in ids
                ]
                conn.execute(insert(Undeliverable), code_rows)
            if kind in ("capped", "once_this_week"):
                sent = 2 if kind == "capped" else 1
                conn.execute(insert(MarketingMessage), [_accepted(cid, i, now) for cid in ids for i in range(sent)])
    return seeded


def _customer(number: int, kind: str, joined: dt.datetime) -> dict[str, object]:
    marketing = kind not in ("no_consent", "stop")
    return {
        "phone": f"+9170000{number:05d}",
        "name": f"Member {number}",
        "language": "hi" if number % 3 == 0 else "en",
        "source": "demo",
        "referral_code": f"S{number:07d}",
        "created_at": joined,
        "tier": "gold" if number % 2 else "silver",
        "points_balance": number % 500,
        "points_owed": 0,
        "points_held": 0,
        "lifetime_points": number % 500,
        "opted_in": kind != "stop",
        # The flags are the newest ledger rows' (``_consents``): a STOP came ten days after joining.
        "opt_in_changed_at": joined + dt.timedelta(days=10) if kind == "stop" else joined,
        "opt_in_source": "whatsapp",
        "marketing_opt_in": marketing,
        "marketing_changed_at": None
        if kind == "no_consent"
        else joined + dt.timedelta(days=10 if kind == "stop" else 0),
        "is_test": False,
    }


def _consents(customer_id: int, kind: str, joined: dt.datetime) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [_consent(customer_id, "service", True, joined)]
    if kind != "no_consent":
        rows.append(_consent(customer_id, "marketing", True, joined))
    if kind == "stop":  # typed STOP: service and marketing withdrawn at one moment
        later = joined + dt.timedelta(days=10)
        rows += [_consent(customer_id, "service", False, later), _consent(customer_id, "marketing", False, later)]
    return rows


def _consent(customer_id: int, purpose: str, granted: bool, at: dt.datetime) -> dict[str, object]:
    return {
        "customer_id": customer_id,
        "purpose": purpose,
        "granted": granted,
        "channel": "whatsapp",
        "recorded_at": at,
    }


def _accepted(customer_id: int, i: int, now: dt.datetime) -> dict[str, object]:
    at = now - dt.timedelta(days=1 + i)
    return {
        "customer_id": customer_id,
        "origin": "automation",
        "idempotency_key": f"seed:{customer_id}:{i}",
        "template_name": "earlier",
        "template_language": "en",
        "template_parameters": [],
        "status": "sent",
        "attempts": 1,
        "created_at": at,
        "last_attempt_at": at,
        "accepted_at": at,
    }
