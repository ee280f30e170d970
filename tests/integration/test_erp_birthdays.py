"""Birthdays from the ERP (an optional mapped column), on SQLite and PostgreSQL, feeding the birthday automation."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from domain import automation_runs, automations, consents
from domain.customers import Customer
from domain.db import Database
from erp import sync
from tests.conftest import app_config
from tests.fakes import FrozenClock
from tests.fakes_erp import FakeReader

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 6, 1, 9, 0)
BIRTHDAY_FIELD = 'birthday = { column = "DateOfBirth", transform = "date" }\n'


@pytest.fixture
def erp_app(database: Database, clock: FrozenClock, tmp_path: Path) -> Iterator[Flask]:
    from loyalty import create_app

    mapping = tmp_path / "mapping.toml"
    text = (ROOT / "erp" / "mapping.toml").read_text()
    mapping.write_text(text.replace('# birthday = { column = "DateOfBirth", transform = "date" }\n', BIRTHDAY_FIELD))
    app = create_app(app_config(database.url, ERP_MAPPING_FILE=str(mapping)))
    app.extensions["loyalty.clock"] = clock
    yield app
    app.extensions["loyalty.db"].dispose()


def customers(*born: Any, modified: dt.datetime = T0) -> list[dict[str, Any]]:
    return [
        {
            "CustomerID": n,
            "CustomerName": f"C{n}",
            "MobileNo": f"98123 4570{n}",
            "Email": None,
            "DateOfBirth": day,
            "CreatedOn": T0,
            "ModifiedOn": modified,
        }
        for n, day in enumerate(born, start=1)
    ]


def tables(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {"Customers": rows, "Products": [], "SalesOrders": [], "SalesOrderItems": [], "SalesReturns": []}


def synced(app: Flask, rows: list[dict[str, Any]]) -> dict[str, dt.date | None]:
    app.extensions["erp.reader_factory"] = lambda: FakeReader(tables(rows))
    assert sync.run(app, entities=["customers"]).status == "ok"
    with app.extensions["loyalty.db"].unit_of_work() as s:
        return {c.erp_customer_id: c.birthday for c in s.scalars(select(Customer).order_by(Customer.id))}


def test_the_erps_birthday_is_stored_and_the_automation_uses_it(
    erp_app: Flask, database: Database, clock: FrozenClock
) -> None:
    born = synced(erp_app, customers(dt.date(1990, 6, 15), "1985-06-16", None, dt.date(2031, 1, 1)))
    # A DATE column is the ERP's own day, whatever its time zone; a birthday in the future is a typo, left out.
    assert born == {"1": dt.date(1990, 6, 15), "2": dt.date(1985, 6, 16), "3": None, "4": None}
    with database.unit_of_work() as s:
        settings = dataclasses.replace(automations.load(s, "birthday"), enabled=True, bonus_points=20)
        automations.save(s, settings, actor="admin@example.com", now=clock.now())
    assert automation_runs.run_automations(database.unit_of_work, clock.now())["birthday"] == 1


def test_a_birthday_from_the_erp_that_makes_a_member_a_minor_stops_marketing(
    erp_app: Flask, database: Database, clock: FrozenClock
) -> None:
    synced(erp_app, customers(None))
    with database.unit_of_work() as s:
        member = s.scalar(select(Customer))
        assert member is not None
        consents.record(s, member, consents.MARKETING, True, channel="whatsapp", now=clock.now() - dt.timedelta(1))
    later = T0 + dt.timedelta(days=1)
    assert synced(erp_app, customers(dt.date(2012, 3, 4), modified=later)) == {"1": dt.date(2012, 3, 4)}
    with database.unit_of_work() as s:
        member = s.scalar(select(Customer))
        assert member is not None and member.marketing_opt_in is False
