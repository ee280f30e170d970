"""Customers: one per E.164 phone, whatever format; search."""

from __future__ import annotations

import threading

import pytest

from domain.customers import Customer, NewCustomer, enrol, get_by_phone, search
from domain.db import Database
from domain.errors import InvalidPhone, NotFound, ValidationError
from tests.domain_factories import NOW


def test_three_formats_are_one_customer(database: Database) -> None:
    with database.unit_of_work() as s:
        first, created = enrol(s, NewCustomer(phone="098123 45678", source="staff"), NOW)
        assert created and first.phone == "+919812345678"
        second, created2 = enrol(s, NewCustomer(phone="+91-98123-45678", name="Asha", erp_customer_id="C9"), NOW)
        third, created3 = enrol(s, NewCustomer(phone="919812345678", source="whatsapp"), NOW)
        assert (second.id, third.id, created2, created3) == (first.id, first.id, False, False)
        # Blanks are filled, nothing is overwritten.
        assert (first.name, first.erp_customer_id, first.source) == ("Asha", "C9", "staff")
        assert get_by_phone(s, "9812345678").id == first.id


def test_new_customer_defaults(database: Database) -> None:
    with database.unit_of_work() as s:
        c, _ = enrol(s, NewCustomer(phone="9812345678", name="  Ravi  ", language="hi"), NOW)
        assert (c.name, c.language, c.tier, c.points_balance, c.opted_in, c.created_at) == (
            "Ravi",
            "hi",
            "silver",
            0,
            False,
            NOW,
        )
        assert len(c.referral_code) == 6


def test_enrol_refusals(database: Database) -> None:
    with database.unit_of_work() as s:
        with pytest.raises(InvalidPhone, match="too few digits"):
            enrol(s, NewCustomer(phone="98123"), NOW)
        with pytest.raises(ValidationError, match="language"):
            enrol(s, NewCustomer(phone="9812345678", language="fr"), NOW)
        with pytest.raises(ValidationError, match="source"):
            enrol(s, NewCustomer(phone="9812345678", source="carrier-pigeon"), NOW)
        with pytest.raises(NotFound):
            get_by_phone(s, "9812345678")


def test_referral_codes_are_unique(database: Database) -> None:
    with database.unit_of_work() as s:
        codes = {enrol(s, NewCustomer(phone=f"+9198100{i:05d}"), NOW)[0].referral_code for i in range(200)}
        assert len(codes) == 200


def test_search_by_phone_in_any_format_code_or_name(database: Database) -> None:
    with database.unit_of_work() as s:
        asha, _ = enrol(s, NewCustomer(phone="9812345678", name="Asha Verma", erp_customer_id="C1"), NOW)
        enrol(s, NewCustomer(phone="9876543210", name="Ravi"), NOW)
        assert [c.id for c in search(s, "098123 45678")] == [asha.id]
        assert [c.id for c in search(s, asha.referral_code.lower())] == [asha.id]
        assert [c.id for c in search(s, "verma")] == [asha.id]
        assert [c.id for c in search(s, "C1")] == [asha.id]
        assert [c.id for c in search(s, "45678")] == [asha.id]
        assert len(search(s, "")) == 2


def test_two_first_messages_at_once_make_one_customer(pg_database: Database) -> None:
    barrier = threading.Barrier(8)
    ids: list[int] = []
    errors: list[BaseException] = []

    def first_message() -> None:
        barrier.wait()
        try:
            with pg_database.unit_of_work() as s:
                ids.append(enrol(s, NewCustomer(phone="919812345678"), NOW)[0].id)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=first_message) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(set(ids)) == 1 and len(ids) == 8
    with pg_database.unit_of_work() as s:
        assert s.query(Customer).count() == 1
