"""The consent ledger: append-only rows per purpose; the member's flags are its cache."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from domain import consents
from domain.consents import MARKETING, SERVICE, Consent
from domain.customers import NewCustomer, enrol
from domain.db import Database
from domain.errors import ValidationError
from tests.domain_factories import NOW

HOUR = dt.timedelta(hours=1)


def test_each_change_is_a_row_and_the_flag_follows(database: Database) -> None:
    with database.unit_of_work() as s:
        c, _ = enrol(s, NewCustomer(phone="9812345678"), NOW)
        assert consents.record(
            s, c, SERVICE, True, channel="whatsapp", now=NOW, notice_version="2026-11", language="hi"
        )
        assert not consents.record(s, c, SERVICE, True, channel="whatsapp", now=NOW + HOUR)  # a plain repeat
        assert (c.opted_in, c.opt_in_changed_at, c.opt_in_source) == (True, NOW, "whatsapp")
        assert consents.record(s, c, MARKETING, True, channel="till", now=NOW + HOUR, actor="till-7")
        assert consents.record(s, c, SERVICE, False, channel="whatsapp", now=NOW + 2 * HOUR)
        assert (c.opted_in, c.marketing_opt_in) == (False, True)
        rows = [(r.purpose, r.granted, r.channel, r.notice_version, r.actor) for r in consents.history(s, c.id)]
        assert rows == [
            (SERVICE, True, "whatsapp", "2026-11", None),
            (MARKETING, True, "till", None, "till-7"),
            (SERVICE, False, "whatsapp", None, None),
        ]
        assert consents.mismatches(s) == []


def test_who_could_be_messaged_on_a_date(database: Database) -> None:
    with database.unit_of_work() as s:
        a, _ = enrol(s, NewCustomer(phone="9800000001"), NOW)
        b, _ = enrol(s, NewCustomer(phone="9800000002"), NOW)
        c, _ = enrol(s, NewCustomer(phone="9800000003"), NOW)
        consents.record(s, a, MARKETING, True, channel="whatsapp", now=NOW)
        consents.record(s, a, MARKETING, False, channel="stop_promotions", now=NOW + 5 * HOUR)
        consents.record(s, b, MARKETING, True, channel="console", now=NOW + 2 * HOUR, actor="staff@example.com")
        consents.record(s, c, SERVICE, True, channel="whatsapp", now=NOW)  # service only: never marketing

        def on(when: dt.datetime) -> set[int]:
            return set(s.scalars(consents.consented_at(MARKETING, when)))

        assert on(NOW - HOUR) == set()
        assert on(NOW + HOUR) == {a.id}
        assert on(NOW + 3 * HOUR) == {a.id, b.id}
        assert on(NOW + 5 * HOUR) == {b.id}
        assert set(s.scalars(consents.consented_at(SERVICE, NOW))) == {c.id}


def test_a_flag_written_behind_the_ledgers_back_is_found(database: Database) -> None:
    with database.unit_of_work() as s:
        c, _ = enrol(s, NewCustomer(phone="9812345678"), NOW)
        d, _ = enrol(s, NewCustomer(phone="9812345679"), NOW)
        consents.record(s, c, MARKETING, True, channel="whatsapp", now=NOW)
        c.marketing_opt_in = False
        d.opted_in = True
        s.flush()
        assert consents.mismatches(s) == sorted([c.id, d.id])


def test_unknown_purpose_or_channel_is_refused(database: Database) -> None:
    with database.unit_of_work() as s:
        c, _ = enrol(s, NewCustomer(phone="9812345678"), NOW)
        with pytest.raises(ValidationError, match="purpose"):
            consents.record(s, c, "newsletter", True, channel="whatsapp", now=NOW)
        with pytest.raises(ValidationError, match="channel"):
            consents.record(s, c, SERVICE, True, channel="pigeon", now=NOW)
        assert s.scalars(select(Consent)).all() == []
