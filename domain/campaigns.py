"""Campaigns: create, start, pause, resume, cancel, and what they did.

Invariants:
- Status moves draft → scheduled → sending ⇄ paused → done, or to cancelled from any but done;
  every move is a ``CampaignEvent`` saying who and why (``transition``).
- ``start`` refuses (``CampaignLimitExceeded``) when the eligible audience is more than the
  number's messaging limit left for 24 hours; a campaign with a future ``send_at`` is only
  scheduled, and the sender job starts it when its time comes (the same checks apply then).
- Starting writes every recipient in one ``INSERT ... SELECT`` of the segment's eligible members,
  each with the key ``campaign:<id>:<member>``; (campaign, member) is unique, so a start that runs
  twice (two hosts, a retry) queues nobody twice. Eligibility is checked again just before each
  send (``domain.marketing.why_held``).
- Recipients still pending when a campaign is cancelled are skipped with the reason ``cancelled``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import String, case, cast, func, insert, literal, select, update
from sqlalchemy.orm import Session

from domain import campaign_health, marketing, segments
from domain.campaign_models import (
    CATEGORIES,
    TEMPLATE_LANGUAGES,
    CampaignEvent,
    CampaignRecipient,
    MessageCampaign,
)
from domain.campaign_settings import CampaignSettings
from domain.customers import Customer
from domain.errors import DomainError, InvalidTransition, NotFound, ValidationError
from domain.segments import Segment
from domain.send_policy import failure_rate_reason
from domain.template_fields import FIELDS


class CampaignLimitExceeded(DomainError):
    """The audience is more than the number may reach in the next 24 hours."""

    code = "limit_exceeded"


class CampaignBlocked(DomainError):
    """WhatsApp flagged the number or refused the template: sending now would only hurt the number."""

    code = "campaign_blocked"


# From which statuses each action may be taken.
ALLOWED = {
    "schedule": ("draft",),
    "start": ("draft", "scheduled"),
    "pause": ("scheduled", "sending"),
    "resume": ("paused",),
    "cancel": ("draft", "scheduled", "sending", "paused"),
    "finish": ("sending",),
}
MAX_PARAMETERS = 10


def create(
    session: Session,
    *,
    name: str,
    template_name: str,
    language: str = "en",
    parameters: Sequence[str] = (),
    segment: Segment,
    now: dt.datetime,
    settings: CampaignSettings,
    send_at: dt.datetime | None = None,
    category: str = "marketing",
    ignore_quiet_hours: bool = False,
    actor: str | None = None,
    retarget_of_id: int | None = None,
) -> MessageCampaign:
    """A draft campaign, with its audience counted now."""
    if not name.strip() or len(name.strip()) > 120:
        raise ValidationError("name: a campaign needs a name of at most 120 characters")
    if not template_name.strip() or len(template_name) > 512:
        raise ValidationError("template.name: the approved template's name is required")
    if language not in TEMPLATE_LANGUAGES:
        raise ValidationError(f"template.language: must be one of {', '.join(TEMPLATE_LANGUAGES)}")
    if category not in CATEGORIES:
        raise ValidationError(f"category: must be one of {', '.join(CATEGORIES)}")
    if len(parameters) > MAX_PARAMETERS or any(not str(p).strip() for p in parameters):
        raise ValidationError(
            f"template.parameters: at most {MAX_PARAMETERS}, none empty (fields: {', '.join(FIELDS)})"
        )
    if send_at is not None and send_at.tzinfo is None:
        raise ValidationError("send_at: must carry a time zone offset")
    campaign = MessageCampaign(
        name=name.strip(),
        template_name=template_name.strip(),
        template_language=language,
        template_parameters=[str(p) for p in parameters],
        category=category,
        segment=segment.to_json(),
        send_at=send_at,
        status="draft",
        ignore_quiet_hours=ignore_quiet_hours,
        audience=segments.audience(session, segment, now, settings).eligible,
        retarget_of_id=retarget_of_id,
        created_by=actor,
        created_at=now,
    )
    session.add(campaign)
    session.flush()
    _event(session, campaign, "created", now, actor)
    return campaign


def get(session: Session, campaign_id: int, *, lock: bool = False) -> MessageCampaign:
    stmt = select(MessageCampaign).where(MessageCampaign.id == campaign_id)
    found = session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(f"no campaign {campaign_id}")
    return found


def listing(session: Session, limit: int = 100, after_id: int | None = None) -> list[MessageCampaign]:
    """Newest first."""
    stmt = select(MessageCampaign).order_by(MessageCampaign.id.desc()).limit(limit)
    if after_id is not None:
        stmt = stmt.where(MessageCampaign.id < after_id)
    return list(session.scalars(stmt))


def segment_of(campaign: MessageCampaign) -> Segment:
    return Segment.from_json(campaign.segment)


def transition(
    session: Session,
    campaign: MessageCampaign,
    action: str,
    to: str,
    now: dt.datetime,
    actor: str | None,
    reason: str | None = None,
) -> None:
    if campaign.status not in ALLOWED[action]:
        raise InvalidTransition(f"a {campaign.status} campaign cannot {action}", campaign_status=campaign.status)
    campaign.status = to
    _event(session, campaign, action, now, actor, reason)


def _event(
    session: Session,
    campaign: MessageCampaign,
    action: str,
    now: dt.datetime,
    actor: str | None,
    reason: str | None = None,
) -> None:
    session.add(CampaignEvent(campaign_id=campaign.id, action=action, reason=reason, actor=actor, at=now))


def start(
    session: Session, campaign: MessageCampaign, now: dt.datetime, settings: CampaignSettings, actor: str | None
) -> MessageCampaign:
    """Schedule (a future ``send_at``) or begin sending: recipients are written now, sent by the job."""
    if campaign.status not in ALLOWED["start"]:
        raise InvalidTransition(f"a {campaign.status} campaign cannot start", campaign_status=campaign.status)
    if campaign.send_at is not None and campaign.send_at > now and campaign.status == "draft":
        transition(session, campaign, "schedule", "scheduled", now, actor)
        return campaign
    blocked = campaign_health.number_blocked(session) or campaign_health.template_blocked(
        session, campaign.template_name, campaign.template_language
    )
    if blocked:
        raise CampaignBlocked(f"cannot start: {blocked}")
    segment = segment_of(campaign)
    campaign.audience = segments.audience(session, segment, now, settings).eligible
    left = marketing.messaging_limit_left(session, now, settings)
    if campaign.audience > left:
        raise CampaignLimitExceeded(
            f"the audience of {campaign.audience} is more than the {left} members the number may still "
            f"message in 24 hours (MESSAGING_LIMIT_24H {settings.messaging_limit_24h})",
            audience=campaign.audience,
            limit_left=left,
        )
    transition(session, campaign, "start", "sending", now, actor)
    campaign.started_at = now
    materialise(session, campaign, segment, now, settings)
    return campaign


def materialise(
    session: Session, campaign: MessageCampaign, segment: Segment, now: dt.datetime, settings: CampaignSettings
) -> int:
    """One recipient row per eligible member, in one statement; members already there are left alone."""
    members = segments.eligible_ids(segment, now, settings).where(
        ~Customer.id.in_(select(CampaignRecipient.customer_id).where(CampaignRecipient.campaign_id == campaign.id))
    )
    rows = members.with_only_columns(
        literal(campaign.id),
        Customer.id,
        literal(f"campaign:{campaign.id}:") + cast(Customer.id, String),
        literal("pending"),
        literal(0),
        literal(False),
        literal(now, type_=CampaignRecipient.next_attempt_at.type),
    )
    columns = ["campaign_id", "customer_id", "idempotency_key", "status", "attempts", "unconfirmed", "next_attempt_at"]
    result = session.execute(insert(CampaignRecipient).from_select(columns, rows))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def pause(session: Session, campaign: MessageCampaign, now: dt.datetime, actor: str | None, reason: str) -> None:
    """Stop sending; recipients mid-send finish, the rest wait. ``reason`` is shown in the console."""
    transition(session, campaign, "pause", "paused", now, actor, reason)
    campaign.pause_reason, campaign.paused_at = reason[:300], now


def resume(session: Session, campaign: MessageCampaign, now: dt.datetime, actor: str | None) -> None:
    """Back to sending (a paused campaign that never started is scheduled again)."""
    to = "sending" if campaign.started_at is not None else "scheduled"
    transition(session, campaign, "resume", to, now, actor)
    campaign.pause_reason, campaign.paused_at = None, None


def cancel(session: Session, campaign: MessageCampaign, now: dt.datetime, actor: str | None) -> int:
    """Cancel; returns how many pending recipients were skipped."""
    transition(session, campaign, "cancel", "cancelled", now, actor)
    campaign.finished_at = now
    result = session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status == "pending")
        .values(status="skipped", error_code="cancelled")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def finish_if_done(session: Session, campaign: MessageCampaign, now: dt.datetime) -> bool:
    """A sending campaign with nobody pending or mid-send is done."""
    if campaign.status != "sending":
        return False
    open_rows = session.scalar(
        select(func.count(CampaignRecipient.id)).where(
            CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status.in_(("pending", "sending"))
        )
    )
    if open_rows:
        return False
    transition(session, campaign, "finish", "done", now, None)
    campaign.finished_at = now
    return True


def counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Cumulative counts (a read message was delivered and sent too) and what is still to go."""
    rows = session.execute(
        select(CampaignRecipient.status, func.count(CampaignRecipient.id))
        .where(CampaignRecipient.campaign_id == campaign_id)
        .group_by(CampaignRecipient.status)
    )
    by_status: dict[str, int] = {status: int(n) for status, n in rows}
    read = by_status.get("read", 0)
    delivered = by_status.get("delivered", 0) + read
    return {
        "sent": by_status.get("sent", 0) + delivered,
        "delivered": delivered,
        "read": read,
        "failed": by_status.get("failed", 0),
        "skipped": by_status.get("skipped", 0),
        "pending": by_status.get("pending", 0) + by_status.get("sending", 0),
    }


@dataclass(frozen=True)
class Preflight:
    """The pre-flight box: who gets it, who is held back and why, the limit left, how long, how much."""

    eligible: int
    held_back: dict[str, int]
    limit_left: int
    seconds: int
    cost: Decimal

    @property
    def over_limit(self) -> bool:
        return self.eligible > self.limit_left


def preflight(session: Session, campaign: MessageCampaign, now: dt.datetime, settings: CampaignSettings) -> Preflight:
    found = segments.audience(session, segment_of(campaign), now, settings)
    return Preflight(
        eligible=found.eligible,
        held_back=found.held_back,
        limit_left=marketing.messaging_limit_left(session, now, settings),
        seconds=-(-found.eligible // settings.rate_per_second),
        cost=settings.price(campaign.category) * found.eligible,
    )


def pause_if_sending(session: Session, campaign_id: int, now: dt.datetime, reason: str) -> bool:
    campaign = session.get(MessageCampaign, campaign_id, with_for_update=True)
    if campaign is None or campaign.status not in ALLOWED["pause"]:
        return False
    pause(session, campaign, now, None, reason)
    return True


def start_due(session: Session, now: dt.datetime, settings: CampaignSettings) -> list[int]:
    """Start scheduled campaigns whose time has come; one past the 24-hour limit pauses, saying so."""
    due = session.scalars(
        select(MessageCampaign)
        .where(MessageCampaign.status == "scheduled", MessageCampaign.send_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    started = []
    for campaign in due:
        try:
            with session.begin_nested():
                start(session, campaign, now, settings, None)
            started.append(campaign.id)
        except (CampaignLimitExceeded, CampaignBlocked) as exc:
            pause(session, campaign, now, None, exc.reason)
    return started


def check_failures(session: Session, now: dt.datetime, settings: CampaignSettings) -> list[int]:
    """Pause sending campaigns whose failure rate crossed the threshold; returns their ids."""
    r = CampaignRecipient
    finished = func.sum(case((r.status.in_(("sent", "delivered", "read", "failed")), 1), else_=0))
    failed = func.sum(case((r.status == "failed", 1), else_=0))
    stmt = (
        select(r.campaign_id, failed, finished)
        .join(MessageCampaign, MessageCampaign.id == r.campaign_id)
        .where(MessageCampaign.status == "sending")
        .group_by(r.campaign_id)
    )
    paused = []
    for campaign_id, n_failed, n_finished in session.execute(stmt):
        reason = failure_rate_reason(
            int(n_failed or 0), int(n_finished or 0), settings.failure_pause_percent, settings.failure_min
        )
        if reason and pause_if_sending(session, campaign_id, now, reason):
            paused.append(campaign_id)
    return paused


def finish_done(session: Session, now: dt.datetime) -> list[int]:
    """Sending campaigns with nobody left to send are done."""
    done = []
    for campaign in session.scalars(select(MessageCampaign).where(MessageCampaign.status == "sending")).all():
        if finish_if_done(session, campaign, now):
            done.append(campaign.id)
    return done
