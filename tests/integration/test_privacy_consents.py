"""Who could we message for marketing on date D, exactly; children; WhatsApp's "Stop promotions"."""

from __future__ import annotations

import datetime as dt

import pytest

from domain import consents
from domain.consents import GUARDIAN, MARKETING, SERVICE
from domain.customers import NewCustomer, enrol
from domain.db import Database
from domain.errors import ParentalConsentRequired, ValidationError
from tests.domain_factories import NOW

DAY = dt.timedelta(days=1)


def test_the_ledger_answers_who_could_be_messaged_for_marketing_on_each_day(database: Database) -> None:
    """Five members, a month of changes through every channel; each day's answer is checked against a
    hand-written table."""
    with database.unit_of_work() as s:
        people = [enrol(s, NewCustomer(phone=f"+9198000000{n:02d}"), NOW)[0] for n in range(5)]
        a, b, c, d, kid = people
        kid.birthday = (NOW - 15 * 365 * DAY).date()
        consents.record(s, a, MARKETING, True, channel="whatsapp", now=NOW + 1 * DAY, notice_version="v1")
        consents.record(s, a, MARKETING, False, channel="stop_promotions", now=NOW + 5 * DAY)
        consents.record(s, a, MARKETING, True, channel="till", now=NOW + 9 * DAY, actor="till-2")
        consents.record(s, b, MARKETING, True, channel="api", now=NOW + 2 * DAY, actor="webshop")
        consents.record(s, b, SERVICE, False, channel="whatsapp", now=NOW + 3 * DAY)  # STOP of service only
        consents.record(s, c, SERVICE, True, channel="whatsapp", now=NOW)  # never marketing
        consents.record(s, d, MARKETING, True, channel="console", now=NOW + 4 * DAY, actor="staff")
        consents.record(s, d, MARKETING, False, channel="erasure", now=NOW + 7 * DAY)
        with pytest.raises(ParentalConsentRequired):
            consents.record(s, kid, MARKETING, True, channel="whatsapp", now=NOW + 2 * DAY)
        consents.record(s, kid, GUARDIAN, True, channel="console", now=NOW + 6 * DAY, actor="staff (saw the mother)")
        consents.record(s, kid, MARKETING, True, channel="whatsapp", now=NOW + 6 * DAY)
        consents.record(s, kid, GUARDIAN, False, channel="console", now=NOW + 8 * DAY)  # withdraws marketing too
        expected = {
            0: set(),
            1: {a},
            2: {a, b},
            3: {a, b},
            4: {a, b, d},
            5: {b, d},
            6: {b, d, kid},
            7: {b, kid},
            8: {b},
            9: {a, b},
            30: {a, b},
        }
        for day, members in expected.items():
            when = NOW + day * DAY + dt.timedelta(hours=1)
            assert set(s.scalars(consents.consented_at(MARKETING, when))) == {m.id for m in members}, day
        assert consents.mismatches(s) == [] and consents.minors_marketed(s, (NOW + 30 * DAY).date()) == []
        assert set(s.scalars(consents.consented_at(SERVICE, NOW + 4 * DAY))) == {c.id}


def test_a_birthday_that_makes_a_member_a_minor_stops_marketing(database: Database) -> None:
    with database.unit_of_work() as s:
        c, _ = enrol(s, NewCustomer(phone="+919800000001"), NOW)
        consents.record(s, c, MARKETING, True, channel="whatsapp", now=NOW)
        assert consents.set_birthday(s, c, dt.date(1990, 1, 1), channel="erp", now=NOW) is False
        assert c.marketing_opt_in
        assert consents.set_birthday(s, c, dt.date(2012, 3, 4), channel="erp", now=NOW + DAY) is True
        assert not c.marketing_opt_in and consents.history(s, c.id)[-1].channel == "erp"
        assert set(s.scalars(consents.consented_at(MARKETING, NOW + 2 * DAY))) == set()
        with pytest.raises(ValidationError, match="future"):
            consents.set_birthday(s, c, (NOW + 3 * DAY).date(), channel="erp", now=NOW)
        with pytest.raises(ValidationError, match="whoever checked"):
            consents.record(s, c, GUARDIAN, True, channel="console", now=NOW)


def test_minors_marked_for_marketing_behind_the_ledgers_back_are_found(database: Database) -> None:
    with database.unit_of_work() as s:
        c, _ = enrol(s, NewCustomer(phone="+919800000002"), NOW)
        consents.record(s, c, MARKETING, True, channel="whatsapp", now=NOW)
        c.birthday = dt.date(NOW.year - 17, 1, 1)  # written directly, not through set_birthday
        s.flush()
        assert consents.minors_marketed(s, NOW.date()) == [c.id]
        assert not consents.is_minor(dt.date(NOW.year - 18, NOW.month, NOW.day), NOW.date())
        assert consents.is_minor(dt.date(NOW.year - 18, NOW.month, NOW.day) + DAY, NOW.date())
