"""Segments: who a campaign is for, as data, compiled to one SQL statement.

Invariants:
- A ``Segment`` is a plain value (``from_json`` / ``to_json``, the JSON stored on the campaign and
  posted to ``/api/v1/campaigns``); every field is optional and the fields AND together.
- ``matches`` is one SQL condition on ``customers`` (correlated EXISTS and IN sub-queries on
  orders and ledger lots, each backed by an index), so counting an audience is one statement
  and never loads members into Python.
- ``audience`` is one ``GROUP BY`` over the segment: how many may be sent to now, and how many
  are held back and why (``domain.marketing.HOLD_REASONS``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, and_, exists, extract, func, select, text, true, type_coerce
from sqlalchemy.orm import Session

from domain import marketing
from domain.campaign_models import CampaignRecipient
from domain.campaign_settings import CampaignSettings
from domain.customers import LANGUAGES, Customer
from domain.errors import ValidationError
from domain.ledger import LedgerEntry
from domain.sales import Order

FIELDS = (
    "tiers",
    "min_points",
    "max_points",
    "languages",
    "last_purchase_before",
    "last_purchase_after",
    "expiring_within_days",
    "spend_min",
    "spend_max",
    "spend_days",
    "stores",
    "affiliate_referred",
    "birthday_months",
    "unread_of_campaign",
)


@dataclass(frozen=True)
class Segment:
    tiers: tuple[str, ...] = ()
    min_points: int | None = None  # points balance, inclusive
    max_points: int | None = None
    languages: tuple[str, ...] = ()
    # Last purchase before: bought at least once, and not since this moment (lapsed). After: bought since.
    last_purchase_before: dt.datetime | None = None
    last_purchase_after: dt.datetime | None = None
    # Has points that expire within this many days.
    expiring_within_days: int | None = None
    # Total spend (net of returns) in the last ``spend_days`` days, in rupees, inclusive.
    spend_min: Decimal | None = None
    spend_max: Decimal | None = None
    spend_days: int = 365
    # Bought at least once at one of these stores (the till names the integration API records).
    stores: tuple[str, ...] = ()
    # True: joined through an affiliate; False: did not; None: either.
    affiliate_referred: bool | None = None
    birthday_months: tuple[int, ...] = field(default=())
    # Got this campaign's message and did not read it ("retarget those who did not read").
    unread_of_campaign: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in FIELDS:
            value = getattr(self, name)
            if value is None or value == () or (name == "spend_days" and value == 365):
                continue
            if isinstance(value, dt.datetime):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Segment:
        """Parse and check; an unknown field or a bad value is a ``ValidationError`` naming it."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise ValidationError(f"unknown segment field(s): {', '.join(unknown)}")
        segment = cls(
            tiers=_strings(data, "tiers"),
            min_points=_int(data, "min_points"),
            max_points=_int(data, "max_points"),
            languages=_strings(data, "languages"),
            last_purchase_before=_moment(data, "last_purchase_before"),
            last_purchase_after=_moment(data, "last_purchase_after"),
            expiring_within_days=_int(data, "expiring_within_days"),
            spend_min=_money(data, "spend_min"),
            spend_max=_money(data, "spend_max"),
            spend_days=_int(data, "spend_days") or 365,
            stores=_strings(data, "stores"),
            affiliate_referred=_bool(data, "affiliate_referred"),
            birthday_months=tuple(_months(data)),
            unread_of_campaign=_int(data, "unread_of_campaign"),
        )
        segment.validate()
        return segment

    def validate(self) -> None:
        bad_language = [lang for lang in self.languages if lang not in LANGUAGES]
        if bad_language:
            raise ValidationError(f"languages: must be among {', '.join(LANGUAGES)}")
        if self.min_points is not None and self.max_points is not None and self.min_points > self.max_points:
            raise ValidationError("min_points: cannot be more than max_points")
        if self.expiring_within_days is not None and not 1 <= self.expiring_within_days <= 3650:
            raise ValidationError("expiring_within_days: must be between 1 and 3650")
        if not 1 <= self.spend_days <= 3650:
            raise ValidationError("spend_days: must be between 1 and 3650")
        if self.spend_min is not None and self.spend_max is not None and self.spend_min > self.spend_max:
            raise ValidationError("spend_min: cannot be more than spend_max")


def _strings(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValidationError(f"{name}: must be a list of names")
    return tuple(v.strip().lower() if name != "stores" else v.strip() for v in value)


def _int(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name}: must be a whole number")
    if value < 0:
        raise ValidationError(f"{name}: cannot be negative")
    return value


def _bool(data: Mapping[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise ValidationError(f"{name}: must be true or false")
    return value


def _moment(data: Mapping[str, Any], name: str) -> dt.datetime | None:
    """An RFC 3339 time, or a date (midnight UTC); a time without an offset is UTC."""
    value = data.get(name)
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{name}: must be a date or an RFC 3339 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _money(data: Mapping[str, Any], name: str) -> Decimal | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, float | bool):
        raise ValidationError(f"{name}: money is a decimal string, never a float")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(f"{name}: must be an amount like 1499.00") from None
    if amount < 0:
        raise ValidationError(f"{name}: cannot be negative")
    return amount


def _months(data: Mapping[str, Any]) -> list[int]:
    value = data.get("birthday_months")
    if value is None:
        return []
    if isinstance(value, int):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(m, int) and 1 <= m <= 12 for m in value):
        raise ValidationError("birthday_months: must be months from 1 to 12")
    return sorted(set(value))


def matches(segment: Segment, now: dt.datetime) -> ColumnElement[bool]:
    """The segment as one condition on ``customers`` (consent and the other rules are ``marketing``'s)."""
    conditions: list[ColumnElement[bool]] = []
    if segment.tiers:
        conditions.append(Customer.tier.in_(segment.tiers))
    if segment.min_points is not None:
        conditions.append(Customer.points_balance >= segment.min_points)
    if segment.max_points is not None:
        conditions.append(Customer.points_balance <= segment.max_points)
    if segment.languages:
        conditions.append(Customer.language.in_(segment.languages))
    if segment.last_purchase_before is not None:
        conditions.append(_bought(since=None) & ~_bought(since=segment.last_purchase_before))
    if segment.last_purchase_after is not None:
        conditions.append(_bought(since=segment.last_purchase_after))
    if segment.expiring_within_days is not None:
        conditions.append(_expiring(now, segment.expiring_within_days))
    if segment.spend_min is not None or segment.spend_max is not None:
        conditions.append(_spend(segment, now))
    if segment.stores:
        conditions.append(_bought(since=None, stores=segment.stores))
    if segment.affiliate_referred is not None:
        referred = Customer.affiliate_id.is_not(None)
        conditions.append(referred if segment.affiliate_referred else ~referred)
    if segment.birthday_months:
        conditions.append(extract("month", Customer.birthday).in_(segment.birthday_months))
    if segment.unread_of_campaign is not None:
        conditions.append(_unread(segment.unread_of_campaign))
    return and_(true(), *conditions)


def _bought(*, since: dt.datetime | None, stores: tuple[str, ...] = ()) -> ColumnElement[bool]:
    conditions = [Order.customer_id == Customer.id, Order.status == "completed"]
    if since is not None:
        conditions.append(Order.order_date >= since)
    if stores:
        conditions.append(Order.store.in_(stores))
    return exists().where(*conditions)


def _unread(campaign_id: int) -> ColumnElement[bool]:
    r = CampaignRecipient
    return exists().where(
        r.campaign_id == campaign_id, r.customer_id == Customer.id, r.status.in_(("sent", "delivered"))
    )


def _expiring(now: dt.datetime, days: int) -> ColumnElement[bool]:
    return exists().where(
        LedgerEntry.customer_id == Customer.id,
        LedgerEntry.remaining > 0,
        LedgerEntry.expires_at > now,
        LedgerEntry.expires_at <= now + dt.timedelta(days=days),
    )


def _spend(segment: Segment, now: dt.datetime) -> ColumnElement[bool]:
    """Total net spend in the window, compared in paise (how ``Money`` stores it)."""
    net = func.sum(type_coerce(Order.net_amount, BigInteger) - type_coerce(Order.returned_amount, BigInteger))
    having: list[ColumnElement[bool]] = []
    if segment.spend_min is not None:
        having.append(net >= int(segment.spend_min * 100))
    if segment.spend_max is not None:
        having.append(net <= int(segment.spend_max * 100))
    spenders = (
        select(Order.customer_id)
        .where(Order.status == "completed", Order.order_date >= now - dt.timedelta(days=segment.spend_days))
        .group_by(Order.customer_id)
        .having(and_(*having))
    )
    if segment.spend_min is None or segment.spend_min == 0:
        # Nobody spent nothing in the window as a row: "at most X" includes members with no orders.
        return ~Customer.id.in_(
            select(Order.customer_id)
            .where(Order.status == "completed", Order.order_date >= now - dt.timedelta(days=segment.spend_days))
            .group_by(Order.customer_id)
            .having(~and_(*having))
        )
    return Customer.id.in_(spenders)


@dataclass(frozen=True)
class Audience:
    eligible: int
    held_back: dict[str, int]  # reason → members, for every reason in ``marketing.HOLD_REASONS``

    @property
    def matching(self) -> int:
        return self.eligible + sum(self.held_back.values())


def audience(
    session: Session, segment: Segment, now: dt.datetime, settings: CampaignSettings, *, include_test: bool = False
) -> Audience:
    """Members of the segment who may get marketing now, and how many are held back by each rule."""
    _no_jit(session)
    reason = marketing.hold_reason(now, settings).label("reason")
    members = (
        select(reason)
        .select_from(Customer)
        .where(marketing.member_base(include_test=include_test), matches(segment, now))
        .offset(0)  # a fence: the reason is worked out once per member, not once per count below
        .subquery()
    )
    # One pass and one aggregate (no sort or hash of a million rows by reason): a count per reason.
    names = (marketing.ELIGIBLE, *marketing.HOLD_REASONS)
    row = session.execute(select(*[func.count().filter(members.c.reason == name) for name in names])).one()
    counts = dict(zip(names, (int(n or 0) for n in row), strict=True))
    return Audience(
        eligible=counts[marketing.ELIGIBLE],
        held_back={r: counts[r] for r in marketing.HOLD_REASONS},
    )


def _no_jit(session: Session) -> None:
    """PostgreSQL's JIT compiles this one-off statement for longer than it runs (1 s of 1.5 s at 200k members)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def eligible_ids(segment: Segment, now: dt.datetime, settings: CampaignSettings) -> Select[int]:
    """The ids of the members to send to now, as one SELECT (for ``INSERT ... SELECT`` of recipients)."""
    return select(Customer.id).where(marketing.eligible(now, settings), matches(segment, now))
