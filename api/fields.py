"""Field types the API's schemas share: bounded integers, money as decimal strings, UTC times, phones.

Each refuses what does not fit with a message naming the rule, and none lets a value through that
the database cannot hold (integers are bounded well inside 32 bits, money inside a BIGINT of paise).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma
from flask import current_app

from domain.errors import InvalidPhone
from domain.phones import normalize_phone
from runtime.config import country_code

MAX_POINTS = 10_000_000
MAX_ID = 2_147_483_647
MAX_MONEY = Decimal("10000000000")  # ten billion: far above any bill, far below the column's limit


def Int(minimum: int = 0, maximum: int = MAX_POINTS, **kwargs: Any) -> ma.fields.Integer:
    """A JSON integer (not a string, a float or a boolean) within ``[minimum, maximum]``."""
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(minimum, maximum), **kwargs)


def Id(**kwargs: Any) -> ma.fields.Integer:
    return Int(1, MAX_ID, **kwargs)


def Text(maximum: int, minimum: int = 1, **kwargs: Any) -> ma.fields.String:
    """A string, trimmed, ``minimum`` to ``maximum`` characters, no control characters."""
    return TrimmedString(validate=ma.validate.Length(minimum, maximum), **kwargs)


class TrimmedString(ma.fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if any(ord(ch) < 32 for ch in text):
            raise ma.ValidationError("Control characters are not allowed.")
        return text


class Money(ma.fields.Field[Decimal]):
    """Money: a decimal string (``"1499.00"``) or a JSON number, at most 2 decimals, 0 to ten billion.

    Answered as a string with 2 decimals, never as a float.
    """

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{Decimal(value):.2f}"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ma.ValidationError('Not a valid amount: give a decimal string such as "1499.00".')
        try:
            amount = Decimal(value.strip() if isinstance(value, str) else value)
        except (InvalidOperation, ValueError):
            raise ma.ValidationError('Not a valid amount: give a decimal string such as "1499.00".') from None
        if not amount.is_finite():
            raise ma.ValidationError("Not a valid amount.")
        if amount < 0:
            raise ma.ValidationError("Must not be negative.")
        if amount >= MAX_MONEY:
            raise ma.ValidationError(f"Must be less than {MAX_MONEY}.")
        if amount != amount.quantize(Decimal("0.01")):
            raise ma.ValidationError("At most 2 decimal places.")
        return amount.quantize(Decimal("0.01"))


class UtcDateTime(ma.fields.Field[dt.datetime]):
    """RFC 3339 with a time zone in, UTC with ``Z`` out."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        moment: dt.datetime = value
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise ma.ValidationError("Not a valid RFC 3339 time.")
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            raise ma.ValidationError("Not a valid RFC 3339 time, e.g. 2026-06-15T10:00:00Z.") from None
        if moment.tzinfo is None:
            raise ma.ValidationError("Give a time zone (Z or an offset).")
        if not 2000 <= moment.year <= 2100:
            raise ma.ValidationError("Must be between the years 2000 and 2100.")
        return moment.astimezone(dt.UTC)


class Phone(ma.fields.Field[str]):
    """A phone number in any format the bot accepts, normalised to E.164."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or len(value) > 40:
            raise ma.ValidationError("Not a valid phone number.")
        try:
            return normalize_phone(value, country_code(current_app.config))
        except InvalidPhone as exc:
            raise ma.ValidationError(exc.reason) from None


class Language(ma.fields.String):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=ma.validate.OneOf(("en", "hi")), **kwargs)


class StrictBoolean(ma.fields.Boolean):
    """Only ``true`` and ``false``: ``1 == True`` in Python, so a set of truthy values alone lets 1 in."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def Bool(**kwargs: Any) -> ma.fields.Boolean:
    """A JSON ``true`` or ``false``, nothing that merely looks like one."""
    return StrictBoolean(**kwargs)


class QueryInt(ma.fields.Integer):
    """A whole number in a query string (text there): digits only, within ``[minimum, maximum]``."""

    def __init__(self, minimum: int = 1, maximum: int = MAX_ID, **kwargs: Any) -> None:
        super().__init__(strict=True, validate=ma.validate.Range(minimum, maximum), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and value.isdigit() and len(value) <= 10:
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ma.ValidationError("Not a valid whole number.")
        return int(super()._deserialize(value, attr, data, **kwargs))
