"""The bounds every number from outside is checked against, before it reaches a 32-bit column.

PostgreSQL's ``integer`` stops at 2,147,483,647; an out-of-range value there is an error in
the middle of a transaction, a silently wrapped one elsewhere. The edges check first and say
which number is wrong.
"""

from __future__ import annotations

import datetime as dt

from domain.errors import ValidationError

MAX_ADJUSTMENT = 1_000_000  # points in one manual adjustment, either way
MAX_POINTS = 10_000_000  # a reward's cost, a stock
MAX_BALANCE = 2_000_000_000  # below the 32-bit columns' limit, with room for the lifetime total
MAX_ID = 2**31 - 1
# Dates staff may filter or report by: the day after 9999-12-31 does not exist.
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(2199, 12, 31)
DATE_RANGE = f"Dates must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}."


def in_range(label: str, value: int, low: int, high: int) -> int:
    """``value`` when ``low <= value <= high``; a ValidationError naming ``label`` otherwise."""
    if not low <= value <= high:
        bounds = f"a positive whole number up to {high:,}" if low == 1 else f"between {low:,} and {high:,}"
        raise ValidationError(f"{label} must be {bounds} (got {_short(value)})")
    return value


def _short(value: int) -> str:
    text = f"{value:,}"
    return text if len(text) <= 20 else f"{text[:8]}… ({len(str(abs(value)))} digits)"
