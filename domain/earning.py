"""Earn rules: how many points an order is worth. Pure functions plus campaigns.

Rounding rule (docs/POLICIES.md): the order's eligible amount is
``sum(line amount x category multiplier)``, times the tier multiplier, times the
multipliers of every campaign running on the order date, converted at
``points_per_unit`` per ``spend_unit``; the exact product is computed in
``Decimal`` and rounded **down once**, per order, to whole points. Campaign
bonus points are added after rounding. Nothing is rounded per line, so splitting
a bill never earns more or less.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import BindParameter, ColumnElement, Date, Numeric, String, and_, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime, utcnow
from domain.errors import ValidationError
from domain.rules import ProgramRules


class Campaign(Base):
    """A date-ranged bonus: a multiplier and/or flat bonus points, optionally for one category."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    multiplier: Mapped[Decimal] = mapped_column(Numeric(6, 3, asdecimal=True), default=Decimal("1"))
    bonus_points: Mapped[int] = mapped_column(default=0)
    category: Mapped[str | None] = mapped_column(String(120))
    min_amount: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class Line:
    amount: Decimal
    category: str | None = None


@dataclass(frozen=True)
class CampaignTerms:
    multiplier: Decimal
    bonus_points: int = 0
    category: str | None = None
    min_amount: Decimal = Decimal(0)
    name: str = ""


def points_for_order(
    rules: ProgramRules,
    net_amount: Decimal,
    lines: Sequence[Line],
    tier: str,
    campaigns: Iterable[CampaignTerms] = (),
) -> int:
    """Points earned by an order of ``net_amount`` (after discounts, before returns).

    Lines only weight the amount by category; when they do not add up to the net
    amount (discounts on the bill), each line's share is scaled to it.
    """
    if net_amount <= 0:
        return 0
    campaigns = list(campaigns)
    numerator, denominator = _weighted_amount(rules, net_amount, lines, campaigns)
    numerator *= rules.tier_multipliers.get(tier, Decimal(1)) * rules.points_per_unit
    exact = numerator / (denominator * rules.spend_unit)
    points = int(exact.to_integral_value(rounding=ROUND_FLOOR))
    return max(points, 0) + _campaign_bonus(net_amount, lines, campaigns)


def _campaign_bonus(net_amount: Decimal, lines: Sequence[Line], campaigns: Iterable[CampaignTerms]) -> int:
    """Flat bonus points, once per order per campaign; a category campaign needs a line in it."""
    categories = {_category(line) for line in lines if line.amount > 0}
    return sum(
        c.bonus_points
        for c in campaigns
        if net_amount >= c.min_amount and (c.category is None or c.category.strip().lower() in categories)
    )


def _category(line: Line) -> str | None:
    return (line.category or "").strip().lower() or None


def _weighted_amount(
    rules: ProgramRules, net_amount: Decimal, lines: Sequence[Line], campaigns: Sequence[CampaignTerms]
) -> tuple[Decimal, Decimal]:
    """The multiplied amount as an exact fraction ``(numerator, denominator)``.

    Dividing only once, at the end, keeps 100 INR split over three lines worth
    exactly 100 INR: a per-line share of 33.33... would floor a point away.
    """
    line_total = sum((line.amount for line in lines if line.amount > 0), Decimal(0))
    if line_total <= 0:
        lines, line_total = [Line(net_amount)], net_amount
    total = Decimal(0)
    for line in lines:
        if line.amount <= 0:
            continue
        category = _category(line)
        mult = rules.category_multipliers.get(category, Decimal(1)) if category else Decimal(1)
        for c in campaigns:
            if net_amount >= c.min_amount and (c.category is None or c.category.strip().lower() == category):
                mult *= c.multiplier
        total += line.amount * mult
    return total * net_amount, line_total


def points_kept_after_return(points_awarded: int, net_amount: Decimal, returned_amount: Decimal) -> int:
    """Points an order still deserves once ``returned_amount`` of it came back.

    Proportional and rounded down, computed on the cumulative returned amount so
    that several partial returns take back exactly what one full return would.
    """
    if net_amount <= 0 or returned_amount >= net_amount:
        return 0
    kept = Decimal(points_awarded) * (net_amount - max(returned_amount, Decimal(0))) / net_amount
    return int(kept.to_integral_value(rounding=ROUND_FLOOR))


def running_campaigns(session: Session, day: dt.date) -> list[CampaignTerms]:
    """Active campaigns whose date range (inclusive, shop-local days) covers ``day``."""
    rows = session.connection().execute(_RUNNING, {"day": day})  # plain rows: no ORM objects to load
    return [
        CampaignTerms(Decimal(str(multiplier)), bonus, category, Decimal(minimum), name)
        for multiplier, bonus, category, minimum, name in rows
    ]


def running_on(day: dt.date | BindParameter[dt.date]) -> ColumnElement[bool]:
    """The condition for a campaign running on ``day`` (shop-local, inclusive)."""
    return and_(Campaign.active.is_(True), Campaign.starts_on <= day, Campaign.ends_on >= day)


# Built once, and columns rather than objects: every sale asks, and most days the answer is no rows.
_RUNNING = select(
    Campaign.multiplier, Campaign.bonus_points, Campaign.category, Campaign.min_amount, Campaign.name
).where(running_on(bindparam("day")))


def validate_campaign(name: str, starts_on: dt.date, ends_on: dt.date, multiplier: Decimal, bonus_points: int) -> None:
    if not name.strip():
        raise ValidationError("a campaign needs a name")
    if ends_on < starts_on:
        raise ValidationError("a campaign cannot end before it starts")
    if multiplier < 1 and bonus_points <= 0:
        raise ValidationError("a campaign must give a multiplier of at least 1 or bonus points")
