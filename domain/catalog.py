"""The live reward catalog, a page at a time, as tills and web shops list it.

A reward is live while it is active and inside its window (``Reward.is_live``); the filter runs in the
database so a page holds ``limit`` live rewards. Order: cheapest first, then by id, the order the
chat lists them in; a cursor is the id of the last reward seen.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from domain.errors import ValidationError
from domain.rewards import Reward


def live_page(session: Session, now: dt.datetime, limit: int, after_id: int | None = None) -> list[Reward]:
    stmt = select(Reward).where(
        Reward.active.is_(True),
        or_(Reward.starts_at.is_(None), Reward.starts_at <= now),
        or_(Reward.ends_at.is_(None), Reward.ends_at > now),
    )
    if after_id is not None:
        anchor = session.get(Reward, after_id)
        if anchor is None:
            raise ValidationError("not a cursor of this list", field="starting_after")
        stmt = stmt.where(
            or_(
                Reward.points_cost > anchor.points_cost,
                and_(Reward.points_cost == anchor.points_cost, Reward.id > anchor.id),
            )
        )
    return list(session.scalars(stmt.order_by(Reward.points_cost, Reward.id).limit(limit)))
