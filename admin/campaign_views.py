"""How the WhatsApp campaign pages say things: a segment in words, a duration, a reason, the results charts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from admin.campaign_forms import FIELD_LABELS, MONTHS
from admin.charts import PALETTE, Series, bar_chart
from domain.campaign_results import Results
from domain.campaign_settings import LOCAL_TZ

REASONS = {
    "stop": "Sent STOP / stopped promotions",
    "no_consent": "No marketing consent",
    "undeliverable": "Undeliverable number (131026)",
    "capped": "Weekly frequency cap",
    "cancelled": "Campaign cancelled",
    "erased": "Member erased",
    "test": "Test member",
    "131049": "Meta's per-member marketing limit (131049)",
    "131047": "Outside the 24-hour window (131047)",
    "131026": "Undeliverable (131026)",
    "130429": "Throughput limit (130429)",
    "131056": "Too many to one member (131056)",
}


def reason_label(code: str) -> str:
    return REASONS.get(code, f"Error {code}")


def duration(seconds: int) -> str:
    """``about 2 min 30 s``: how long a send takes at the rate."""
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def local(moment: dt.datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M IST")


def parameter_label(value: str) -> str:
    return FIELD_LABELS.get(value, f"“{value}”")


def describe(segment: dict[str, Any], money: Callable[[str], str] = str) -> list[str]:
    """The segment's conditions in words, one a line; none means every member who may get marketing."""
    out: list[str] = []
    if segment.get("tiers"):
        out.append("Tier: " + ", ".join(t.title() for t in segment["tiers"]))
    if segment.get("min_points") is not None or segment.get("max_points") is not None:
        low, high = segment.get("min_points"), segment.get("max_points")
        out.append(f"Points {_range(low, high)}")
    if segment.get("expiring_within_days") is not None:
        out.append(f"Points expiring within {segment['expiring_within_days']} days")
    if segment.get("last_purchase_before"):
        out.append(f"Last purchase before {_day(segment['last_purchase_before'])}")
    if segment.get("last_purchase_after"):
        out.append(f"Bought since {_day(segment['last_purchase_after'])}")
    if segment.get("spend_min") is not None or segment.get("spend_max") is not None:
        days = segment.get("spend_days", 365)
        low, high = (None if v is None else money(v) for v in (segment.get("spend_min"), segment.get("spend_max")))
        out.append(f"Spent {_range(low, high)} in the last {days} days")
    if segment.get("stores"):
        out.append("Bought at: " + ", ".join(segment["stores"]))
    if segment.get("languages"):
        out.append("Language: " + ", ".join(segment["languages"]))
    if segment.get("affiliate_referred") is not None:
        out.append("Joined through an affiliate" if segment["affiliate_referred"] else "Not through an affiliate")
    if segment.get("birthday_months"):
        out.append("Birthday in " + ", ".join(MONTHS[m - 1] for m in segment["birthday_months"]))
    if segment.get("unread_of_campaign") is not None:
        out.append(f"Did not read campaign #{segment['unread_of_campaign']}")
    return out or ["Every member who may get marketing"]


def _range(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{low}–{high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def _day(value: str) -> str:
    return dt.datetime.fromisoformat(value).astimezone(LOCAL_TZ).date().isoformat()


FUNNEL = ("Sent", "Delivered", "Read", "Replied", "Failed", "Opted out")


def funnel(found: Results) -> list[tuple[str, int]]:
    c = found.counts
    return list(
        zip(FUNNEL, (c["sent"], c["delivered"], c["read"], found.replied, c["failed"], found.opted_out), strict=True)
    )


def charts(found: Results) -> dict[str, Markup]:
    steps = funnel(found)
    out = {
        "funnel": bar_chart("Recipients", [s for s, _ in steps], [Series("Members", [n for _, n in steps], PALETTE[0])])
    }
    reasons = {**{f"failed: {k}": v for k, v in found.failed_by_reason.items()}}
    reasons.update({f"skipped: {k}": v for k, v in found.skipped_by_reason.items()})
    if reasons:
        labels = list(reasons)
        out["reasons"] = bar_chart(
            "Failed and skipped, by reason", labels, [Series("Members", list(reasons.values()), PALETTE[2])]
        )
    return out
