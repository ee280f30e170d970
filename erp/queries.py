"""Every SQL statement sent to the ERP, in one place.

The SQL is the common ground of SQL Server and PostgreSQL: parameters as ``?``,
names in ANSI double quotes (so the ERP's mixed case is kept), no ``LIMIT`` but
``ORDER BY ... OFFSET 0 ROWS FETCH NEXT ? ROWS ONLY``. Each ``Query`` also says
what it asks in plain fields, so the fake reader in the tests can answer it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from erp.mapping import EntityMap

CATEGORY_ALIAS = "loyalty_category"


@dataclass(frozen=True)
class Query:
    sql: str
    params: tuple[Any, ...]
    kind: str
    table: str
    args: dict[str, Any] = field(default_factory=dict)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select_list(entity: EntityMap, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + quote(col) for col in entity.columns())


def probe(table: str) -> Query:
    """No rows, only the column names: how ``erp check`` sees a table."""
    return Query(f"SELECT * FROM {quote(table)} WHERE 1 = 0", (), "probe", table)


def next_batch(entity: EntityMap, after: tuple[Any, Any] | None, limit: int) -> Query:
    """The next ``limit`` rows after the watermark ``(changed, key)``, in that order.

    Comparing the pair (not the timestamp alone) is what keeps rows that share
    a timestamp with the end of the previous batch from being skipped.
    """
    assert entity.changed is not None
    changed, key = quote(entity.changed), quote(entity.key)
    # Rows without a change value cannot be placed after a watermark; they are not read.
    where, params = f" WHERE {changed} IS NOT NULL", ()  # type: tuple[str, tuple[Any, ...]]
    if after is not None:
        where = f" WHERE ({changed} > ? OR ({changed} = ? AND {key} > ?))"
        params = (after[0], after[0], after[1])
    sql = (
        f"SELECT {_select_list(entity)} FROM {quote(entity.table)}{where}"
        f" ORDER BY {changed}, {key} OFFSET 0 ROWS FETCH NEXT ? ROWS ONLY"
    )
    args = {"changed": entity.changed, "key": entity.key, "after": after, "limit": limit}
    return Query(sql, (*params, limit), "batch", entity.table, args)


def count_after(entity: EntityMap, after: tuple[Any, Any] | None) -> Query:
    """How many rows ``next_batch`` has still to read (for the progress bar)."""
    assert entity.changed is not None
    changed, key = quote(entity.changed), quote(entity.key)
    # Rows without a change value cannot be placed after a watermark; they are not read.
    where, params = f" WHERE {changed} IS NOT NULL", ()  # type: tuple[str, tuple[Any, ...]]
    if after is not None:
        where = f" WHERE ({changed} > ? OR ({changed} = ? AND {key} > ?))"
        params = (after[0], after[0], after[1])
    sql = f"SELECT COUNT(*) AS n FROM {quote(entity.table)}{where}"
    return Query(sql, params, "count", entity.table, {"changed": entity.changed, "key": entity.key, "after": after})


def by_keys(entity: EntityMap, keys: Sequence[Any]) -> Query:
    """Rows with these keys: quarantined rows are read again this way."""
    marks = ", ".join("?" for _ in keys)
    sql = (
        f"SELECT {_select_list(entity)} FROM {quote(entity.table)}"
        f" WHERE {quote(entity.key)} IN ({marks}) ORDER BY {quote(entity.key)}"
    )
    return Query(sql, tuple(keys), "by_keys", entity.table, {"key": entity.key, "keys": list(keys)})


def lines_of(lines: EntityMap, products: EntityMap, order_keys: Sequence[Any]) -> Query:
    """The lines of these orders, each with its product's category from the products table."""
    marks = ", ".join("?" for _ in order_keys)
    product_col = lines.column_for("erp_product_id")
    category_col = products.column_for("category")
    select = _select_list(lines, "l")
    join = ""
    if product_col and category_col:
        select += f", p.{quote(category_col)} AS {CATEGORY_ALIAS}"
        join = f" LEFT JOIN {quote(products.table)} p ON p.{quote(products.key)} = l.{quote(product_col)}"
    line_no = lines.column_for("line_no") or lines.key
    sql = (
        f"SELECT {select} FROM {quote(lines.table)} l{join}"
        f" WHERE l.{quote(lines.key)} IN ({marks}) ORDER BY l.{quote(lines.key)}, l.{quote(line_no)}"
    )
    args = {
        "order_key": lines.key,
        "keys": list(order_keys),
        "product_column": product_col,
        "products_table": products.table,
        "products_key": products.key,
        "category_column": category_col,
    }
    return Query(sql, tuple(order_keys), "lines", lines.table, args)
