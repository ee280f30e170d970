"""Raw ERP values into loyalty values; a bad one names the column and the value."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from erp.mapping import FieldMap
from erp.transforms import RowError, convert, jsonable
from erp.watermarks import decode, encode

IST = zoneinfo.ZoneInfo("Asia/Kolkata")


def conv(transform: str | None, raw: object, **kw: object) -> object:
    return convert(FieldMap("x", "Col", transform, **kw), raw, IST, 91)  # type: ignore[arg-type]


def test_values_are_transformed() -> None:
    assert conv("trim", "  Asha ") == "Asha"
    assert conv("trim", 17) == "17"
    assert conv("upper", " p1 ") == "P1"
    assert conv("lower", "A@B.COM") == "a@b.com"
    assert conv("decimal", "1,234.50") == Decimal("1234.50")
    assert conv("decimal", 12) == Decimal(12)
    assert conv("phone", "098123 45678") == "+919812345678"
    assert conv(None, "  kept as is ") == "  kept as is "


def test_dates_are_local_erp_time_stored_as_utc() -> None:
    assert conv("date", dt.datetime(2026, 6, 1, 10, 0)) == dt.datetime(2026, 6, 1, 4, 30, tzinfo=dt.UTC)
    assert conv("date", dt.date(2026, 6, 1)) == dt.datetime(2026, 5, 31, 18, 30, tzinfo=dt.UTC)
    assert conv("date", "02/06/2026") == dt.datetime(2026, 6, 1, 18, 30, tzinfo=dt.UTC)
    assert conv("date", "2026-06-01T10:00:00+00:00") == dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


def test_codes_map_without_regard_to_case_and_blank_takes_the_default() -> None:
    codes = {"c": "completed", "x": "cancelled"}
    assert conv("map", " X ", codes=codes) == "cancelled"
    assert conv("map", None, codes=codes, default="completed") == "completed"
    with pytest.raises(RowError, match=r"Col: 'Z' is not one of the mapped codes \(c, x\)"):
        conv("map", "Z", codes=codes)


@pytest.mark.parametrize(
    ("transform", "raw", "reason"),
    [
        ("decimal", "12,3a", "Col: '12,3a' is not a number"),
        ("date", "yesterday", "Col: 'yesterday' is not a date"),
        ("phone", "12345", "Col: "),
    ],
)
def test_bad_values_name_the_column(transform: str, raw: str, reason: str) -> None:
    with pytest.raises(RowError) as err:
        conv(transform, raw)
    assert err.value.reason.startswith(reason)


def test_required_values_must_be_there() -> None:
    with pytest.raises(RowError, match="Col is required but empty"):
        conv("trim", "   ", required=True)
    assert conv("trim", None) is None


def test_raw_rows_become_json_for_the_quarantine() -> None:
    raw = {"A": Decimal("-5.00"), "B": dt.datetime(2026, 1, 2, 3, 4), "C": b"\x01\x02", "D": None, "E": 3}
    assert jsonable(raw) == {"A": "-5.00", "B": "2026-01-02T03:04:00", "C": "0102", "D": None, "E": 3}


@pytest.mark.parametrize(
    "value", [42, "K-9", dt.datetime(2026, 6, 1, 9, 0, 0, 123000), dt.date(2026, 6, 1), Decimal("1.50"), b"\x00\xff"]
)
def test_watermark_values_keep_their_type(value: object) -> None:
    assert decode(encode(value)) == value
    assert type(decode(encode(value))) is type(value)
