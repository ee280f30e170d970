"""An ERP database in PostgreSQL, read through unixODBC and the PostgreSQL ODBC driver."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from domain.db import Database, make_engine
from tests.conftest import app_config
from tests.fakes import FrozenClock
from tests.integration.erp.layout import ErpDb

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def erp_database(pg_server: str, worker_id: str) -> Iterator[str]:
    """A uniquely named database on the local server, standing in for the ERP."""
    name = f"erp_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    engine = make_engine(pg_server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield name
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def erp(pg_server: str, erp_database: str) -> Iterator[ErpDb]:
    """The ERP in its default layout, empty."""
    url = make_url(pg_server).set(database=erp_database, drivername="postgresql")
    db = ErpDb(url.render_as_string(hide_password=False), erp_database)
    db.reset()
    yield db
    db.close()


def make_erp_app(database: Database, clock: FrozenClock, erp: ErpDb, **extra: Any) -> Flask:
    from loyalty import create_app

    config = app_config(database.url, ERP_ODBC=erp.odbc, **extra)
    application = create_app(config)
    application.extensions["loyalty.clock"] = clock
    return application


@pytest.fixture
def erp_app(database: Database, clock: FrozenClock, erp: ErpDb) -> Iterator[Flask]:
    """The app on SQLite and on PostgreSQL, with ERP_ODBC pointing at the test ERP."""
    application = make_erp_app(database, clock, erp)
    yield application
    application.extensions["loyalty.db"].dispose()


def small_batches(tmp_path: Path, size: int) -> str:
    """The shipped mapping with another batch size, to make batches visible in tests."""
    text_ = (ROOT / "erp" / "mapping.toml").read_text().replace("batch_size = 1000", f"batch_size = {size}")
    path = tmp_path / "mapping.toml"
    path.write_text(text_)
    return str(path)
