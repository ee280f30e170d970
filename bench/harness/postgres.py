"""Scratch databases on the local PostgreSQL server (``TEST_DATABASE_URL``, trust auth by default).

Every bench builds its data in databases of its own and drops them at the end, so runs never see each
other's rows and a crashed run leaves nothing that a later one trips over.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url

from domain.db import make_engine

SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres")


def database_url(name: str) -> str:
    """The URL of database ``name`` on the server, password included (children and gunicorn need it)."""
    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


def create_database(name: str, *, migrate: bool = False) -> str:
    """Create database ``name`` (migrated to the app's schema if ``migrate``) and return its URL."""
    _run_on_server(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    if migrate:
        _migrate(url)
    return url


def drop_database(name: str) -> None:
    """Drop database ``name`` even while connections to it are open (a bench's servers may still hold some)."""
    _run_on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def unique_name(prefix: str) -> str:
    """``<prefix>_<8 hex digits>``: runs side by side on one server (other engineers', too) never collide."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@contextmanager
def scratch_database(prefix: str, *, migrate: bool = True, keep: bool = False) -> Iterator[str]:
    """A new database named ``<prefix>_<random>``, yielded as its URL and dropped afterwards unless ``keep``."""
    name = unique_name(prefix)
    url = create_database(name)
    try:
        if migrate:
            _migrate(url)
        yield url
    finally:
        if not keep:
            drop_database(name)


def _migrate(url: str) -> None:
    # Imported here: Alembic would add to the peak RSS that bench/erp_sync.py's children measure.
    from loyalty.migrate import upgrade

    upgrade(url)


def _run_on_server(statement: str) -> None:
    """CREATE and DROP DATABASE cannot run inside a transaction: autocommit, on the server's own database."""
    engine = make_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()
