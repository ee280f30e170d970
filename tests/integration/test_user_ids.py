"""``domain.user_ids``: members known by a WhatsApp user id only, and linking one to a phone membership."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from domain import user_ids
from domain.customers import Customer, chat_address
from domain.db import Database
from domain.errors import ValidationError
from tests.domain_factories import NOW, give_points, make_customer
from tests.integration.test_concurrency import run_together

USER_ID = "IN.5550987654321098765"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("IN.1234567890123456", True),
        ("US.ENT.11815799212886844830", True),
        ("BR.abcDEF123", True),
        ("+919812345678", False),
        ("919812345678", False),
        ("IN." + "1" * 129, False),
        ("in.123", False),
        ("IN.12 34", False),
    ],
)
def test_the_documented_form_of_a_user_id(value: str, valid: bool) -> None:
    assert user_ids.is_user_id(value) is valid


def test_a_member_by_user_id_has_no_phone_and_is_written_to_at_the_id(database: Database) -> None:
    with database.unit_of_work() as session:
        member, created = user_ids.enrol(session, USER_ID, "Meera", "hi", NOW)
        again, created_again = user_ids.enrol(session, USER_ID, "Someone", "en", NOW)
        assert (created, created_again, again.id) == (True, False, member.id)
        assert (member.phone, member.wa_user_id, member.language) == (None, USER_ID, "hi")
        assert chat_address(member) == USER_ID
        assert user_ids.find_member(session, USER_ID) is member
        with pytest.raises(ValidationError):
            user_ids.enrol(session, "+919812345678", None, "en", NOW)


def test_one_member_per_user_id_in_the_database(database: Database) -> None:
    with pytest.raises(IntegrityError), database.unit_of_work() as session:
        first = make_customer(session)
        second = make_customer(session)
        first.wa_user_id = USER_ID
        session.flush()
        second.wa_user_id = USER_ID
        session.flush()


def test_first_messages_at_once_enrol_one_member(pg_database: Database) -> None:
    def task(_: int) -> str:
        with pg_database.unit_of_work() as session:
            _, created = user_ids.enrol(session, USER_ID, "Meera", "en", NOW)
        return "created" if created else "found"

    outcomes = run_together(8, task)
    assert outcomes["created"] == 1 and outcomes["found"] == 7, outcomes
    with pg_database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1


def test_linking_folds_an_empty_membership_of_the_user_id_into_the_phone_one(database: Database) -> None:
    with database.unit_of_work() as session:
        phone_member = make_customer(session, name="Asha")
        own, _ = user_ids.enrol(session, USER_ID, "Meera", "en", NOW)
        user_ids.link(session, USER_ID, phone_member, now=NOW, hash_key="k")
        assert phone_member.wa_user_id == USER_ID
        assert own.is_erased and own.wa_user_id is None
        assert user_ids.find_member(session, USER_ID) is phone_member


def test_a_user_id_whose_own_membership_has_points_is_not_moved(database: Database) -> None:
    with database.unit_of_work() as session:
        phone_member = make_customer(session)
        own, _ = user_ids.enrol(session, USER_ID, "Meera", "en", NOW)
        give_points(session, own.id, 10)
        with pytest.raises(user_ids.LinkRefused):
            user_ids.link(session, USER_ID, phone_member, now=NOW, hash_key="k")
        assert own.wa_user_id == USER_ID and phone_member.wa_user_id is None
