"""Reading a birthday the way members type it, and the year kept when they leave the year out.

Invariants:
- A birthday read from text is a real calendar day (no 31 June), never after ``today``, and never
  more than ``OLDEST`` years before it.
- Day before month when both are numbers (``14/08``, as India writes dates); the other order is
  read only when it cannot mean anything else (``08/14``). Four digits first is ISO (``1990-08-14``).
- A birthday given without a year is stored in year ``NO_YEAR`` (4: a leap year, so 29 February
  fits, and too early to pass for a real year): its day and month count (the birthday month, a
  birthday bonus), its age does not. An unknown age is treated as an adult's, as for no birthday at
  all (``domain.consents.is_minor``).

Pure functions: the edges (the chat, the console) read the text here and store the date through
``domain.consents.set_birthday``.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata

NO_YEAR = 4
OLDEST = 120  # years: an older "birthday" is a typing mistake

_MONTHS = {
    1: ("jan", "january", "जनवरी"),
    2: ("feb", "february", "फ़रवरी", "फरवरी"),
    3: ("mar", "march", "मार्च"),
    4: ("apr", "april", "अप्रैल", "अप्रेल"),
    5: ("may", "मई"),
    6: ("jun", "june", "जून"),
    7: ("jul", "july", "जुलाई"),
    8: ("aug", "august", "अगस्त"),
    9: ("sep", "sept", "september", "सितंबर", "सितम्बर"),
    10: ("oct", "october", "अक्टूबर", "अक्तूबर"),
    11: ("nov", "november", "नवंबर", "नवम्बर"),
    12: ("dec", "december", "दिसंबर", "दिसम्बर"),
}
MONTH_NAMES = {unicodedata.normalize("NFC", name): month for month, names in _MONTHS.items() for name in names}
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)\b")
_SEPARATORS = re.compile(r"[\s/.,\-]+")
_FILLER = frozenset({"of", "the"})


class Refused(enum.Enum):
    """Why a typed birthday was not taken."""

    UNREADABLE = "unreadable"  # not a date, or not a day that exists
    FUTURE = "future"
    TOO_OLD = "too_old"


def read(text: str, today: dt.date) -> dt.date | Refused:
    """The birthday ``text`` names (``14/08``, ``14-08-1990``, ``14 Aug``, ``1990-08-14``, ``14 अगस्त``)."""
    parts = _tokens(text)
    found = _by_name(parts) if any(not p.isdigit() for p in parts) else _by_numbers(parts)
    if found is None:
        return Refused.UNREADABLE
    day, month, year = found
    try:
        born = dt.date(year if year is not None else NO_YEAR, month, day)
        if year is not None and year < 100:  # 14/08/90: the latest such day that is not in the future
            born = born.replace(year=2000 + year)
            born = born if born <= today else born.replace(year=1900 + year)
    except ValueError:
        return Refused.UNREADABLE
    if year is None:
        return born
    if born > today:
        return Refused.FUTURE
    if today.year - born.year > OLDEST:
        return Refused.TOO_OLD
    return born


def year_known(birthday: dt.date) -> bool:
    return birthday.year != NO_YEAR


def iso(birthday: dt.date) -> str:
    """ISO 8601 text: ``1990-08-14``, or ``--08-14`` (its form for a day without a year) when no year was given."""
    return birthday.isoformat() if year_known(birthday) else f"--{birthday:%m-%d}"


def _tokens(text: str) -> list[str]:
    folded = unicodedata.normalize("NFC", text).casefold()
    folded = _ORDINAL.sub(r"\1", folded)
    parts = [p for p in _SEPARATORS.split(folded) if p and p not in _FILLER]
    # Devanagari digits (१४/०८) read as the digits they are.
    return [_ascii(p) for p in parts]


def _ascii(part: str) -> str:
    return "".join(str(int(ch)) for ch in part) if part.isdecimal() else part


def _by_numbers(parts: list[str]) -> tuple[int, int, int | None] | None:
    """Day, month and the year as typed (two digits stay two digits)."""
    if len(parts) == 3 and len(parts[0]) == 4:
        return int(parts[2]), int(parts[1]), int(parts[0])
    if len(parts) == 3 and len(parts[2]) in (2, 4):
        year: int | None = int(parts[2])
    elif len(parts) == 2:
        year = None
    else:
        return None
    if any(len(p) > 2 for p in parts[:2]):
        return None
    day, month = int(parts[0]), int(parts[1])
    if month > 12 >= day:  # 08/14 can only be 14 August
        day, month = month, day
    return day, month, year


def _by_name(parts: list[str]) -> tuple[int, int, int | None] | None:
    months = [MONTH_NAMES[p] for p in parts if p in MONTH_NAMES]
    numbers = [p for p in parts if p.isdigit()]
    if len(months) != 1 or len(months) + len(numbers) != len(parts):
        return None
    days = [int(p) for p in numbers if len(p) <= 2]
    years = [int(p) for p in numbers if len(p) == 4]
    if len(days) != 1 or len(years) > 1 or len(days) + len(years) != len(numbers):
        return None
    return days[0], months[0], years[0] if years else None
