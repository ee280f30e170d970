"""The calendar of automations: which local day it is, whose day it is, when the tier review comes.

Pure functions of their inputs. Days are the shop's calendar days (``ProgramRules.timezone``,
Asia/Kolkata by default); the database keeps UTC, so a local day is asked for as the UTC range
it covers.

- A birthday stored without a year is in year 4 (``domain.birthdays.NO_YEAR``): only its day and
  month are used here, so it counts like any other. A 29 February birthday or join day is kept on
  28 February in years without one.
- The tier review is the scheduler's monthly run on the 1st at 01:00 UTC (``loyalty.scheduler``,
  ``domain.tiers.review``); its spend window ends at that moment.
"""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

REVIEW_DAY, REVIEW_HOUR = 1, 1  # the 1st of each month, 01:00 UTC


def local_now(now: dt.datetime, timezone: str) -> dt.datetime:
    return now.astimezone(ZoneInfo(timezone))


def day_range(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC moments [start, end) of the local calendar ``day``."""
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def celebrated_on(month: int, day: int, year: int) -> dt.date:
    """The day a yearly occasion born on ``month``/``day`` falls on in ``year`` (29 Feb → 28 Feb)."""
    if month == 2 and day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return dt.date(year, month, day)


def born_on(today: dt.date) -> list[tuple[int, int]]:
    """The (month, day) pairs whose yearly occasion is ``today``: itself, and 29 Feb on a non-leap 28 Feb."""
    pairs = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        pairs.append((2, 29))
    return pairs


def next_review(now: dt.datetime) -> dt.datetime:
    """The next monthly tier review after ``now``."""
    this_month = now.astimezone(dt.UTC).replace(day=REVIEW_DAY, hour=REVIEW_HOUR, minute=0, second=0, microsecond=0)
    if this_month > now:
        return this_month
    year, month = (this_month.year + 1, 1) if this_month.month == 12 else (this_month.year, this_month.month + 1)
    return this_month.replace(year=year, month=month)


def review_in_days(now: dt.datetime, timezone: str) -> tuple[dt.datetime, int]:
    """The next review, and how many local calendar days away it is."""
    review = next_review(now)
    return review, (local_now(review, timezone).date() - local_now(now, timezone).date()).days
