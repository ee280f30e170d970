"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, the app, a clock.

PostgreSQL is not optional: when it cannot be reached the tests that need it
fail with the reason, they never skip. ``make test`` starts (or installs) it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from domain.db import Base, Database, make_engine
from loyalty.migrate import upgrade
from tests.fakes import FrozenClock

PG_SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgresql")
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"


def pytest_configure(config: pytest.Config) -> None:
    import bot.models  # noqa: F401
    import domain.models  # noqa: F401
    import erp.models  # noqa: F401


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under ``--dist loadgroup``, fail a grouped test that xdist did not tag with its group.

    The tests that take tens of PostgreSQL connections at once rely on their group to run one after
    another; when a pytest/xdist pair stops honouring the mark (pytest 9.2 with xdist 3.8 did, and
    nothing said so), they run side by side and now and then exhaust the server's slots.
    """
    grouped = item.config.getoption("loadgroup", default=False) and item.get_closest_marker("xdist_group")
    if grouped and "@" not in item.nodeid:
        pytest.fail(
            "pytest-xdist ignored this test's xdist_group mark: this pytest and pytest-xdist do not work "
            "together; install the versions in requirements-dev.txt",
            pytrace=False,
        )


@pytest.fixture(scope="session", autouse=True)
def bot_translations() -> None:
    """The bot's ``.mo`` catalogs, compiled if missing (``make translations`` does it too), so bare pytest works."""
    from bot.texts import compile_catalogs

    compile_catalogs()


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL server URL, checked once; a clear failure when it is missing."""
    engine = make_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(
            f"PostgreSQL is required and unreachable at {make_url(PG_SERVER_URL).render_as_string()}: {exc}. "
            "Run `make test` (it starts or installs it) or set TEST_DATABASE_URL.",
            pytrace=False,
        )
    finally:
        engine.dispose()
    return PG_SERVER_URL


def _pg_create(server_url: str, name: str) -> str:
    engine = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _pg_drop(server_url: str, name: str) -> None:
    engine = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_migrated_url(pg_server: str, worker_id: str) -> Iterator[str]:
    """One migrated PostgreSQL database per test worker, dropped at the end."""
    name = f"loyalty_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    url = _pg_create(pg_server, name)
    upgrade(url)
    yield url
    _pg_drop(pg_server, name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    """xdist's worker id, or 'main' when running without xdist."""
    workerinput: dict[str, Any] | None = getattr(request.config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "main"


def _truncate_all(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def _make_db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        db = Database(f"sqlite:///{path}")
        yield db
        db.dispose()
        return
    url: str = request.getfixturevalue("pg_migrated_url")
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()
        cleaner = Database(url)
        _truncate_all(cleaner)
        cleaner.dispose()  # an engine left to the garbage collector holds a server slot until then


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    param: str = request.param
    return param


@pytest.fixture
def database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A freshly migrated, empty database on each backend."""
    yield from _make_db(backend, request, tmp_path)


@pytest.fixture
def pg_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """PostgreSQL only: for row locking, concurrency and advisory locks."""
    yield from _make_db("postgresql", request, tmp_path)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def app_config(db_url: str, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True,
        "DATABASE_URL": db_url,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_TOKEN": None,
        "WHATSAPP_PHONE_ID": None,
        "WTF_CSRF_ENABLED": True,
    }
    config.update(extra)
    return config


@pytest.fixture
def app(database: Database, clock: FrozenClock) -> Iterator[Flask]:
    from loyalty import create_app

    application = create_app(app_config(database.url))
    application.extensions["loyalty.clock"] = clock
    yield application
    application.extensions["loyalty.db"].dispose()


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()
