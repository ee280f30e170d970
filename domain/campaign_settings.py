"""Campaign settings: pace, Meta's limits, the frequency cap, quiet hours, prices. Edited by admins.

The environment gives the defaults (``CAMPAIGN_RATE_PER_SECOND``, ``MESSAGING_LIMIT_24H``,
``MARKETING_CAP_PER_WEEK``, ``QUIET_HOURS``, ``PRICE_MARKETING_INR``, ``PRICE_UTILITY_INR``);
what an admin saved in the console is stored as one JSON document in ``settings`` and wins
over them, so an edit applies to the next batch without a restart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.errors import ValidationError
from domain.rules import Setting

KEY = "campaigns"
MAX_RATE = 80  # messages per second: the Cloud API's ceiling for one number
LOCAL_TZ = ZoneInfo("Asia/Kolkata")

# Environment variable → field.
ENV_NAMES = {
    "CAMPAIGN_RATE_PER_SECOND": "rate_per_second",
    "MESSAGING_LIMIT_24H": "messaging_limit_24h",
    "MARKETING_CAP_PER_WEEK": "marketing_cap_per_week",
    "QUIET_HOURS": "quiet_hours",
    "PRICE_MARKETING_INR": "price_marketing",
    "PRICE_UTILITY_INR": "price_utility",
}


@dataclass(frozen=True)
class CampaignSettings:
    rate_per_second: int = 20
    # Unique members the number may start conversations with in 24 hours (its messaging tier).
    messaging_limit_24h: int = 1000
    # Marketing messages the Graph API accepted for one member in the last 7 days, campaigns and automations.
    marketing_cap_per_week: int = 2
    # "21-9": no marketing from 21:00 to 09:00 in Asia/Kolkata; "none": any time.
    quiet_hours: str = "21-9"
    # Rupees per delivered template message, as Meta charges in India.
    price_marketing: Decimal = Decimal("0.86")
    price_utility: Decimal = Decimal("0.12")
    # A number that answered 131026 is left out of marketing this many days.
    undeliverable_days: int = 30
    # At most one message to one member per this many seconds (Meta's pair rate limit).
    member_gap_seconds: int = 6
    # Pause a campaign when this share of its finished sends failed, once it has at least ``failure_min`` of them.
    failure_pause_percent: int = 25
    failure_min: int = 100
    # Results: a reply within this many days of our message counts as a reply; a purchase within
    # ``attribution_days`` of a read counts as revenue of the campaign.
    reply_days: int = 3
    attribution_days: int = 7

    def validate(self) -> None:
        if not 1 <= self.rate_per_second <= MAX_RATE:
            raise ValidationError(f"the sending rate must be between 1 and {MAX_RATE} messages per second")
        if self.messaging_limit_24h < 1:
            raise ValidationError("the 24-hour messaging limit must be at least 1")
        if not 0 <= self.marketing_cap_per_week <= 50:
            raise ValidationError("the weekly marketing cap must be between 0 and 50")
        quiet_window(self.quiet_hours)
        if self.price_marketing < 0 or self.price_utility < 0:
            raise ValidationError("prices cannot be negative")
        if not 1 <= self.undeliverable_days <= 365 or not 1 <= self.attribution_days <= 90:
            raise ValidationError("day counts must be between 1 and 365 (attribution at most 90)")
        if not 0 <= self.member_gap_seconds <= 3600 or not 1 <= self.reply_days <= 30:
            raise ValidationError("the member gap must be 0 to 3600 seconds and reply days 1 to 30")
        if not 1 <= self.failure_pause_percent <= 100 or self.failure_min < 1:
            raise ValidationError("the failure threshold must be 1 to 100 percent of at least 1 send")

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base: CampaignSettings | None = None) -> CampaignSettings:
        """``base`` with the known fields of ``data`` over it; unknown keys are ignored, bad values refused."""
        start = base or cls()
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data or data[f.name] in (None, ""):
                continue
            values[f.name] = _convert(f.name, type(getattr(start, f.name)), data[f.name])
        settings = dataclasses.replace(start, **values)
        settings.validate()
        return settings

    def price(self, category: str) -> Decimal:
        return self.price_utility if category == "utility" else self.price_marketing


def _convert(name: str, kind: type, value: Any) -> Any:
    try:
        if kind is Decimal:
            return Decimal(str(value).strip())
        if kind is int:
            return int(str(value).strip())
        return str(value).strip()
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{name}: {value!r} is not a valid value") from None


def defaults_from(config: Mapping[str, Any]) -> CampaignSettings:
    """The environment's defaults (``runtime.config``), before anything an admin saved."""
    data = {field: config[env] for env, field in ENV_NAMES.items() if config.get(env) not in (None, "")}
    return CampaignSettings.from_json(data)


def load(session: Session, defaults: CampaignSettings | None = None) -> CampaignSettings:
    row = session.get(Setting, KEY)
    base = defaults or CampaignSettings()
    return CampaignSettings.from_json(row.value, base) if row else base


def save(session: Session, settings: CampaignSettings, actor: str) -> None:
    """Store new settings; the caller writes the audit entry and commits."""
    settings.validate()
    row = session.get(Setting, KEY)
    if row is None:
        session.add(Setting(key=KEY, value=settings.to_json(), updated_by=actor))
    else:
        row.value = settings.to_json()
        row.updated_at = utcnow()
        row.updated_by = actor


def quiet_window(text: str) -> tuple[int, int] | None:
    """``"21-9"`` → (21, 9); ``"none"`` → None (marketing at any hour)."""
    value = text.strip().lower()
    if value in ("none", "off", ""):
        return None
    try:
        start, end = (int(part) for part in value.split("-"))
    except ValueError:
        raise ValidationError(f"quiet hours must look like 21-9 or be none, not {text!r}") from None
    if not (0 <= start <= 23 and 0 <= end <= 23) or start == end:
        raise ValidationError(f"quiet hours must be two different hours from 0 to 23, not {text!r}")
    return start, end


def in_quiet_hours(quiet_hours: str, now: dt.datetime) -> bool:
    """Is ``now`` (aware) inside the quiet window, in Asia/Kolkata time?"""
    window = quiet_window(quiet_hours)
    if window is None:
        return False
    start, end = window
    hour = now.astimezone(LOCAL_TZ).hour
    return (hour >= start or hour < end) if start > end else (start <= hour < end)


def quiet_until(quiet_hours: str, now: dt.datetime) -> dt.datetime:
    """``now`` if marketing may go out now, else when the quiet window ends (UTC)."""
    window = quiet_window(quiet_hours)
    if window is None or not in_quiet_hours(quiet_hours, now):
        return now
    local = now.astimezone(LOCAL_TZ)
    end = local.replace(hour=window[1], minute=0, second=0, microsecond=0)
    if end <= local:
        end += dt.timedelta(days=1)
    return end.astimezone(dt.UTC)
