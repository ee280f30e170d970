"""Operator commands from CONTRACT.md: exit 0 on success, one line and non-zero on failure."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.engine import make_url

from domain import ledger
from domain.audit import AuditEntry
from domain.customers import Customer
from domain.db import Database, make_engine
from domain.rewards import Reward
from domain.users import StaffUser, check_password
from loyalty import create_app
from tests.conftest import app_config
from tests.domain_factories import NOW, give_points, make_customer

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+919812345678"


def one_line_failure(result: Any, *phrases: str) -> str:
    """The command failed with exit 1, one line of reason, and no traceback."""
    assert result.exit_code == 1, result.output
    out = result.output.strip()
    assert len(out.splitlines()) == 1, out
    assert "Traceback" not in out
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for phrase in phrases:
        assert phrase in out
    return str(out)


def _customer(database: Database, points: int = 0) -> int:
    with database.unit_of_work() as s:
        cid = make_customer(s, phone=PHONE).id
        if points:
            give_points(s, cid, points)
        return cid


# db upgrade on empty databases


@pytest.fixture
def empty_pg_url(pg_server: str) -> Iterator[str]:
    name = f"loyalty_cli_{uuid.uuid4().hex[:8]}"
    engine = make_engine(pg_server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_db_upgrade_on_an_empty_database(backend_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = (
        f"sqlite:///{tmp_path}/new/loyalty.db" if backend_name == "sqlite" else request.getfixturevalue("empty_pg_url")
    )
    app = create_app(app_config(url))
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "latest revision" in result.output
    tables = set(inspect(make_engine(url)).get_table_names())
    assert {"customers", "ledger_entries", "rewards", "staff_users", "alembic_version"} <= tables
    again = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert again.exit_code == 0
    app.extensions["loyalty.db"].dispose()


# demo seed


def test_demo_seed_and_if_empty(runner: Any, database: Database) -> None:
    first = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert first.exit_code == 0, first.output
    assert "demo data ready" in first.output
    with database.unit_of_work() as s:
        customers = s.scalar(select(func.count(Customer.id)))
        balances = s.scalar(select(func.sum(Customer.points_balance)))
        assert customers == 6 and balances > 0
    second = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert second.exit_code == 0 and "skipped" in second.output
    with database.unit_of_work() as s:
        assert s.scalar(select(func.count(Customer.id))) == customers
        assert s.scalar(select(func.sum(Customer.points_balance))) == balances
    verify = runner.invoke(args=["loyalty", "verify"])
    assert verify.exit_code == 0, verify.output


# users create


def test_users_create_hashes_the_password_and_refuses_a_duplicate(runner: Any, database: Database) -> None:
    result = runner.invoke(
        args=["users", "create", "Boss@Shop.example", "--role", "admin", "--password", "correct horse"]
    )
    assert result.exit_code == 0, result.output
    assert "created admin boss@shop.example" in result.output
    with database.unit_of_work() as s:
        user = s.scalars(select(StaffUser)).one()
        assert user.password_hash != "correct horse" and user.password_hash.startswith("scrypt$")
        assert check_password(user.password_hash, "correct horse")
        assert not check_password(user.password_hash, "wrong horse!")
        assert s.scalars(select(AuditEntry.action)).all() == ["user.create"]
    dup = runner.invoke(args=["users", "create", "boss@shop.example", "--role", "support", "--password", "another pw1"])
    one_line_failure(dup, "already exists")


def test_users_create_prompts_for_the_password(runner: Any, database: Database) -> None:
    result = runner.invoke(
        args=["users", "create", "till@shop.example", "--role", "support"], input="long enough\nlong enough\n"
    )
    assert result.exit_code == 0, result.output
    with database.unit_of_work() as s:
        assert check_password(s.scalars(select(StaffUser.password_hash)).one(), "long enough")


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["not-an-email", "--role", "admin", "--password", "long enough"], "not an email"),
        (["a@b.example", "--role", "admin", "--password", "short"], "at least 10"),
    ],
)
def test_users_create_refusals(runner: Any, args: list[str], phrase: str) -> None:
    one_line_failure(runner.invoke(args=["users", "create", *args]), phrase)


# points award / balance


def test_points_award_and_balance(runner: Any, database: Database) -> None:
    cid = _customer(database)
    award = runner.invoke(args=["points", "award", "098123 45678", "120", "--reason", "welcome gift"])
    assert award.exit_code == 0, award.output
    assert "+120 points" in award.output and "balance 120" in award.output
    minus = runner.invoke(args=["points", "award", "919812345678", "-20", "--reason", "typo"])
    assert minus.exit_code == 0, minus.output
    assert "balance 100" in minus.output
    again = runner.invoke(args=["points", "award", PHONE, "120", "--reason", "welcome gift"])
    assert again.exit_code == 0 and "balance 220" in again.output  # each award is its own entry
    bal = runner.invoke(args=["points", "balance", "+91-98123-45678"])
    assert bal.exit_code == 0
    assert bal.output.strip() == f"{PHONE}: 220 points, tier silver"
    with database.unit_of_work() as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(r.action, r.entity_id, r.reason, r.details["points"]) for r in rows] == [
            ("points.adjust", str(cid), "welcome gift", 120),
            ("points.adjust", str(cid), "typo", -20),
            ("points.adjust", str(cid), "welcome gift", 120),
        ]


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["points", "award", "12345", "10", "--reason", "x"], "not a valid phone number"),
        (["points", "award", "+919876543210", "10", "--reason", "x"], "no customer"),
        (["points", "award", PHONE, "-500", "--reason", "x"], "more needed"),
        (["points", "award", PHONE, "0", "--reason", "x"], "must change"),
        (["points", "balance", "abc"], "not a phone number"),
        (["points", "balance", "+919876543210"], "no customer"),
    ],
)
def test_points_commands_fail_in_one_line(runner: Any, database: Database, args: list[str], phrase: str) -> None:
    _customer(database, points=10)
    one_line_failure(runner.invoke(args=args), phrase)
    with database.unit_of_work() as s:
        assert s.scalar(select(Customer.points_balance)) == 10


# rewards add


def test_rewards_add(runner: Any, database: Database) -> None:
    result = runner.invoke(args=["rewards", "add", "Free mug", "--cost", "250", "--stock", "40"])
    assert result.exit_code == 0, result.output
    assert "Free mug for 250 points, stock 40" in result.output
    unlimited = runner.invoke(args=["rewards", "add", "₹100 off", "--cost", "100"])
    assert unlimited.exit_code == 0
    with database.unit_of_work() as s:
        assert [(r.name, r.points_cost, r.stock) for r in s.scalars(select(Reward).order_by(Reward.id))] == [
            ("Free mug", 250, 40),
            ("₹100 off", 100, None),
        ]
        assert s.scalars(select(AuditEntry.action)).all() == ["reward.create", "reward.create"]
    one_line_failure(runner.invoke(args=["rewards", "add", "Bad", "--cost", "0"]), "positive")


# loyalty verify


def test_loyalty_verify_clean_then_exit_1_on_drift(runner: Any, database: Database) -> None:
    cid = _customer(database, points=30)
    ok = runner.invoke(args=["loyalty", "verify"])
    assert ok.exit_code == 0 and "ledger ok" in ok.output
    with database.unit_of_work() as s:
        s.execute(update(Customer).where(Customer.id == cid).values(points_balance=31))
    bad = runner.invoke(args=["loyalty", "verify"])
    assert bad.exit_code == 1
    assert f"customer {cid}: cached 31, ledger 30" in bad.output
    assert "drift in 1 customer balance(s)" in bad.output
    assert "Traceback" not in bad.output


# the real command line, as operators run it


def _flask(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "WHATSAPP_", "SECRET_", "DATABASE_"))}
    full_env.update(env)
    flask = str(Path(sys.executable).parent / "flask")
    return subprocess.run(
        [flask, "--app", str(ROOT / "wsgi.py"), *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_subprocess_commands_end_to_end(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/ops.db", "WHATSAPP_APP_SECRET": "ops-test-secret"}
    assert _flask(["db", "upgrade"], env, tmp_path).returncode == 0
    assert _flask(["demo", "seed", "--if-empty"], env, tmp_path).returncode == 0
    bal = _flask(["points", "balance", "098123 45678"], env, tmp_path)
    assert bal.returncode == 0 and bal.stdout.startswith("+919812345678: ")
    bad = _flask(["points", "balance", "12"], env, tmp_path)
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1] == "Error: '12' is not a valid phone number: too few digits"
    verify = _flask(["loyalty", "verify"], env, tmp_path)
    assert verify.returncode == 0, verify.stderr


def test_unmigrated_database_is_one_line(tmp_path: Path) -> None:
    result = _flask(["points", "balance", "9812345678"], {"DATABASE_URL": f"sqlite:///{tmp_path}/empty.db"}, tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: database unavailable or not migrated")


def test_app_fixture_is_flask(app: Flask) -> None:
    assert app.config["TESTING"] is True


def test_unmigrated_postgresql_is_one_line(empty_pg_url: str) -> None:
    app = create_app(app_config(empty_pg_url))
    result = app.test_cli_runner().invoke(args=["points", "balance", "9812345678"])
    one_line_failure(result, "database unavailable or not migrated", "customers")
    app.extensions["loyalty.db"].dispose()


def test_unreachable_database_is_one_line() -> None:
    app = create_app(app_config("postgresql+psycopg2://nobody@127.0.0.1:1/nothing"))
    for args in (["loyalty", "verify"], ["db", "upgrade"]):
        one_line_failure(app.test_cli_runner().invoke(args=args))
    app.extensions["loyalty.db"].dispose()


def test_demo_seed_twice_changes_no_balance(runner: Any, database: Database, clock: Any) -> None:
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    with database.unit_of_work() as s:
        before = sorted(s.execute(select(Customer.phone, Customer.points_balance)).all())
    clock.advance(hours=3)
    again = runner.invoke(args=["demo", "seed"])
    assert again.exit_code == 0, again.output
    with database.unit_of_work() as s:
        assert sorted(s.execute(select(Customer.phone, Customer.points_balance)).all()) == before
    assert runner.invoke(args=["loyalty", "verify"]).exit_code == 0


def test_points_balance_shows_points_owed(runner: Any, database: Database) -> None:
    cid = _customer(database)
    with database.unit_of_work() as s:
        customer = ledger.lock_customer(s, cid)
        ledger.debit(s, customer, kind="clawback", points=7, key="return", now=NOW, allow_shortfall=True)
    result = runner.invoke(args=["points", "balance", PHONE])
    assert result.output.strip() == f"{PHONE}: 0 points, tier silver, 7 points owed from returns"
