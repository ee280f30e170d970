"""``erp check``: the mapping against the live ERP tables, table by table."""

from __future__ import annotations

from dataclasses import dataclass, field

from erp.mapping import Mapping
from erp.reader import MappingMismatch, Reader


@dataclass
class TableReport:
    entity: str
    table: str
    found: bool
    columns: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.found and not self.missing


def inspect(reader: Reader, mapping: Mapping) -> list[TableReport]:
    """One report per mapped entity: does the table exist, which mapped columns does it lack."""
    reports = []
    for entity in mapping.entities.values():
        try:
            columns = reader.columns(entity.table)
        except MappingMismatch:
            reports.append(TableReport(entity.name, entity.table, False, missing=entity.columns()))
            continue
        missing = [c for c in entity.columns() if c not in columns]
        reports.append(TableReport(entity.name, entity.table, True, columns, missing))
    return reports


def problems(reports: list[TableReport]) -> list[str]:
    """Each missing table or column as ``Table`` / ``Table.Column``."""
    out = []
    for report in reports:
        if not report.found:
            out.append(f"table {report.table} (entity {report.entity})")
        else:
            out += [f"{report.table}.{col} (entity {report.entity})" for col in report.missing]
    return out
