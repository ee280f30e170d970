"""Whose occasion it is today, for each automation: one batch of members at a time, in id order.

Each finder returns ``(last customer id looked at, occasions)``; the runner walks on from the
last id until a batch is empty. A finder leaves out occasions already acted on (an
``automation_occasions`` row), so a rerun the same hour finds nothing; the row's unique key is
what settles a race between two hosts (``domain.automation_runs.fire``).

Who is looked at: members, not erased and not test members. A marketing automation without bonus
points looks only at members whose marketing consent holds now (no queued message that could only
be skipped); with bonus points it looks at every member, and queues the message only for those.
The expiry reminders look at members who accept service messages.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, extract, func, or_, select
from sqlalchemy.orm import Session, aliased

from domain import automation_dates as dates
from domain import marketing
from domain.automation_models import AutomationOccasion
from domain.automations import MARKETING, AutomationSettings
from domain.customers import Customer
from domain.ledger import LedgerEntry
from domain.money import format_money
from domain.rules import TIER_ORDER, ProgramRules
from domain.sales import Order
from domain.tiers import rank, tier_for_spend

CATCH_UP_DAYS = 6  # a win-back whose day passed while the scheduler was down is still sent this many days late
DATE_FORMAT = "%d %b %Y"


@dataclass(frozen=True)
class Context:
    now: dt.datetime
    today: dt.date  # the local calendar day (``rules.timezone``)
    rules: ProgramRules
    step: int | None = None  # which of the automation's days this walk is for (expiry reminders)


@dataclass(frozen=True)
class Occasion:
    customer_id: int
    occasion: str  # the key's last part: a year, a day, an expiry day and its reminder
    consented: bool  # marketing consent holds now: the message may be queued
    fields: Mapping[str, str] = field(default_factory=dict)  # values of ``OCCASION_FIELDS``
    payload: Mapping[str, Any] | None = None  # the service notification's (expiry reminders)


Found = tuple[int, list[Occasion]]
Finder = Callable[[Session, AutomationSettings, Context, int, int], Found]


def _audience(settings: AutomationSettings, now: dt.datetime) -> ColumnElement[bool]:
    base = marketing.member_base()
    if settings.category != MARKETING:
        return and_(base, Customer.opted_in.is_(True))
    if settings.info.takes_bonus and settings.bonus_points > 0:
        return base
    return and_(base, marketing.consented(now))


def _not_done(kind: str, occasion: str) -> ColumnElement[bool]:
    o = AutomationOccasion
    return ~exists().where(o.kind == kind, o.customer_id == Customer.id, o.occasion == occasion)


def _members(
    settings: AutomationSettings, ctx: Context, after: int, batch: int, *where: Any
) -> Select[*tuple[Any, ...]]:
    return (
        select(Customer.id, marketing.consented(ctx.now).label("consented"))
        .where(_audience(settings, ctx.now), Customer.id > after, *where)
        .order_by(Customer.id)
        .limit(batch)
    )


def _last(rows: list[Any], after: int) -> int:
    return int(rows[-1][0]) if rows else after


def birthdays(session: Session, s: AutomationSettings, ctx: Context, after: int, batch: int) -> Found:
    """Members whose birthday (day and month; a year-less one counts) is today: once a year."""
    month, day = extract("month", Customer.birthday), extract("day", Customer.birthday)
    today = or_(*[and_(month == m, day == d) for m, d in dates.born_on(ctx.today)])
    year = str(ctx.today.year)
    stmt = _members(s, ctx, after, batch, Customer.birthday.is_not(None), today, _not_done(s.kind, year))
    rows = list(session.execute(stmt))
    return _last(rows, after), [Occasion(cid, year, bool(ok)) for cid, ok in rows]


def anniversaries(session: Session, s: AutomationSettings, ctx: Context, after: int, batch: int) -> Found:
    """Members who joined on this day in an earlier year: once a year, with how many years."""
    first = session.scalar(select(func.min(Customer.created_at)))
    if first is None:
        return after, []
    first_year = dates.local_now(first, ctx.rules.timezone).year
    spans = [
        dates.day_range(dt.date(y, m, d), ctx.rules.timezone)
        for y in range(first_year, ctx.today.year)
        for m, d in dates.born_on(ctx.today)
        if (m, d) != (2, 29) or calendar.isleap(y)
    ]
    if not spans:
        return after, []
    joined = or_(*[and_(Customer.created_at >= start, Customer.created_at < end) for start, end in spans])
    year = str(ctx.today.year)
    stmt = _members(s, ctx, after, batch, joined, _not_done(s.kind, year)).add_columns(Customer.created_at)
    rows = list(session.execute(stmt))
    found = []
    for cid, ok, created in rows:
        years = ctx.today.year - dates.local_now(created, ctx.rules.timezone).year
        found.append(Occasion(cid, year, bool(ok), {"years": str(years)}))
    return _last(rows, after), found


def winbacks(session: Session, s: AutomationSettings, ctx: Context, after: int, batch: int) -> Found:
    """Members whose last purchase was ``days`` days ago (up to ``CATCH_UP_DAYS`` more): once per lapse."""
    (days,) = s.days
    start, _ = dates.day_range(ctx.today - dt.timedelta(days=days + CATCH_UP_DAYS), ctx.rules.timezone)
    _, end = dates.day_range(ctx.today - dt.timedelta(days=days), ctx.rules.timezone)
    later = aliased(Order)
    bought_since = exists().where(
        later.customer_id == Order.customer_id, later.status == "completed", later.order_date >= end
    )
    last = (
        select(Order.customer_id.label("cid"), func.max(Order.order_date).label("at"))
        .where(Order.status == "completed", Order.order_date >= start, Order.order_date < end, ~bought_since)
        .group_by(Order.customer_id)
        .subquery()
    )
    o = AutomationOccasion
    told = exists().where(o.kind == s.kind, o.customer_id == Customer.id, o.created_at > last.c.at)
    stmt = _members(s, ctx, after, batch, ~told).add_columns(last.c.at).join(last, last.c.cid == Customer.id)
    rows = list(session.execute(stmt))
    found = []
    for cid, ok, at in rows:
        day = dates.local_now(at, ctx.rules.timezone).date()
        found.append(Occasion(cid, day.isoformat(), bool(ok), {"last_purchase_date": day.strftime(DATE_FORMAT)}))
    return _last(rows, after), found


def expiring(session: Session, s: AutomationSettings, ctx: Context, after: int, batch: int) -> Found:
    """Members with points expiring on the local day ``step`` days from today: one reminder per day and step."""
    assert ctx.step is not None
    expires_on = ctx.today + dt.timedelta(days=ctx.step)
    start, end = dates.day_range(expires_on, ctx.rules.timezone)
    occasion = f"{expires_on.isoformat()}:{ctx.step}"
    lots = (
        select(LedgerEntry.customer_id.label("cid"), func.sum(LedgerEntry.remaining).label("points"))
        .add_columns(func.min(LedgerEntry.expires_at).label("first"))
        .where(LedgerEntry.remaining > 0, LedgerEntry.expires_at >= start, LedgerEntry.expires_at < end)
        .where(LedgerEntry.expires_at > ctx.now, LedgerEntry.customer_id > after)
        .group_by(LedgerEntry.customer_id)
        .subquery()
    )
    stmt = _members(s, ctx, after, batch, _not_done(s.kind, occasion)).join(lots, lots.c.cid == Customer.id)
    rows = list(session.execute(stmt.add_columns(lots.c.points, lots.c.first)))
    found = [
        Occasion(cid, occasion, bool(ok), payload={"points": int(points), "expires_at": first.isoformat()})
        for cid, ok, points, first in rows
    ]
    return _last(rows, after), found


def tiers_at_risk(session: Session, s: AutomationSettings, ctx: Context, after: int, batch: int) -> Found:
    """Members above the first tier whose spend at the coming review would put them lower: once per review."""
    review, days_away = dates.review_in_days(ctx.now, ctx.rules.timezone)
    if days_away != s.days[0]:
        return after, []
    since = review - dt.timedelta(days=ctx.rules.tier_window_days)
    spend = (
        select(func.coalesce(func.sum(Order.net_amount - Order.returned_amount), 0))
        .where(Order.customer_id == Customer.id, Order.status == "completed")
        .where(Order.order_date >= since, Order.order_date < review)
        .scalar_subquery()
    )
    occasion = review.date().isoformat()
    stmt = _members(s, ctx, after, batch, Customer.tier != TIER_ORDER[0], _not_done(s.kind, occasion))
    rows = list(session.execute(stmt.add_columns(Customer.tier, spend)))
    thresholds = ctx.rules.tier_thresholds
    found = []
    for cid, ok, tier, amount in rows:
        spent = Decimal(str(amount))
        if tier not in thresholds or rank(tier_for_spend(spent, thresholds)) >= rank(tier):
            continue
        short = format_money(thresholds[tier] - spent, ctx.rules.currency, "en_IN", drop_zero_paise=True)
        fields = {"spend_to_keep": short, "review_date": review.date().strftime(DATE_FORMAT)}
        found.append(Occasion(cid, occasion, bool(ok), fields))
    return _last(rows, after), found


FINDERS: Mapping[str, Finder] = {
    "birthday": birthdays,
    "anniversary": anniversaries,
    "winback": winbacks,
    "expiry": expiring,
    "tier_risk": tiers_at_risk,
}
