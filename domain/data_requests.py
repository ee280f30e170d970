"""Data principal requests (DPDP Act s.11-13): access, export, correction, erasure, each with a reference.

Invariants:
- Every request, however it came (chat, console, CLI, API, the retention job), is one row with a
  reference the member can quote, a due date (``PrivacySettings.request_due_days``, never past the
  law's 90 days) and, once handled, who handled it and when.
- ``details`` says what was asked in words that are not personal data ("name"), never the values:
  the new name lives on the member's row, and an erased member's requests keep nothing of them.
- A request moves ``open -> done | rejected | cancelled``; a chat erasure passes through
  ``confirming`` (asked, not yet confirmed) and, with a cooling-off period, ``scheduled``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, case, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.codes import random_code
from domain.customers import Customer
from domain.db import Base, UTCDateTime
from domain.errors import InvalidTransition, NotFound, ValidationError
from domain.privacy_settings import PrivacySettings

KINDS = ("access", "export", "correction", "erasure")
OPEN_STATUSES = ("open", "confirming", "scheduled")
STATUSES = (*OPEN_STATUSES, "done", "rejected", "cancelled")
CHANNELS = ("whatsapp", "console", "cli", "api", "retention")
REFERENCE_PREFIX = "DR-"


class DataRequest(Base):
    __tablename__ = "data_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    channel: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # A confirmed erasure waiting out its cooling-off period runs at this time.
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A staff email, "cli", or "automatic" for what the chat or a job answered itself.
    handled_by: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_data_requests_status_due", "status", "due_at"),)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def overdue(self, now: dt.datetime) -> bool:
        return self.is_open and self.due_at < now


def new_reference(session: Session) -> str:
    """``DR-`` and eight symbols people read out on the phone (no 0/O, 1/I)."""
    while True:
        reference = REFERENCE_PREFIX + random_code(8)
        if session.scalar(select(DataRequest.id).where(DataRequest.reference == reference)) is None:
            return reference


def open_request(
    session: Session,
    customer: Customer,
    kind: str,
    *,
    channel: str,
    now: dt.datetime,
    settings: PrivacySettings,
    status: str = "open",
    details: dict[str, Any] | None = None,
) -> DataRequest:
    if kind not in KINDS:
        raise ValidationError(f"kind must be one of {', '.join(KINDS)}")
    if channel not in CHANNELS:
        raise ValidationError(f"channel must be one of {', '.join(CHANNELS)}")
    if status not in OPEN_STATUSES:
        raise ValidationError(f"a new request is one of {', '.join(OPEN_STATUSES)}")
    request = DataRequest(
        reference=new_reference(session),
        customer_id=customer.id,
        kind=kind,
        status=status,
        channel=channel,
        details=details or {},
        created_at=now,
        due_at=settings.due_at(now),
    )
    session.add(request)
    session.flush()
    return request


def answered(
    session: Session,
    customer: Customer,
    kind: str,
    *,
    channel: str,
    now: dt.datetime,
    settings: PrivacySettings,
    outcome: str,
    handled_by: str = "automatic",
    details: dict[str, Any] | None = None,
) -> DataRequest:
    """A request answered on the spot (a chat summary, an export link, a corrected name)."""
    request = open_request(session, customer, kind, channel=channel, now=now, settings=settings, details=details)
    return close(request, "done", actor=handled_by, now=now, outcome=outcome)


def close(
    request: DataRequest, status: str, *, actor: str, now: dt.datetime, outcome: str | None = None
) -> DataRequest:
    """Finish an open request as ``done``, ``rejected`` or ``cancelled``, saying who and why."""
    if status not in ("done", "rejected", "cancelled"):
        raise ValidationError("a request is closed as done, rejected or cancelled")
    if not request.is_open:
        raise InvalidTransition(f"request {request.reference} is already {request.status}")
    request.status, request.handled_at, request.handled_by = status, now, actor
    request.outcome = (outcome or "")[:2000] or None
    return request


def schedule(request: DataRequest, when: dt.datetime) -> DataRequest:
    """A confirmed erasure that waits out its cooling-off period."""
    if request.kind != "erasure" or request.status not in ("open", "confirming"):
        raise InvalidTransition(f"request {request.reference} cannot be scheduled")
    request.status, request.scheduled_for = "scheduled", when
    return request


def get(session: Session, reference: str) -> DataRequest:
    found = session.scalar(select(DataRequest).where(DataRequest.reference == reference.strip().upper()))
    if found is None:
        raise NotFound(f"no data request {reference}")
    return found


def open_erasure(session: Session, customer_id: int) -> DataRequest | None:
    """The member's erasure request that is still waiting (asked, confirmed or scheduled), if any."""
    stmt = select(DataRequest).where(
        DataRequest.customer_id == customer_id,
        DataRequest.kind == "erasure",
        DataRequest.status.in_(OPEN_STATUSES),
    )
    return session.scalars(stmt.order_by(DataRequest.id.desc()).limit(1)).first()


def due_erasures(session: Session, now: dt.datetime, limit: int = 50) -> list[DataRequest]:
    """Scheduled erasures whose cooling-off period is over, oldest first."""
    stmt = (
        select(DataRequest)
        .where(DataRequest.status == "scheduled", DataRequest.scheduled_for <= now)
        .order_by(DataRequest.scheduled_for, DataRequest.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def queue(
    session: Session, *, show: str = "open", kind: str = "", limit: int = 50, offset: int = 0
) -> list[DataRequest]:
    """The console's queue: open requests by due date (soonest first), or everything newest first."""
    stmt = select(DataRequest)
    if kind in KINDS:
        stmt = stmt.where(DataRequest.kind == kind)
    if show == "open":
        stmt = stmt.where(DataRequest.status.in_(OPEN_STATUSES)).order_by(DataRequest.due_at, DataRequest.id)
    else:
        stmt = stmt.order_by(DataRequest.created_at.desc(), DataRequest.id.desc())
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def counts(session: Session, now: dt.datetime) -> tuple[int, int]:
    """(open requests, of which overdue)."""
    is_open = DataRequest.status.in_(OPEN_STATUSES)
    overdue = case((DataRequest.due_at < now, 1), else_=0)
    row = session.execute(select(func.count(DataRequest.id), func.coalesce(func.sum(overdue), 0)).where(is_open)).one()
    return int(row[0]), int(row[1])


def of_customer(session: Session, customer_id: int) -> list[DataRequest]:
    stmt = select(DataRequest).where(DataRequest.customer_id == customer_id).order_by(DataRequest.id.desc())
    return list(session.scalars(stmt))
