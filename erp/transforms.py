"""Turning one raw ERP row into loyalty values, as the mapping says.

A value that cannot be turned raises ``RowError`` with a reason naming the
column and the value; the sync quarantines the row and carries on.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping as MappingABC
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.errors import InvalidPhone
from domain.phones import normalize_phone
from erp.mapping import EntityMap, FieldMap

DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d/%m/%Y %H:%M:%S")


class RowError(ValueError):
    """This row cannot be used as it is; the reason is for the staff who fix it in the ERP."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def convert_row(entity: EntityMap, row: MappingABC[str, Any], tz: str, country_code: int) -> dict[str, Any]:
    """Every mapped field of ``row`` transformed; raises ``RowError`` on the first bad one."""
    zone = zoneinfo.ZoneInfo(tz)
    return {target: convert(fm, row.get(fm.column), zone, country_code) for target, fm in entity.fields.items()}


def convert(fm: FieldMap, raw: Any, zone: dt.tzinfo, country_code: int) -> Any:
    value = _blank_to_none(raw)
    if value is not None or fm.transform == "map":
        value = _apply(fm, value, zone, country_code)
    if fm.required and _blank_to_none(value) is None:
        raise RowError(f"{fm.column} is required but empty")
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _apply(fm: FieldMap, value: Any, zone: dt.tzinfo, country_code: int) -> Any:
    if fm.transform is None:
        return value
    if fm.transform == "trim":
        return str(value).strip()
    if fm.transform == "upper":
        return str(value).strip().upper()
    if fm.transform == "lower":
        return str(value).strip().lower()
    if fm.transform == "decimal":
        return to_decimal(fm.column, value)
    if fm.transform == "date":
        return to_utc(fm.column, value, zone)
    if fm.transform == "phone":
        return to_phone(fm.column, value, country_code)
    return to_code(fm, value)


def to_decimal(column: str, value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    try:
        return Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise RowError(f"{column}: {value!r} is not a number") from None


def to_utc(column: str, value: Any, zone: dt.tzinfo) -> dt.datetime:
    """ERP dates are local wall-clock time in the mapping's time zone unless they say otherwise."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        moment = _parse_date(column, str(value).strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(dt.UTC)


def _parse_date(column: str, text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise RowError(f"{column}: {text!r} is not a date")


def to_phone(column: str, value: Any, country_code: int) -> str:
    try:
        return normalize_phone(str(value), country_code)
    except InvalidPhone as exc:
        raise RowError(f"{column}: {exc.reason}") from None


def to_code(fm: FieldMap, value: Any) -> str:
    code = "" if value is None else str(value).strip().lower()
    if code in fm.codes:
        return fm.codes[code]
    if fm.default is not None and code == "":
        return fm.default
    raise RowError(f"{fm.column}: {value!r} is not one of the mapped codes ({', '.join(sorted(fm.codes))})")


def jsonable(row: MappingABC[str, Any]) -> dict[str, Any]:
    """The raw row as JSON, kept with a quarantined row so staff can see what the ERP held."""
    return {str(k): _json_value(v) for k, v in row.items()}


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return str(value)
