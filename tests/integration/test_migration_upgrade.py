"""Retailers upgrade in place: a database full of data from a released schema upgrades to head intact.

The data in ``tests/fixtures/migrations/0001_data.sql`` was written by the release whose
schema is revision 0001 (demo seed, chats, a staff user, sent and failed messages). Each
new revision must carry it over; add checks here for what a revision transforms.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from domain import consents, customers, ledger, totals
from domain.db import Database, make_engine
from domain.rules import load_rules
from loyalty.migrate import alembic_config, upgrade
from tests.conftest import _pg_create, _pg_drop

ROOT = Path(__file__).resolve().parents[2]
DATA_0001 = ROOT / "tests" / "fixtures" / "migrations" / "0001_data.sql"
# Released revisions never change again: a retailer's database already ran them.
RELEASED = {"0001": "fc7d45d28880a31ad9ff9774b3d57176399bc206dbcafd2eb189ce33be478139"}

pytestmark = pytest.mark.postgres


@pytest.fixture
def url_at_0001(pg_server: str) -> Iterator[str]:
    name = f"loyalty_upgrade_{uuid.uuid4().hex[:8]}"
    url = _pg_create(pg_server, name)
    upgrade(url, "0001")
    engine = make_engine(url)
    with engine.begin() as conn:
        # The dump lists rows table by table; customers refer to customers (referrals).
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.connection.driver_connection.cursor().execute(DATA_0001.read_text())  # type: ignore[union-attr]
    engine.dispose()
    yield url
    _pg_drop(pg_server, name)


def _counts(url: str, tables: list[str]) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
    engine.dispose()
    return counts


def test_data_from_0001_survives_the_upgrade_to_head(url_at_0001: str) -> None:
    engine = make_engine(url_at_0001)
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    engine.dispose()
    before = _counts(url_at_0001, tables)
    assert before["customers"] == 7 and before["ledger_entries"] == 12 and before["outbox"] == 2

    upgrade(url_at_0001)

    assert _counts(url_at_0001, tables) == before
    db = Database(url_at_0001)
    try:
        with db.unit_of_work() as session:
            assert ledger.verify(session) == []
            asha = customers.get_by_phone(session, "+919812345678")
            assert (asha.name, asha.points_balance, asha.tier) == ("Asha Verma", 277, "gold")
            ravi = customers.get_by_phone(session, "+919876543210")
            assert (ravi.language, ravi.opted_in, ravi.referral_code) == ("hi", True, "96YKDW")
            # 0002: the opt-in flag is carried into the consent ledger; marketing starts withdrawn.
            carried = consents.history(session, ravi.id)
            assert [(c.purpose, c.granted, c.channel, c.actor) for c in carried] == [
                ("service", True, "migration", "demo")
            ]
            assert carried[0].recorded_at == ravi.opt_in_changed_at
            assert not ravi.marketing_opt_in and consents.mismatches(session) == []
            # 0006: nobody is erased or warned yet; the totals add up on old data (no forfeits).
            figures = totals.program_totals(session)
            assert figures.members == 7 and figures.points_forfeited == 0
            assert figures.points_outstanding == (
                figures.points_earned - figures.points_redeemed - figures.points_expired - figures.points_forfeited
            )
            rules = load_rules(session)
            assert (rules.points_per_unit, rules.expiry_months, rules.point_value) == (2, 18, Decimal("0.50"))
        # Sequences carried on: a new member gets a fresh id, not one of the loaded rows'.
        with db.unit_of_work() as session:
            new, created = customers.enrol(session, customers.NewCustomer(phone="+919700000999"), asha.created_at, 91)
            assert created and new.id > 7
    finally:
        db.dispose()


def test_released_revisions_are_frozen() -> None:
    versions = ROOT / "migrations" / "versions"
    for revision, digest in RELEASED.items():
        (path,) = versions.glob(f"{revision}_*.py")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path.name} was edited; add a revision"


def test_revisions_form_one_line() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions[-1].revision == "0001" and revisions[-1].down_revision is None
