"""A fake ERP reader: tables as lists of dicts, answering the intent of each ``erp.queries.Query``."""

from __future__ import annotations

from typing import Any

from erp.queries import CATEGORY_ALIAS, Query
from erp.reader import ErpUnreachable, MappingMismatch, Row


class FakeReader:
    def __init__(self, tables: dict[str, list[Row]], *, fail_after: int | None = None) -> None:
        self.tables = tables
        self.fail_after = fail_after
        self.queries: list[Query] = []
        self.closed = False

    def fetch(self, query: Query) -> list[Row]:
        if self.fail_after is not None and len(self.queries) >= self.fail_after:
            raise ErpUnreachable("ERP unreachable: connection lost (fake)")
        self.queries.append(query)
        rows = self._table(query.table)
        args = query.args
        if query.kind == "batch":
            return self._batch(rows, args["changed"], args["key"], args["after"], args["limit"])
        if query.kind == "count":
            return [{"n": len(self._batch(rows, args["changed"], args["key"], args["after"], 10**9))}]
        if query.kind == "by_keys":
            return sorted((dict(r) for r in rows if r[args["key"]] in args["keys"]), key=lambda r: r[args["key"]])
        if query.kind == "lines":
            return self._lines(rows, args)
        raise AssertionError(f"unexpected query {query.kind}")

    def columns(self, table: str) -> list[str]:
        rows = self._table(table)
        return list(rows[0]) if rows else []

    def close(self) -> None:
        self.closed = True

    def _table(self, name: str) -> list[Row]:
        if name not in self.tables:
            raise MappingMismatch(f"mapping table missing: {name}")
        return self.tables[name]

    @staticmethod
    def _batch(rows: list[Row], changed: str, key: str, after: Any, limit: int) -> list[Row]:
        ordered = sorted((r for r in rows if r[changed] is not None), key=lambda r: (r[changed], r[key]))
        if after is not None:
            ordered = [r for r in ordered if (r[changed], r[key]) > tuple(after)]
        return [dict(r) for r in ordered[:limit]]

    def _lines(self, rows: list[Row], args: dict[str, Any]) -> list[Row]:
        products = {p[args["products_key"]]: p for p in self.tables.get(args["products_table"], [])}
        out = []
        for line in rows:
            if line[args["order_key"]] in args["keys"]:
                product = products.get(line.get(args["product_column"]), {})
                out.append({**line, CATEGORY_ALIAS: product.get(args["category_column"])})
        return out
