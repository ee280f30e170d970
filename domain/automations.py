"""Lifecycle automations' settings: each one on or off, with its template, timing and bonus points.

Invariants:
- Every kind in ``KINDS`` has settings: its row in ``automations`` if an admin saved one, else
  ``DEFAULTS``. Only the points-expiry reminders are on by default: they replace the expiry
  warning the scheduler sent before (one per expiry date), so a fresh install keeps warning.
- Saved settings are valid (``validate``): a marketing automation names a template that Meta
  could have approved (lowercase letters, digits, underscores), parameters are member fields or
  short literal text, timing days are in range for the kind, bonus points within an adjustment.
- Marketing automations (birthday, join anniversary, win-back, tier at risk) are queued through
  ``domain.marketing.queue_message``: the campaign sender re-checks consent, STOP, the weekly cap,
  undeliverable numbers and quiet hours just before it sends. The points-expiry reminder is a
  utility message about the member's own points (no offer in it): it goes the service way, as the
  earlier warning did (``domain.notifications``, kind ``points_expiring``, service consent, the
  template named in Settings), and does not count toward the marketing cap.
- Nothing here commits; the caller's unit of work does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import audit, template_fields
from domain.automation_models import KINDS, Automation, AutomationOccasion
from domain.campaign_models import TEMPLATE_LANGUAGES, MarketingMessage
from domain.db import utcnow
from domain.errors import ValidationError
from domain.limits import MAX_ADJUSTMENT
from domain.notifications import Notification

MARKETING = "marketing"
UTILITY = "utility"
# Fields an automation's parameters may name besides the member's (``domain.template_fields.FIELDS``).
OCCASION_FIELDS = ("bonus_points", "years", "spend_to_keep", "review_date", "last_purchase_date")
PARAMETER_FIELDS = template_fields.FIELDS + OCCASION_FIELDS
MAX_PARAMETERS = 10
MAX_LITERAL = 200
TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")


@dataclass(frozen=True)
class Kind:
    """What an automation is, for the console and the runner: fixed, not edited."""

    title: str
    category: str
    # How many timing days it takes: 0 (on the day itself), 1 (one number), or up to ``days_max_count``.
    days_count: int
    days_range: tuple[int, int]
    days_label: str
    takes_bonus: bool


KIND_INFO: Mapping[str, Kind] = {
    "birthday": Kind("Birthday bonus", MARKETING, 0, (0, 0), "", True),
    "anniversary": Kind("Join anniversary", MARKETING, 0, (0, 0), "", True),
    "winback": Kind("Win-back", MARKETING, 1, (7, 730), "Days without a purchase", False),
    "expiry": Kind("Points-expiry reminders", UTILITY, 5, (1, 365), "Days before points expire", False),
    "tier_risk": Kind("Tier at risk", MARKETING, 1, (1, 28), "Days before the monthly tier review", False),
}


@dataclass(frozen=True)
class AutomationSettings:
    kind: str
    enabled: bool = False
    template_name: str = ""
    template_language: str = "member"
    template_parameters: tuple[str, ...] = ()
    days: tuple[int, ...] = ()
    bonus_points: int = 0
    send_hour: int = 10  # local (Asia/Kolkata): the day's occasions are acted on from this hour

    @property
    def info(self) -> Kind:
        return KIND_INFO[self.kind]

    @property
    def category(self) -> str:
        return self.info.category

    def key(self, customer_id: int, occasion: str) -> str:
        """The occasion's idempotency key: the same for the occasion row, the bonus and the message."""
        return f"auto:{self.kind}:{customer_id}:{occasion}"

    def validate(self) -> None:
        """Refuse settings the runner could not act on; the message says which field and why."""
        if self.kind not in KINDS:
            raise ValidationError(f"unknown automation {self.kind!r}", field="kind")
        info = self.info
        if not 0 <= self.send_hour <= 23:
            raise ValidationError("the hour must be 0 to 23 (local time)", field="send_hour")
        if info.category == MARKETING:
            _validate_template(self)
        _validate_days(self, info)
        if info.takes_bonus and not 0 <= self.bonus_points <= MAX_ADJUSTMENT:
            raise ValidationError(f"bonus points must be 0 to {MAX_ADJUSTMENT:,}", field="bonus_points")
        if not info.takes_bonus and self.bonus_points:
            raise ValidationError(f"{info.title} gives no bonus points", field="bonus_points")

    def to_row(self, row: Automation) -> None:
        row.enabled = self.enabled
        row.template_name = self.template_name
        row.template_language = self.template_language
        row.template_parameters = list(self.template_parameters)
        row.days = list(self.days)
        row.bonus_points = self.bonus_points
        row.send_hour = self.send_hour

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["template_parameters"] = list(self.template_parameters)
        data["days"] = list(self.days)
        return data


def _validate_template(s: AutomationSettings) -> None:
    if not TEMPLATE_NAME.match(s.template_name):
        raise ValidationError(
            "the template name must be the approved template's name: lowercase letters, digits and underscores",
            field="template_name",
        )
    if s.template_language not in TEMPLATE_LANGUAGES:
        raise ValidationError(
            f"the template language must be one of {', '.join(TEMPLATE_LANGUAGES)}", field="template_language"
        )
    if len(s.template_parameters) > MAX_PARAMETERS:
        raise ValidationError(f"at most {MAX_PARAMETERS} parameters", field="template_parameters")
    for parameter in s.template_parameters:
        if not parameter.strip():
            raise ValidationError("a parameter cannot be empty (WhatsApp refuses it)", field="template_parameters")
        if parameter not in PARAMETER_FIELDS and len(parameter) > MAX_LITERAL:
            raise ValidationError(f"literal text is at most {MAX_LITERAL} characters", field="template_parameters")


def _validate_days(s: AutomationSettings, info: Kind) -> None:
    low, high = info.days_range
    if info.days_count == 0:
        if s.days:
            raise ValidationError(f"{info.title} runs on the day itself and takes no days", field="days")
        return
    if not s.days:
        raise ValidationError(f"{info.days_label.lower()}: give a number", field="days")
    if info.days_count == 1 and len(s.days) != 1:
        raise ValidationError(f"{info.days_label.lower()}: give one number", field="days")
    if len(s.days) > info.days_count or len(set(s.days)) != len(s.days):
        raise ValidationError(f"{info.days_label.lower()}: up to {info.days_count} different numbers", field="days")
    for day in s.days:
        if not low <= day <= high:
            raise ValidationError(f"{info.days_label.lower()} must be {low} to {high}", field="days")


DEFAULTS: Mapping[str, AutomationSettings] = {
    "birthday": AutomationSettings(
        "birthday", template_name="birthday_bonus", template_parameters=("name", "bonus_points"), bonus_points=100
    ),
    "anniversary": AutomationSettings(
        "anniversary", template_name="join_anniversary", template_parameters=("name", "years", "points")
    ),
    "winback": AutomationSettings(
        "winback", template_name="we_miss_you", template_parameters=("name", "points"), days=(90,)
    ),
    # On: the earlier expiry warning ran by default, and this replaces it.
    "expiry": AutomationSettings("expiry", enabled=True, template_name="points_expiring", days=(30, 7, 1)),
    "tier_risk": AutomationSettings(
        "tier_risk",
        template_name="tier_at_risk",
        template_parameters=("name", "tier", "spend_to_keep", "review_date"),
        days=(7,),
    ),
}


def _from_row(row: Automation) -> AutomationSettings:
    return AutomationSettings(
        kind=row.kind,
        enabled=row.enabled,
        template_name=row.template_name,
        template_language=row.template_language,
        template_parameters=tuple(str(p) for p in row.template_parameters or ()),
        days=tuple(int(d) for d in row.days or ()),
        bonus_points=row.bonus_points,
        send_hour=row.send_hour,
    )


def load(session: Session, kind: str) -> AutomationSettings:
    if kind not in KINDS:
        raise ValidationError(f"unknown automation {kind!r}", field="kind")
    row = session.get(Automation, kind)
    return _from_row(row) if row is not None else DEFAULTS[kind]


def load_all(session: Session) -> list[AutomationSettings]:
    """Every automation in ``KINDS`` order, saved or default."""
    rows = {row.kind: row for row in session.scalars(select(Automation))}
    return [_from_row(rows[k]) if k in rows else DEFAULTS[k] for k in KINDS]


def save(
    session: Session, settings: AutomationSettings, *, actor: str, now: dt.datetime, reason: str | None = None
) -> dict[str, list[Any]]:
    """Store an automation's settings with its audit entry; returns what changed (empty: nothing saved)."""
    settings.validate()
    before = load(session, settings.kind)
    changes = _diff(before.to_json(), settings.to_json())
    if not changes:
        return changes
    row = session.get(Automation, settings.kind, with_for_update=True)
    if row is None:
        row = Automation(kind=settings.kind)
        session.add(row)
    settings.to_row(row)
    row.updated_at, row.updated_by = utcnow(), actor
    audit.record(
        session,
        actor=actor,
        action="automation.update",
        entity_type="automation",
        entity_id=settings.kind,
        now=now,
        reason=reason,
        details=changes,
    )
    return changes


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {key: [old[key], new[key]] for key in new if old.get(key) != new[key]}


def parse_days(text: str) -> tuple[int, ...]:
    """``"30, 7, 1"`` → (30, 7, 1), largest first; a clear error for anything that is not whole numbers."""
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    if not all(p.isdigit() and len(p) <= 4 for p in parts):
        raise ValidationError("days must be whole numbers separated by commas, such as 30, 7, 1", field="days")
    return tuple(sorted((int(p) for p in parts), reverse=True))


def parse_parameters(lines: Iterable[str]) -> tuple[str, ...]:
    """One parameter per line, blank lines dropped; surrounding spaces are not part of a parameter."""
    return tuple(line.strip() for line in lines if line.strip())


@dataclass(frozen=True)
class Activity:
    """What an automation did lately, for the console."""

    occasions: int = 0  # members whose occasion it acted on
    bonus_points: int = 0
    messages: Mapping[str, int] = dataclasses.field(default_factory=dict)  # queued message status → count


def activity(session: Session, since: dt.datetime) -> dict[str, Activity]:
    """Per kind: occasions acted on since ``since``, the points given, and their messages by status."""
    o = AutomationOccasion
    done = {
        kind: (int(n), int(points or 0))
        for kind, n, points in session.execute(
            select(o.kind, func.count(o.id), func.sum(o.bonus_points)).where(o.created_at >= since).group_by(o.kind)
        )
    }
    statuses: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
    for m in (MarketingMessage, Notification):
        stmt = (
            select(o.kind, m.status, func.count(m.id))
            .join(m, m.idempotency_key == o.idempotency_key)
            .where(o.created_at >= since)
            .group_by(o.kind, m.status)
        )
        for kind, status, n in session.execute(stmt):
            statuses[kind][status] = int(n)
    return {kind: Activity(*done.get(kind, (0, 0)), statuses[kind]) for kind in KINDS}
