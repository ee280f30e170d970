"""The mapping file: the shipped one loads, and mistakes get a message naming where."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from erp.mapping import MappingError, describe, load_mapping, parse_mapping

SHIPPED = Path(__file__).resolve().parents[2] / "erp" / "mapping.toml"


def shipped() -> dict[str, Any]:
    return tomllib.loads(SHIPPED.read_text())


def test_the_shipped_mapping_names_the_default_layout() -> None:
    mapping = load_mapping(SHIPPED)
    assert mapping.timezone == "Asia/Kolkata" and mapping.batch_size == 1000
    orders = mapping.entity("orders")
    assert (orders.table, orders.key, orders.changed) == ("SalesOrders", "OrderID", "ModifiedOn")
    assert orders.columns()[:2] == ["OrderID", "ModifiedOn"]
    assert orders.fields["status"].codes["cancelled"] == "cancelled"
    rows = describe(mapping)
    phone = next(r for r in rows if r["entity"] == "customers" and r["field"] == "phone")
    assert (phone["table"], phone["column"], phone["transform"], phone["required"]) == (
        "Customers",
        "MobileNo",
        "phone",
        True,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["orders"]["fields"]["net_amount"].update(transform="decimel"),
            "orders].fields.net_amount: transform 'decimel'",
        ),
        (lambda d: d["orders"]["fields"].pop("order_date"), "required field(s) order_date not mapped"),
        (lambda d: d["customers"]["fields"].update(shoe_size="Size"), "unknown field(s) shoe_size"),
        (lambda d: d.pop("returns"), "missing section(s) returns"),
        (lambda d: d.update(invoices={}), "unknown section(s) invoices"),
        (lambda d: d["orders"].pop("changed"), "[orders]: `changed` must name an ERP column"),
        (lambda d: d["orders"]["fields"]["status"].pop("map"), 'transform "map" needs a non-empty'),
        (lambda d: d["source"].update(timezone="Mars/Base"), "'Mars/Base' is not a known time zone"),
        (lambda d: d["source"].update(batch_size=50000), "batch_size must be a whole number from 1 to 2000"),
        (lambda d: d["products"]["fields"]["mrp"].update(required="yes"), "`required` must be true or false"),
    ],
)
def test_mistakes_are_named(change: Any, message: str) -> None:
    data = shipped()
    change(data)
    with pytest.raises(MappingError) as err:
        parse_mapping(data, "m.toml")
    assert message in str(err.value)
    assert str(err.value).startswith("m.toml")


def test_a_missing_or_broken_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="does not exist"):
        load_mapping(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[orders\n")
    with pytest.raises(MappingError, match="not valid TOML"):
        load_mapping(bad)
