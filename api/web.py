"""What every API route uses: the unit of work, the clock, the caller, the rules, cursor pages.

A write route runs inside the unit of work that ``api.idempotency.writes`` opens for the request (its
stored answer and audit entry commit with it); ``unit_of_work`` hands that one out, or opens a fresh
one for a read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import marshmallow as ma
from flask import current_app, g
from sqlalchemy.orm import Session

from api.errors import invalid
from api.fields import MAX_ID, QueryInt
from domain.rules import ProgramRules, load_rules
from runtime import services
from runtime.config import country_code

T = TypeVar("T")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """The request's transaction: the one a write route runs in, or a new one (committed at the end)."""
    outer: Session | None = g.get("api_session")
    if outer is not None:
        yield outer
        return
    with services.database().unit_of_work() as session:
        yield session


@contextmanager
def reading() -> Iterator[Session]:
    """A session for a read route: the request's own when there is one, else a read-only one that on
    PostgreSQL costs one round trip a query (``Database.reads``)."""
    outer: Session | None = g.get("api_session")
    if outer is not None:
        yield outer
        return
    with services.database().reads() as session:
        yield session


def now() -> dt.datetime:
    return services.now()


def rules(session: Session) -> ProgramRules:
    return load_rules(session)


def cc() -> int:
    return country_code(current_app.config)


def setting(name: str, default: int) -> int:
    """An integer setting from the app config (the environment), ``default`` when unset or blank."""
    raw = current_app.config.get(name)
    return default if raw in (None, "") else int(raw)


class ListArgs(ma.Schema):
    """``limit`` (1-100, default 20) and ``starting_after`` (the id of the last item seen)."""

    limit = QueryInt(1, MAX_LIMIT, load_default=DEFAULT_LIMIT, metadata={"description": "Items per page, 1-100."})
    starting_after = ma.fields.String(
        validate=ma.validate.Length(1, 64),
        metadata={"description": "Continue after this item: the `next_cursor` of the previous page."},
    )

    class Meta:
        unknown = ma.EXCLUDE


def cursor_id(raw: str | None) -> int | None:
    """``starting_after`` as the numeric id it must be."""
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) > MAX_ID:
        raise invalid("starting_after", "Not a cursor from this list.")
    return int(raw)


@dataclass(frozen=True)
class Page(Generic[T]):
    data: Sequence[T]
    has_more: bool
    next_cursor: str | None


def page_of(rows: Sequence[T], limit: int, cursor: Callable[[T], object]) -> Page[T]:
    """``rows`` were fetched with ``limit + 1``: one extra says whether more follow."""
    data = rows[:limit]
    more = len(rows) > limit
    return Page(data, more, str(cursor(data[-1])) if more and data else None)


def page_schema(item: type[ma.Schema], name: str) -> type[ma.Schema]:
    """The list shape ``{"data": [...], "has_more", "next_cursor"}`` around ``item``, named for the docs."""
    fields: dict[str, Any] = {
        "data": ma.fields.List(ma.fields.Nested(item), required=True),
        "has_more": ma.fields.Boolean(required=True),
        "next_cursor": ma.fields.String(allow_none=True, required=True),
    }
    return ma.Schema.from_dict(fields, name=name)
