"""Privacy settings: due dates of data requests, cooling-off, retention. Edited by admins in the console.

One immutable value stored as a JSON document in ``settings`` (like the program rules), so a
console edit applies to the next request or scheduled run without a restart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.errors import ValidationError
from domain.rules import Setting

KEY = "privacy"
LEGAL_MAX_DUE_DAYS = 90  # the DPDP Rules' outer limit for answering a data principal


@dataclass(frozen=True)
class PrivacySettings:
    # Days to answer a data request (access, correction, erasure): the queue's due date.
    request_due_days: int = 30
    # Hours between a confirmed chat erasure and the erasure itself (the member may still cancel);
    # 0 erases as soon as the member confirms.
    erasure_cooling_off_hours: int = 0
    # Members inactive this many years are warned, then erased; 0 turns the rule off.
    inactive_years: int = 0
    # How long before such an erasure the warning goes out.
    retention_warning_hours: int = 48
    # Message bodies (inbound texts, outbound payloads) are purged after this many days.
    message_retention_days: int = 180
    # Staff views of customer pages are kept this many days.
    access_log_days: int = 365
    # How long a "my data" export link works.
    export_link_hours: int = 24

    def validate(self) -> None:
        if not 1 <= self.request_due_days <= LEGAL_MAX_DUE_DAYS:
            raise ValidationError(f"data requests must be due within 1 to {LEGAL_MAX_DUE_DAYS} days")
        if not 0 <= self.erasure_cooling_off_hours <= 24 * 30:
            raise ValidationError("the erasure cooling-off period must be between 0 hours and 30 days")
        if not 0 <= self.inactive_years <= 50:
            raise ValidationError("inactive years must be between 0 (off) and 50")
        if not 1 <= self.retention_warning_hours <= 24 * 30:
            raise ValidationError("the retention warning must go out 1 hour to 30 days ahead")
        if self.message_retention_days < 1 or self.access_log_days < 1:
            raise ValidationError("retention periods must be at least one day")
        if not 1 <= self.export_link_hours <= 24 * 7:
            raise ValidationError("export links must work for 1 hour to 7 days")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PrivacySettings:
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            values = {name: int(value) for name, value in data.items() if name in names}
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"privacy settings: {exc}") from exc
        settings = cls(**values)
        settings.validate()
        return settings

    def due_at(self, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(days=self.request_due_days)


def load(session: Session) -> PrivacySettings:
    row = session.get(Setting, KEY)
    return PrivacySettings.from_json(row.value) if row else PrivacySettings()


def save(session: Session, settings: PrivacySettings, actor: str) -> None:
    """Store new settings; the caller writes the audit entry and commits."""
    settings.validate()
    row = session.get(Setting, KEY)
    if row is None:
        session.add(Setting(key=KEY, value=settings.to_json(), updated_by=actor))
    else:
        row.value = settings.to_json()
        row.updated_at = utcnow()
        row.updated_by = actor
