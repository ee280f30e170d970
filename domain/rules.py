"""The program's rules: one immutable value, edited by admins, read per unit of work.

Stored as a single JSON document in ``settings`` so that a console edit takes
effect on the next message or sync without a restart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime, utcnow
from domain.errors import ValidationError

TIER_ORDER = ("silver", "gold", "platinum")


@dataclass(frozen=True)
class ProgramRules:
    currency: str = "INR"
    # The shop's time zone: campaign dates are local calendar days.
    timezone: str = "Asia/Kolkata"
    # Earning: `points_per_unit` points for every `spend_unit` of net amount.
    points_per_unit: int = 1
    spend_unit: Decimal = Decimal("100")
    tier_multipliers: dict[str, Decimal] = field(
        default_factory=lambda: {"silver": Decimal("1"), "gold": Decimal("1.25"), "platinum": Decimal("1.5")}
    )
    category_multipliers: dict[str, Decimal] = field(default_factory=dict)
    # Tiers on rolling 12-month net spend.
    tier_thresholds: dict[str, Decimal] = field(
        default_factory=lambda: {"silver": Decimal("0"), "gold": Decimal("25000"), "platinum": Decimal("75000")}
    )
    tier_window_days: int = 365
    # Expiry.
    expiry_months: int = 12
    expiry_warning_days: int = 14
    # Referrals.
    referrer_bonus: int = 100
    referee_bonus: int = 50
    referral_min_purchase: Decimal = Decimal("500")
    referral_new_customer_days: int = 30
    # Affiliates (defaults for new affiliates).
    affiliate_window_days: int = 60
    affiliate_commission_percent: Decimal = Decimal("5")
    # Vouchers.
    voucher_valid_days: int = 30
    # Liability: what one point is worth in money (for the dashboard).
    point_value: Decimal = Decimal("0.25")
    # WhatsApp template names for proactive messages outside the 24-hour window. ``points_payment_code``
    # and ``link_code`` are authentication-category templates: their one parameter is the code (of a points
    # payment at a till; that links a username-only chat to a phone membership, sent to the phone's chat).
    templates: dict[str, str] = field(
        default_factory=lambda: {
            "points_earned": "points_earned",
            "tier_changed": "tier_changed",
            "points_expiring": "points_expiring",
            "voucher_issued": "voucher_issued",
            "points_payment_code": "points_payment_code",
            "link_code": "link_code",
        }
    )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = _jsonable(dataclasses.asdict(self))
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProgramRules:
        defaults = cls()
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            values[f.name] = _coerce(getattr(defaults, f.name), data[f.name], f.name)
        rules = cls(**values)
        rules.validate()
        return rules

    def validate(self) -> None:
        """Refuse rules that would break the ledger; the message names the field."""
        self._validate_earning()
        self._validate_tiers()
        self._validate_periods()
        if min(self.referrer_bonus, self.referee_bonus) < 0:
            raise ValidationError("referral bonuses must not be negative")
        if self.referral_min_purchase < 0:
            raise ValidationError("the referral minimum purchase must not be negative")
        if not Decimal(0) <= self.affiliate_commission_percent <= Decimal(100):
            raise ValidationError("affiliate commission percent must be between 0 and 100")
        if self.point_value < 0:
            raise ValidationError("point value must not be negative")
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise ValidationError(f"currency {self.currency!r} is not a 3-letter ISO code")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"timezone {self.timezone!r} is not a known time zone") from exc

    def _validate_earning(self) -> None:
        if self.points_per_unit < 0:
            raise ValidationError("points per unit must not be negative")
        if self.spend_unit <= 0:
            raise ValidationError("spend unit must be a positive amount")
        for name, mult in {**self.tier_multipliers, **self.category_multipliers}.items():
            if mult < 0:
                raise ValidationError(f"multiplier for {name} must not be negative")
        unknown = set(self.tier_multipliers) - set(TIER_ORDER)
        if unknown:
            raise ValidationError(f"tier multipliers name unknown tiers: {', '.join(sorted(unknown))}")

    def _validate_tiers(self) -> None:
        if set(self.tier_thresholds) != set(TIER_ORDER):
            raise ValidationError("tier thresholds must name silver, gold and platinum")
        ordered = [self.tier_thresholds[t] for t in TIER_ORDER]
        if ordered != sorted(ordered) or ordered[0] != 0:
            raise ValidationError("tier thresholds must start at 0 and rise from silver to platinum")

    def _validate_periods(self) -> None:
        if self.expiry_months < 1:
            raise ValidationError("expiry must be at least one month")
        periods = {
            "tier window": self.tier_window_days,
            "voucher validity": self.voucher_valid_days,
            "affiliate window": self.affiliate_window_days,
        }
        for name, days in periods.items():
            if days < 1:
                raise ValidationError(f"{name} must be at least one day")
        if self.expiry_warning_days < 0 or self.referral_new_customer_days < 0:
            raise ValidationError("warning and referral periods must not be negative")

    def local_date(self, moment: dt.datetime) -> dt.date:
        """The shop's calendar day at ``moment`` (campaigns run on local days)."""
        return moment.astimezone(zoneinfo.ZoneInfo(self.timezone)).date()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _coerce(default: Any, raw: Any, name: str) -> Any:
    try:
        if isinstance(default, bool):
            return bool(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, Decimal):
            return Decimal(str(raw))
        if isinstance(default, dict):
            sample = next(iter(default.values()), Decimal(0))
            conv = str if isinstance(sample, str) else (lambda v: Decimal(str(v)))
            return {str(k).lower() if not isinstance(sample, str) else str(k): conv(v) for k, v in dict(raw).items()}
        return str(raw)
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ValidationError(f"{name}: {raw!r} is not a valid value") from exc


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(120))


RULES_KEY = "program_rules"
# Built once: every sale and every message reads the rules (a till's sale reads them in its lock's statement).
RULES_VALUE = select(Setting.value).where(Setting.key == RULES_KEY)


def load_rules(session: Session) -> ProgramRules:
    return rules_from_value(session.scalar(RULES_VALUE))


# The last stored document read and its rules: parsing and validating them costs more than reading them,
# and they change only when an admin saves. Compared by value, so a save is seen on the very next read.
_parsed: tuple[dict[str, Any] | None, ProgramRules] = (None, ProgramRules())


def rules_from_value(value: dict[str, Any] | None) -> ProgramRules:
    """The rules of a stored ``settings`` value (the defaults when there is none)."""
    global _parsed
    last_value, last_rules = _parsed
    if value == last_value:
        return last_rules
    rules = ProgramRules.from_json(value) if value is not None else ProgramRules()
    _parsed = (value, rules)
    return rules


def save_rules(session: Session, rules: ProgramRules, actor: str) -> None:
    """Store new rules; the caller writes the audit entry and commits."""
    rules.validate()
    row = session.get(Setting, RULES_KEY)
    if row is None:
        session.add(Setting(key=RULES_KEY, value=rules.to_json(), updated_by=actor))
    else:
        row.value = rules.to_json()
        row.updated_at = utcnow()
        row.updated_by = actor
