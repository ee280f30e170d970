"""Who may get a marketing message now, and the one way to queue one.

Invariants:
- A member gets marketing only while all of these hold (``eligible``): the consent ledger's
  newest marketing row at this moment grants it (``domain.consents.consented_at``; STOP and
  WhatsApp's "Stop promotions" are withdrawals there); the member is not erased and not a test
  member (test sends aside); their number has not answered 131026 in ``undeliverable_days``;
  and fewer than ``marketing_cap_per_week`` marketing messages to them were accepted by the
  Graph API in the last 7 days, counting campaigns and automations together.
- ``hold_reason`` gives the first of those that fails, in one SQL expression, so a count of
  who is held back and why is one ``GROUP BY``; ``eligible`` is the same rules as a condition.
- ``queue_message`` queues at most one message per idempotency key, ever: a second call with
  the key returns the first row, so an automation run twice, or on two hosts, sends once.
- Nothing here commits; the caller's unit of work does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from domain import consents
from domain.campaign_models import MarketingMessage, Undeliverable
from domain.campaign_settings import CampaignSettings, in_quiet_hours, quiet_until
from domain.consents import Consent
from domain.customers import Customer
from domain.errors import ValidationError

WEEK = dt.timedelta(days=7)
DAY = dt.timedelta(days=1)
ELIGIBLE = "eligible"
# Why a member is held back, in the order they are tested (the first that applies is the one counted).
HOLD_REASONS = ("stop", "no_consent", "undeliverable", "capped")
ORIGINS = ("campaign", "automation", "test")


def consented(now: dt.datetime, *, exact: bool = False) -> ColumnElement[bool]:
    """Marketing consent at ``now``.

    Counting over every member reads the members' flags, which ``consents.record`` writes as the
    cache of the ledger's newest row in the same transaction (``loyalty verify`` checks that they
    agree): one column, so a million members count in well under a second. ``exact`` reads the
    ledger's newest row for each member itself (``consents.consented_at``, one index look-up per
    member): the check just before each send, which is what decides.
    """
    if not exact:
        return Customer.marketing_opt_in.is_(True)
    newest = (
        select(Consent.granted)
        .where(Consent.customer_id == Customer.id, Consent.purpose == consents.MARKETING, Consent.recorded_at <= now)
        .order_by(Consent.recorded_at.desc(), Consent.id.desc())
        .limit(1)
        .correlate(Customer)
        .scalar_subquery()
    )
    return newest.is_(True)


def stopped(now: dt.datetime) -> ColumnElement[bool]:
    """The member's newest marketing row is a STOP: WhatsApp's "Stop promotions", or STOP typed in the chat
    (which withdraws service and marketing at one moment). Only withdrawals are read, so it stays cheap."""
    service = aliased(Consent)
    typed_stop = exists().where(
        service.customer_id == Consent.customer_id,
        service.purpose == consents.SERVICE,
        service.granted.is_(False),
        service.recorded_at == Consent.recorded_at,
    )
    member = aliased(Customer)
    # ``marketing_changed_at`` is the time of the newest marketing row (``consents.record`` sets both).
    stops = (
        select(Consent.customer_id)
        .join(member, and_(member.id == Consent.customer_id, member.marketing_changed_at == Consent.recorded_at))
        .where(
            Consent.purpose == consents.MARKETING,
            Consent.granted.is_(False),
            Consent.recorded_at <= now,
            or_(Consent.channel == "stop_promotions", typed_stop),
        )
    )
    return Customer.id.in_(stops)


def undeliverable(now: dt.datetime, settings: CampaignSettings) -> ColumnElement[bool]:
    since = now - dt.timedelta(days=settings.undeliverable_days)
    return exists().where(Undeliverable.customer_id == Customer.id, Undeliverable.marked_at > since)


def capped(now: dt.datetime, settings: CampaignSettings) -> ColumnElement[bool]:
    """At or over the weekly cap (accepted marketing messages in the last 7 days)."""
    if settings.marketing_cap_per_week <= 0:
        return true()
    over = (
        select(MarketingMessage.customer_id)
        .where(MarketingMessage.accepted_at > now - WEEK)
        .group_by(MarketingMessage.customer_id)
        .having(func.count(MarketingMessage.id) >= settings.marketing_cap_per_week)
    )
    return Customer.id.in_(over)


def member_base(*, include_test: bool = False) -> ColumnElement[bool]:
    """Members at all: not erased, and not test members unless this is a test send."""
    alive = Customer.erased_at.is_(None)
    return alive if include_test else and_(alive, Customer.is_test.is_(False))


def hold_reason(now: dt.datetime, settings: CampaignSettings, *, exact: bool = False) -> ColumnElement[str]:
    """``"eligible"`` or the first reason in ``HOLD_REASONS`` that holds the member back (``exact``: see
    ``consented``)."""
    return case(
        (~consented(now, exact=exact), case((stopped(now), literal("stop")), else_=literal("no_consent"))),
        (undeliverable(now, settings), literal("undeliverable")),
        (capped(now, settings), literal("capped")),
        else_=literal(ELIGIBLE),
    )


def eligible(now: dt.datetime, settings: CampaignSettings, *, include_test: bool = False) -> ColumnElement[bool]:
    """Everything a member must be to get marketing at ``now`` (quiet hours aside: they are about the clock)."""
    return and_(
        member_base(include_test=include_test),
        consented(now),
        ~undeliverable(now, settings),
        ~capped(now, settings),
    )


def why_held(
    session: Session, customer_id: int, now: dt.datetime, settings: CampaignSettings, *, include_test: bool = False
) -> str | None:
    """None if the member may get marketing now, else the reason (``erased``/``test`` or a ``HOLD_REASONS``)."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.erased_at is not None:
        return "erased"
    if customer.is_test and not include_test:
        return "test"
    reason = session.scalar(select(hold_reason(now, settings, exact=True)).where(Customer.id == customer_id))
    if include_test and reason == "capped":
        return None  # a test send is not counted against staff
    return None if reason == ELIGIBLE else reason


def may_send_now(settings: CampaignSettings, now: dt.datetime, *, ignore_quiet_hours: bool = False) -> bool:
    """Outside quiet hours in Asia/Kolkata, or told to ignore them."""
    return ignore_quiet_hours or not in_quiet_hours(settings.quiet_hours, now)


def next_send_time(settings: CampaignSettings, now: dt.datetime, *, ignore_quiet_hours: bool = False) -> dt.datetime:
    return now if ignore_quiet_hours else quiet_until(settings.quiet_hours, now)


def queue_message(
    session: Session,
    customer_id: int,
    template_name: str,
    language: str,
    parameters: Sequence[str],
    *,
    key: str,
    now: dt.datetime,
    origin: str = "automation",
    not_before: dt.datetime | None = None,
) -> MarketingMessage:
    """Queue one marketing template message to one member, once per ``key`` for ever.

    ``parameters`` are the body's ``{{1}}``, ``{{2}}`` ... as final text (fill them with
    ``domain.template_fields.fill``) and ``language`` is the template's language code. The
    campaign sender (``bot.campaign_sender``) sends it at the shared pace, checks ``why_held``
    just before sending (so a member who said STOP in between, or reached the cap, is skipped
    with the reason), and never outside quiet hours. A second call with the same key returns
    the first row unchanged, whatever its state.
    """
    if origin not in ORIGINS:
        raise ValidationError(f"origin must be one of {', '.join(ORIGINS)}")
    if not template_name.strip():
        raise ValidationError("a marketing message needs a template name")
    found = session.scalar(select(MarketingMessage).where(MarketingMessage.idempotency_key == key))
    if found is not None:
        return found
    row = MarketingMessage(
        customer_id=customer_id,
        origin=origin,
        idempotency_key=key,
        template_name=template_name.strip(),
        template_language=language,
        template_parameters=[str(p) for p in parameters],
        status="pending",
        attempts=0,
        next_attempt_at=not_before or now,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # The same key queued at the same moment elsewhere (another host's scheduler): theirs stands.
        winner = session.scalar(select(MarketingMessage).where(MarketingMessage.idempotency_key == key))
        if winner is None:
            raise
        return winner
    return row


def record_accepted(
    session: Session,
    customer_id: int,
    *,
    key: str,
    campaign_id: int | None,
    template: tuple[str, str, Sequence[str]],
    wamid: str | None,
    now: dt.datetime,
) -> None:
    """A campaign's message was accepted by the Graph API: it now counts toward the cap and the 24-hour limit."""
    name, language, parameters = template
    if session.scalar(select(MarketingMessage.id).where(MarketingMessage.idempotency_key == key)) is not None:
        return
    session.add(
        MarketingMessage(
            customer_id=customer_id,
            origin="campaign",
            campaign_id=campaign_id,
            idempotency_key=key,
            template_name=name,
            template_language=language,
            template_parameters=list(parameters),
            status="sent",
            wamid=wamid,
            attempts=1,
            created_at=now,
            accepted_at=now,
        )
    )


def mark_undeliverable(session: Session, customer_id: int, code: str, now: dt.datetime) -> None:
    """The number answered 131026: leave it out of marketing for ``undeliverable_days``."""
    row = session.get(Undeliverable, customer_id)
    if row is None:
        session.add(Undeliverable(customer_id=customer_id, code=code, marked_at=now))
    else:
        row.code, row.marked_at = code, max(row.marked_at, now)


def accepted_last_week(session: Session, customer_id: int, now: dt.datetime) -> int:
    stmt = select(func.count(MarketingMessage.id)).where(
        MarketingMessage.customer_id == customer_id, MarketingMessage.accepted_at > now - WEEK
    )
    return int(session.scalar(stmt) or 0)


def members_messaged_24h(session: Session, now: dt.datetime) -> int:
    """Unique members whose marketing message the Graph API accepted in the last 24 hours."""
    stmt = select(func.count(func.distinct(MarketingMessage.customer_id))).where(
        MarketingMessage.accepted_at > now - DAY
    )
    return int(session.scalar(stmt) or 0)


def messaging_limit_left(session: Session, now: dt.datetime, settings: CampaignSettings) -> int:
    """How many more members the number may reach in this 24-hour window (``MESSAGING_LIMIT_24H``)."""
    return max(settings.messaging_limit_24h - members_messaged_24h(session, now), 0)


def last_attempt_to(session: Session, customer_id: int) -> dt.datetime | None:
    """When a marketing message to this member was last accepted (the 6-second pair limit)."""
    return session.scalar(
        select(func.max(MarketingMessage.accepted_at)).where(MarketingMessage.customer_id == customer_id)
    )
