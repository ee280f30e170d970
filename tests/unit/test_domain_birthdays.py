"""Reading birthdays as members type them (``domain.birthdays.read``)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.texts import Texts
from domain.birthdays import NO_YEAR, Refused, iso, read, year_known
from domain.consents import is_minor

TODAY = dt.date(2026, 6, 15)
AUG_14 = dt.date(NO_YEAR, 8, 14)


@pytest.mark.parametrize(
    ("typed", "born"),
    [
        ("14/08", AUG_14),
        ("14-08", AUG_14),
        ("14.08", AUG_14),
        ("4/8", dt.date(NO_YEAR, 8, 4)),
        ("14-08-1990", dt.date(1990, 8, 14)),
        ("14/08/1990", dt.date(1990, 8, 14)),
        ("14/08/90", dt.date(1990, 8, 14)),
        ("14/08/05", dt.date(2005, 8, 14)),
        ("1990-08-14", dt.date(1990, 8, 14)),
        ("1990/8/14", dt.date(1990, 8, 14)),
        ("14 Aug", AUG_14),
        ("14 aug 1990", dt.date(1990, 8, 14)),
        ("14 AUGUST", AUG_14),
        ("Aug 14", AUG_14),
        ("August 14, 1990", dt.date(1990, 8, 14)),
        ("14th August", AUG_14),
        ("14th of August 1990", dt.date(1990, 8, 14)),
        ("1st Sept", dt.date(NO_YEAR, 9, 1)),
        ("  14 / 08  ", AUG_14),
        ("08/14", AUG_14),  # the other order, only where it cannot mean anything else
        ("14 अगस्त", AUG_14),
        ("14 अगस्त 1990", dt.date(1990, 8, 14)),
        ("२ फ़रवरी", dt.date(NO_YEAR, 2, 2)),
        ("१४/०८/१९९०", dt.date(1990, 8, 14)),
        ("29/02", dt.date(NO_YEAR, 2, 29)),  # a leap day without a year is still a birthday
        ("29-02-2000", dt.date(2000, 2, 29)),
        ("15/06/2026", TODAY),
    ],
)
def test_common_ways_of_writing_a_birthday(typed: str, born: dt.date) -> None:
    assert read(typed, TODAY) == born


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("hello", Refused.UNREADABLE),
        ("", Refused.UNREADABLE),
        ("14", Refused.UNREADABLE),
        ("aug", Refused.UNREADABLE),
        ("aug 1990", Refused.UNREADABLE),
        ("31/06", Refused.UNREADABLE),
        ("32/01/1990", Refused.UNREADABLE),
        ("13/13", Refused.UNREADABLE),
        ("00/00", Refused.UNREADABLE),
        ("29-02-2001", Refused.UNREADABLE),
        ("14 aug sep", Refused.UNREADABLE),
        ("14 15 aug", Refused.UNREADABLE),
        ("14/08/19901", Refused.UNREADABLE),
        ("140/08", Refused.UNREADABLE),
        ("14/08/1990/2", Refused.UNREADABLE),
        ("my birthday is soon", Refused.UNREADABLE),
        ("16/06/2026", Refused.FUTURE),
        ("14/08/2030", Refused.FUTURE),
        ("2030-01-01", Refused.FUTURE),
        ("01/01/1850", Refused.TOO_OLD),
        ("1900-01-01", Refused.TOO_OLD),
    ],
)
def test_nonsense_future_and_impossible_dates_are_refused(typed: str, why: Refused) -> None:
    assert read(typed, TODAY) is why


def test_a_two_digit_year_is_never_in_the_future() -> None:
    assert read("14/08/26", TODAY) == dt.date(1926, 8, 14)
    assert read("14/05/26", TODAY) == dt.date(2026, 5, 14)


def test_a_birthday_without_a_year_keeps_no_age() -> None:
    assert not year_known(AUG_14) and year_known(dt.date(1990, 8, 14))
    assert not is_minor(AUG_14, TODAY)  # an unknown age counts as an adult's, as no birthday does


@pytest.mark.parametrize(("locale", "shown"), [("en_IN", "14 Aug"), ("hi_IN", "14 अग॰")])
def test_a_birthday_without_a_year_is_shown_without_one(locale: str, shown: str) -> None:
    t = Texts(language=locale[:2], locale=locale)
    assert t.birthday(AUG_14) == shown
    assert t.birthday(dt.date(1990, 8, 14)) == t.date(dt.date(1990, 8, 14))


def test_iso_text_leaves_out_a_year_that_was_not_given() -> None:
    assert iso(dt.date(1990, 8, 14)) == "1990-08-14"
    assert iso(dt.date(NO_YEAR, 2, 29)) == "--02-29"
