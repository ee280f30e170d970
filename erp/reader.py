"""Reading the ERP: a small interface, its pyodbc adapter, and how errors are named.

The sync only ever asks a ``Reader`` for rows of a ``Query``; the fake reader
used by unit tests lives in ``tests/fakes_erp.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from erp.queries import Query, probe

log = logging.getLogger(__name__)

Row = dict[str, Any]

# SQLSTATEs for a missing table or column: ODBC's own, SQL Server's and PostgreSQL's.
MISSING_TABLE_STATES = ("42S02", "42P01")
MISSING_COLUMN_STATES = ("42S22", "42703")


class ErpError(RuntimeError):
    """Something went wrong talking to the ERP; the message is one line for an operator."""


class ErpUnreachable(ErpError):
    """No connection, or it was lost: nothing more can be read in this run."""


class ErpNotConfigured(ErpUnreachable):
    pass


class MappingMismatch(ErpError):
    """The mapping names a table or column the ERP does not have."""


class Reader(Protocol):
    def fetch(self, query: Query) -> list[Row]: ...

    def columns(self, table: str) -> list[str]: ...

    def close(self) -> None: ...


def connection_string(config: Mapping[str, Any]) -> str:
    """``ERP_ODBC`` as given, or one built from the seed's parts (``ERP_DRIVER``, ``ERP_HOST``...)."""
    if config.get("ERP_ODBC"):
        return str(config["ERP_ODBC"])
    parts = {key: config.get(f"ERP_{key}") for key in ("DRIVER", "HOST", "PORT", "DATABASE", "USERNAME", "PASSWORD")}
    if not parts["DRIVER"] or not parts["HOST"] or not parts["DATABASE"]:
        raise ErpNotConfigured("ERP not configured: set ERP_ODBC, or ERP_DRIVER, ERP_HOST and ERP_DATABASE")
    driver = str(parts["DRIVER"]).strip("{}")
    server = str(parts["HOST"])
    if parts["PORT"]:
        # SQL Server drivers take "host,port"; others read Port=.
        server = f"{server},{parts['PORT']}" if "sql server" in driver.lower() else server
    items = [f"Driver={{{driver}}}", f"Server={server}", f"Database={parts['DATABASE']}"]
    if parts["PORT"] and "sql server" not in driver.lower():
        items.append(f"Port={parts['PORT']}")
    if parts["USERNAME"]:
        items += [f"Uid={parts['USERNAME']}", f"Pwd={{{parts['PASSWORD'] or ''}}}"]
    return ";".join(items) + ";"


def is_configured(config: Mapping[str, Any]) -> bool:
    try:
        connection_string(config)
    except ErpNotConfigured:
        return False
    return True


class OdbcReader:
    """The real adapter: one pyodbc connection, read-only use, autocommit (no long transaction on the ERP)."""

    def __init__(self, conn_str: str, timeout: int = 15) -> None:
        import pyodbc

        self._pyodbc = pyodbc
        try:
            self._conn = pyodbc.connect(conn_str, autocommit=True, timeout=timeout)
        except pyodbc.Error as exc:
            raise ErpUnreachable(f"ERP unreachable: {_message(exc)}") from None

    def fetch(self, query: Query) -> list[Row]:
        try:
            cursor = self._conn.cursor()
            try:
                cursor.execute(query.sql, *query.params)
                names = [d[0] for d in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            finally:
                cursor.close()
        except self._pyodbc.Error as exc:
            raise classify(exc, query) from None

    def columns(self, table: str) -> list[str]:
        query = probe(table)
        try:
            cursor = self._conn.cursor()
            try:
                cursor.execute(query.sql)
                return [d[0] for d in cursor.description]
            finally:
                cursor.close()
        except self._pyodbc.Error as exc:
            raise classify(exc, query) from None

    def close(self) -> None:
        try:
            self._conn.close()
        except self._pyodbc.Error:
            log.debug("closing the ERP connection failed", exc_info=True)


def classify(exc: Exception, query: Query) -> ErpError:
    """Name a driver error for the operator: unreachable, mapping mismatch, or other."""
    state = str(exc.args[0]) if exc.args else ""
    text = _message(exc)
    if state in MISSING_TABLE_STATES:
        return MappingMismatch(f"mapping table missing: {query.table} ({text})")
    if state in MISSING_COLUMN_STATES:
        return MappingMismatch(f"mapping column missing in {query.table}: {text}")
    if state.startswith("08") or type(exc).__name__ in ("OperationalError", "InterfaceError") or _lost(text):
        return ErpUnreachable(f"ERP unreachable: {text}")
    return ErpError(f"ERP query on {query.table} failed: {text}")


# A failure as the public may read it (``GET /health``): no driver text, host, port or login name.
_PUBLIC_REASONS = (
    ("ERP not configured", "the ERP connection is not configured"),
    ("ERP unreachable", "the ERP cannot be reached"),
    ("mapping table missing", "a table of the mapping is missing in the ERP"),
    ("mapping column missing", "a column of the mapping is missing in the ERP"),
    ("ERP query", "a query on the ERP failed"),
    ("another ERP sync is running", "another ERP sync was running"),
)


def public_reason(error: str) -> str:
    """What went wrong in words, from a run's recorded ``error``; the console's ERP page shows the rest."""
    return next((words for prefix, words in _PUBLIC_REASONS if error.startswith(prefix)), "the ERP sync failed")


def _lost(text: str) -> bool:
    lowered = text.lower()
    return any(s in lowered for s in ("connection", "server closed", "terminating", "could not send", "no response"))


def _message(exc: Exception) -> str:
    """The driver's message without its bracketed prefixes, on one line."""
    raw = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    while raw.startswith("["):
        raw = raw.split("]", 1)[1] if "]" in raw else raw
    return " ".join(raw.replace(";", " ").split())[:300]


ReaderFactory = Callable[[], Reader]


def odbc_factory(config: Mapping[str, Any]) -> ReaderFactory:
    """A factory that opens a new ODBC connection per sync run."""
    conn_str = connection_string(config)
    return lambda: OdbcReader(conn_str)
