"""A campaign's template sent to staff numbers first, to see it on a real phone before the members do.

Invariants:
- Only test members get a test send: a number nobody uses becomes a test member
  (``Customer.is_test``, left out of reports, totals and every campaign's audience); a real
  customer's number is refused, so a "test" never becomes a way round a member's consent or cap.
- A test member who never answered the marketing question is recorded as consenting through the
  console, by the staff member who typed the number; one who said STOP stays stopped, and the
  sender skips the message with that reason.
- Each message is queued through ``domain.marketing.queue_message`` with origin ``test`` and the
  key ``test:<campaign>:<member>:<nonce>``: the form's nonce makes a double-submitted form send
  once. The sender sends it at the shared pace (the weekly cap does not apply to staff, quiet
  hours do).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import consents, marketing
from domain.campaign_models import MarketingMessage, MessageCampaign
from domain.campaign_settings import CampaignSettings
from domain.customers import Customer, NewCustomer, enrol, find_by_phone
from domain.errors import ValidationError
from domain.phones import normalize_phone
from domain.template_fields import fill, template_language

MAX_NUMBERS = 5
STAFF_NAME = "Staff test"


def key_prefix(campaign_id: int) -> str:
    return f"test:{campaign_id}:"


def staff_numbers(raw: str, country_code: int) -> list[str]:
    """Comma-, space- or line-separated numbers in any format, as E.164; a bad one is a ``ValidationError``."""
    parts = [p for p in raw.replace(",", "\n").replace(";", "\n").splitlines() if p.strip()]
    if not parts:
        raise ValidationError("enter at least one staff phone number")
    if len(parts) > MAX_NUMBERS:
        raise ValidationError(f"at most {MAX_NUMBERS} staff numbers at a time")
    return list(dict.fromkeys(normalize_phone(p.strip(), country_code) for p in parts))


def _test_member(session: Session, phone: str, now: dt.datetime, actor: str, settings: CampaignSettings) -> Customer:
    member = find_by_phone(session, phone)
    if member is not None and not member.is_test:
        raise ValidationError(f"{phone} is a real customer's number; test sends go only to staff test numbers")
    if member is None:
        member, _ = enrol(session, NewCustomer(phone=phone, name=STAFF_NAME, source="staff"), now)
        member.is_test = True
    if marketing.why_held(session, member.id, now, settings, include_test=True) == "no_consent":
        consents.record(session, member, consents.MARKETING, True, channel="console", now=now, actor=actor)
    return member


def send_test(
    session: Session,
    campaign: MessageCampaign,
    phones: Sequence[str],
    *,
    nonce: str,
    now: dt.datetime,
    settings: CampaignSettings,
    actor: str,
) -> list[MarketingMessage]:
    """Queue the campaign's template, filled for each staff member, to each of ``phones`` (E.164).

    Returns the messages queued by this call (none when the same form was sent before).
    """
    queued = []
    for phone in phones:
        member = _test_member(session, phone, now, actor, settings)
        key = f"{key_prefix(campaign.id)}{member.id}:{nonce}"
        if session.scalar(select(MarketingMessage.id).where(MarketingMessage.idempotency_key == key)) is not None:
            continue
        message = marketing.queue_message(
            session,
            member.id,
            campaign.template_name,
            template_language(campaign.template_language, member),
            fill(session, member, campaign.template_parameters, now),
            key=key,
            now=now,
            origin="test",
        )
        message.campaign_id = campaign.id
        queued.append(message)
    return queued


def sent_tests(session: Session, campaign_id: int, limit: int = 20) -> list[tuple[MarketingMessage, str]]:
    """The campaign's test messages, newest first, with the staff number each went to."""
    stmt = (
        select(MarketingMessage, Customer.phone)
        .join(Customer, Customer.id == MarketingMessage.customer_id)
        .where(MarketingMessage.origin == "test", MarketingMessage.idempotency_key.startswith(key_prefix(campaign_id)))
        .order_by(MarketingMessage.id.desc())
        .limit(limit)
    )
    return [(message, phone or "") for message, phone in session.execute(stmt)]
