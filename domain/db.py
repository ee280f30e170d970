"""Declarative base, column types and engine set-up shared by every package."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import URL, BigInteger, Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CENT = Decimal("0.01")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Money(TypeDecorator[Decimal]):
    """Money as ``Decimal`` in Python, stored as whole minor units (paise).

    Integers keep sums exact on SQLite, which has no decimal type.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int((Decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(value) / 100).quantize(CENT)


def money(value: Decimal | int | str) -> Decimal:
    """Round a money value to paise, half up, as the tax invoice would."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# What hosts hand out: the plain forms, which SQLAlchemy 2.1 would give to psycopg 3 (not installed) or not know.
PLAIN_POSTGRESQL = ("postgresql", "postgres")
URL_FORM = "dialect[+driver]://user:password@host:port/database, e.g. postgresql://loyalty@db/loyalty"


class BadDatabaseUrl(ValueError):
    """A database URL that cannot work here; the message is one line and never shows the password."""


def database_url(raw: str | URL) -> URL:
    """``raw`` parsed, the plain ``postgresql://`` and ``postgres://`` forms meaning psycopg2, its driver importable."""
    if isinstance(raw, URL):
        url = raw
    else:
        if not raw or not raw.strip():
            raise BadDatabaseUrl(f"the database URL is empty; expected {URL_FORM}")
        try:
            url = make_url(raw.strip())
        except (ArgumentError, ValueError):
            raise BadDatabaseUrl(f"the database URL does not parse; expected {URL_FORM}") from None
    if url.drivername in PLAIN_POSTGRESQL:
        url = url.set(drivername="postgresql+psycopg2")
    try:
        url.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise BadDatabaseUrl(f"the database URL names {url.drivername!r}, which is not a known database") from None
    except ImportError as exc:
        raise BadDatabaseUrl(
            f"the database URL names the driver {url.drivername!r}, whose module {exc.name or 'driver'!r} is not "
            "installed; use postgresql:// (psycopg2) or sqlite:///path"
        ) from None
    return url


def make_engine(raw_url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine with the settings each backend needs for correct locking."""
    url = database_url(raw_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    # No pre-ping (a `SELECT 1` round trip per transaction): connections are recycled before
    # servers or proxies drop idle ones, and a connection that died anyway fails its
    # transaction with a disconnect error, on which SQLAlchemy discards the whole pool, so
    # the caller's retry (the webhook answers 500 and Meta redelivers; jobs run again) reconnects.
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(url, **kwargs)


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself so that every transaction can be
        # IMMEDIATE: a writer then holds the lock from its first read, which
        # gives SQLite the same read-then-write safety as SELECT ... FOR UPDATE.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Database:
    """An engine and its sessions; ``unit_of_work`` is the one place that commits."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = make_session_factory(self.engine)
        self._engine_kwargs = engine_kwargs
        self._single_statements: Engine | None = None

    @contextmanager
    def single_statement(self) -> Iterator[Connection]:
        """A connection for work that is one statement, atomic on its own (a multi-row INSERT).

        On PostgreSQL it comes from a pool of autocommit connections: the statement is one
        round trip instead of three (BEGIN, the statement, COMMIT), and just as durable. Its
        own pool, because switching a pooled connection in and out of autocommit costs a round
        trip each time. SQLite keeps an ordinary transaction, whose BEGIN IMMEDIATE orders writers.
        """
        if not self.is_postgresql:
            with self.engine.begin() as conn:
                yield conn
            return
        if self._single_statements is None:
            self._single_statements = make_engine(self.url, isolation_level="AUTOCOMMIT", **self._engine_kwargs)
        with self._single_statements.connect() as conn:
            yield conn

    @contextmanager
    def reads(self) -> Iterator[Session]:
        """A session for reading only (an API look-up): nothing it holds may be changed or flushed.

        On PostgreSQL it runs on the autocommit pool of ``single_statement``, so each query is one round
        trip, with no BEGIN and COMMIT around it; its reads are not one snapshot, which a look-up of a
        row or a page does not need. SQLite reads in an ordinary transaction.
        """
        if not self.is_postgresql:
            with self.unit_of_work() as session:
                yield session
            return
        with self.single_statement() as conn:
            session = self.sessions(bind=conn, autoflush=False)
            try:
                yield session
            finally:
                session.close()

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: committed if the block ends normally, rolled back otherwise."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._single_statements is not None:
            self._single_statements.dispose()
