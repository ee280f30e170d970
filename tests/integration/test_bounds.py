"""Numbers and text at the edges: each out-of-range value gets a clear refusal, never a traceback or a 500.

On PostgreSQL an unchecked value over 2^31 - 1 is "integer out of range" mid-transaction; a NUL byte
cannot be sent at all. Both backends run every test.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from domain.customers import Customer
from domain.db import Database
from domain.rewards import Reward
from tests.domain_factories import make_customer
from tests.integration.test_admin_security import staff_client
from tests.integration.test_cli import one_line_failure

PHONE = "+919812345678"
HUGE = str(10**30)


@pytest.fixture
def manager(app: Flask, database: Database) -> Any:
    return staff_client(app, database, "manager")


# The command line


@pytest.mark.parametrize("points", [HUGE, str(2**31), str(-(2**31)), "1000001", "-1000001"])
def test_points_award_out_of_range_is_one_line(runner: Any, database: Database, points: str) -> None:
    with database.unit_of_work() as session:
        make_customer(session, phone=PHONE)
    result = runner.invoke(args=["points", "award", PHONE, points, "--reason", "typo"])
    one_line_failure(result, "points must be between -1,000,000 and 1,000,000")
    assert runner.invoke(args=["points", "balance", PHONE]).output.startswith(f"{PHONE}: 0 points")


def test_points_award_cannot_push_a_balance_past_the_column(runner: Any, database: Database) -> None:
    with database.unit_of_work() as session:
        make_customer(session, phone=PHONE).points_balance = 1_999_999_999
    result = runner.invoke(args=["points", "award", PHONE, "1000", "--reason", "top up"])
    one_line_failure(result, "the balance after the adjustment must be between")


@pytest.mark.parametrize(
    ("option", "value", "phrase"),
    [
        ("--cost", HUGE, "points cost must be a positive whole number up to 10,000,000"),
        ("--cost", str(2**31), "points cost must be a positive whole number up to 10,000,000"),
        ("--cost", "0", "points cost must be a positive whole number up to 10,000,000"),
        ("--stock", HUGE, "stock must be between 0 and 10,000,000"),
        ("--limit", str(2**40), "the per-customer limit must be a positive whole number up to 1,000"),
    ],
)
def test_rewards_add_out_of_range_is_one_line(
    runner: Any, database: Database, option: str, value: str, phrase: str
) -> None:
    args = ["rewards", "add", "Mug", "--cost", "100", option, value]
    one_line_failure(runner.invoke(args=args), phrase)
    with database.unit_of_work() as session:
        assert session.scalar(select(func.count(Reward.id))) == 0


# The console


@pytest.mark.parametrize(
    "query",
    ["kind=ledger&start=2026-01-01&end=9999-12-31", "kind=members&start=0001-01-01", "kind=ledger&end=2300-01-01"],
)
def test_a_report_range_past_the_calendar_is_refused(manager: Any, query: str) -> None:
    response = manager.get(f"/admin/reports?{query}")
    assert response.status_code == 400
    assert "Dates must be between 1970-01-01 and 2199-12-31." in response.get_data(as_text=True)


def test_a_report_ending_before_it_starts_is_refused(manager: Any) -> None:
    response = manager.get("/admin/reports?kind=ledger&start=2026-02-01&end=2026-01-01")
    assert response.status_code == 400
    assert "The end date is before the start date." in response.get_data(as_text=True)


def test_the_audit_filter_refuses_dates_past_the_calendar(manager: Any) -> None:
    response = manager.get("/admin/audit?end=9999-12-31")
    assert response.status_code == 400
    assert "Dates must be between" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/customers", "/admin/audit", "/admin/rewards", "/admin/messages"])
@pytest.mark.parametrize("page", [HUGE, str(2**63), "10001"])
def test_a_huge_page_number_is_refused_in_words(manager: Any, path: str, page: str) -> None:
    response = manager.get(f"{path}?page={page}")
    assert response.status_code == 400
    assert "The page number must be between 1 and 10,000." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/admin/customers/{n}", "/admin/rewards/{n}", "/admin/affiliates/{n}", "/admin/users/{n}"]
)
@pytest.mark.parametrize("n", [HUGE, str(2**31), str(2**63)])
def test_a_huge_id_is_not_found(app: Flask, database: Database, path: str, n: str) -> None:
    admin = staff_client(app, database, "admin")
    response = admin.get(path.format(n=n))
    assert response.status_code == 404


@pytest.mark.parametrize("query", ["q=%00", "q=asha%00", "q=%00%00&page=2", "actor=%00"])
def test_a_nul_byte_is_refused_in_words(manager: Any, query: str) -> None:
    path = "/admin/audit" if query.startswith("actor") else "/admin/customers"
    response = manager.get(f"{path}?{query}")
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)


def test_a_nul_byte_in_a_form_is_refused(manager: Any, database: Database) -> None:
    from tests.integration.test_admin_security import csrf_token

    token = csrf_token(manager, "/admin/rewards/new")
    response = manager.post("/admin/rewards/new", data={"csrf_token": token, "name": "Mug\x00", "points_cost": "5"})
    assert response.status_code == 400
    with database.unit_of_work() as session:
        assert session.scalar(select(func.count(Reward.id))) == 0


@pytest.mark.parametrize(("query", "expected"), [("%%", []), ("_", []), ("50%", ["50% Off Club"]), ("a_b", ["a_b"])])
def test_like_wildcards_are_searched_for_as_characters(
    manager: Any, database: Database, query: str, expected: list[str]
) -> None:
    with database.unit_of_work() as session:
        for name in ("Asha Verma", "Ravi Kumar", "50% Off Club", "a_b", "axb"):
            make_customer(session, name=name)
    from urllib.parse import quote

    page = manager.get(f"/admin/customers?q={quote(query)}").get_data(as_text=True)
    with database.unit_of_work() as session:
        names = list(session.scalars(select(Customer.name)))
    assert sorted(n for n in names if f">{n}<" in page) == expected


@pytest.mark.parametrize("field", ["bonus_points", "min_amount"])
def test_a_campaign_number_past_its_column_is_refused(app: Flask, database: Database, field: str) -> None:
    from domain.earning import Campaign
    from tests.integration.test_admin_security import csrf_token

    admin = staff_client(app, database, "admin")
    data = {"name": "Diwali", "starts_on": "2026-10-01", "ends_on": "2026-10-31", "multiplier": "2"}
    data |= {"bonus_points": "0", "min_amount": "0", field: HUGE, "csrf_token": csrf_token(admin, "/admin/settings")}
    response = admin.post("/admin/settings/campaigns", data=data)
    assert response.status_code == 400
    assert "Number must be between 0 and" in response.get_data(as_text=True)
    with database.unit_of_work() as session:
        assert session.scalar(select(func.count(Campaign.id))) == 0
