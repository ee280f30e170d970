"""Insert-or-ignore statements built once per table, columns and dialect.

Building a SQLAlchemy statement costs several times the CPU of executing a cached
one; on the webhook's path (one inbound row and its replies per request) that was
most of the transport's share of a request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_built: dict[tuple[Any, ...], Any] = {}


def insert_ignore(
    session: Session, table: Any, conflict: str, values: dict[str, Any], returning: tuple[str, ...]
) -> Row[Any] | None:
    """INSERT ... ON CONFLICT (``conflict``) DO NOTHING RETURNING ``returning``; ``None`` on a conflict.

    ``table`` is a mapped class's ``__table__``.
    """
    dialect = session.get_bind().dialect.name
    key = (table.name, dialect, conflict, tuple(values), returning)
    stmt = _built.get(key)
    if stmt is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        params = {name: bindparam(name, type_=table.c[name].type) for name in values}
        stmt = insert(table).values(params).on_conflict_do_nothing(index_elements=[conflict])
        stmt = _built.setdefault(key, stmt.returning(*(table.c[name] for name in returning)))
    return session.execute(stmt, values).first()


def upsert_touch(
    session: Session, table: Any, conflict: str, values: dict[str, Any], returning: tuple[str, ...]
) -> Row[Any]:
    """INSERT ... ON CONFLICT (``conflict``) DO UPDATE SET ``conflict`` = itself RETURNING ``returning``.

    The existing row is returned unchanged but locked for the transaction (the no-op
    update takes the row lock), the new row is returned as inserted: get-or-create and
    lock in one statement.
    """
    dialect = session.get_bind().dialect.name
    key = ("upsert", table.name, dialect, conflict, tuple(values), returning)
    stmt = _built.get(key)
    if stmt is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        params = {name: bindparam(name, type_=table.c[name].type) for name in values}
        built = insert(table).values(params)
        built = built.on_conflict_do_update(index_elements=[conflict], set_={conflict: built.excluded[conflict]})
        stmt = _built.setdefault(key, built.returning(*(table.c[name] for name in returning)))
    return session.execute(stmt, values).one()


def insert_ignore_many(
    conn: Connection, table: Any, conflict: str, rows: list[dict[str, Any]], returning: tuple[str, ...]
) -> list[Row[Any]]:
    """``insert_ignore`` for several rows on a Core connection: one INSERT ... VALUES (...), (...)
    (SQLAlchemy's insertmanyvalues); the rows returned are only those inserted, in no promised order."""
    dialect = conn.dialect.name
    key = (table.name, dialect, conflict, tuple(rows[0]), returning)
    stmt = _built.get(key)
    if stmt is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        params = {name: bindparam(name, type_=table.c[name].type) for name in rows[0]}
        stmt = insert(table).values(params).on_conflict_do_nothing(index_elements=[conflict])
        stmt = _built.setdefault(key, stmt.returning(*(table.c[name] for name in returning)))
    return list(conn.execute(stmt, rows[0] if len(rows) == 1 else rows))
