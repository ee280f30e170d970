"""Small helpers every console view uses: the unit of work, the actor, paging, error flashing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from flask import abort, current_app, flash, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import Session

from admin.blueprint import bp
from admin.security import redirect_back
from domain.errors import DomainError
from domain.limits import DATE_RANGE, FIRST_DAY, LAST_DAY
from domain.money import format_money
from runtime import services
from runtime.config import country_code

T = TypeVar("T")
PER_PAGE = 25
MAX_PAGE = 10_000


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction per request: committed once at the end, rolled back on any error."""
    with services.database().unit_of_work() as session:
        yield session


def now() -> dt.datetime:
    return services.now()


def actor() -> str:
    """Who the audit log names: the signed-in staff member's email."""
    return str(current_user.email)


@bp.app_template_filter("money")
def money(amount: Decimal | int | str, currency: str | None = None) -> str:
    """Money for the console, reports and exports: Babel, the configured ``DEFAULT_LOCALE`` and ``CURRENCY``."""
    config = current_app.config
    return format_money(amount, currency or config.get("CURRENCY"), config.get("DEFAULT_LOCALE"))


def cc() -> int:
    return country_code(current_app.config)


@bp.errorhandler(DomainError)
def domain_error(error: DomainError) -> ResponseReturnValue:
    """A refused action (not enough points, wrong state, ...) becomes a flash message."""
    flash(error.reason, "error")
    return redirect_back()


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, fetched with one extra row to know whether another page follows."""

    items: Sequence[T]
    number: int
    per_page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    def url_args(self, number: int) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.view_args or {})
        args.update({k: v for k, v in request.args.items() if k != "page" and v})
        args["page"] = number
        return args


def page_number() -> int:
    """``?page=``, 1 when absent or not a number; a 400 past ``MAX_PAGE`` (no offset overflows the database)."""
    raw = request.args.get("page", "1").strip()
    if not (raw.isascii() and raw.isdigit()):
        return 1
    if len(raw) > len(str(MAX_PAGE)) or int(raw) > MAX_PAGE:
        abort(400, f"The page number must be between 1 and {MAX_PAGE:,}.")
    return max(int(raw), 1)


def offset_for(number: int, per_page: int = PER_PAGE) -> int:
    return (number - 1) * per_page


def make_page(rows: Sequence[T], number: int, per_page: int = PER_PAGE) -> Page[T]:
    """``rows`` was fetched with ``limit=per_page + 1``."""
    return Page(items=rows[:per_page], number=number, per_page=per_page, has_next=len(rows) > per_page)


def parse_date(raw: str | None) -> dt.date | None:
    """A ``YYYY-MM-DD`` filter; None when blank or malformed, a 400 outside ``FIRST_DAY``..``LAST_DAY``."""
    try:
        day = dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        abort(400, DATE_RANGE)
    return day


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
