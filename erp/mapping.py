"""The mapping file: which ERP table and column feeds which loyalty field.

Loaded with ``tomllib`` and validated up front, so that a typo in the file is a
one-line message naming the entity and field, not a failure halfway through a sync.
"""

from __future__ import annotations

import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRANSFORMS = ("trim", "phone", "decimal", "date", "upper", "lower", "map")
SYNCED = ("customers", "products", "orders", "returns")

# Loyalty fields each entity can fill, and those it cannot do without.
TARGETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "customers": (("erp_customer_id", "name", "phone", "email", "birthday"), ("erp_customer_id", "phone")),
    "products": (("erp_product_id", "name", "category", "mrp"), ("erp_product_id",)),
    "orders": (
        ("erp_order_id", "bill_no", "erp_customer_id", "order_date", "net_amount", "status"),
        ("erp_order_id", "erp_customer_id", "order_date", "net_amount"),
    ),
    "order_lines": (("line_no", "erp_product_id", "qty", "amount"), ("line_no", "amount")),
    "returns": (
        ("erp_return_id", "erp_order_id", "return_date", "amount"),
        ("erp_return_id", "erp_order_id", "return_date", "amount"),
    ),
}
NO_CHANGE_COLUMN = ("order_lines",)


class MappingError(ValueError):
    """The mapping file is malformed; the message names where."""


@dataclass(frozen=True)
class FieldMap:
    target: str
    column: str
    transform: str | None = None
    required: bool = False
    codes: dict[str, str] = field(default_factory=dict)
    default: str | None = None


@dataclass(frozen=True)
class EntityMap:
    name: str
    table: str
    key: str
    changed: str | None
    fields: dict[str, FieldMap]

    def columns(self) -> list[str]:
        """Every ERP column this entity reads, key and change column first, without repeats."""
        names = [self.key] + ([self.changed] if self.changed else []) + [f.column for f in self.fields.values()]
        return list(dict.fromkeys(names))

    def column_for(self, target: str) -> str | None:
        found = self.fields.get(target)
        return found.column if found else None


@dataclass(frozen=True)
class Mapping:
    entities: dict[str, EntityMap]
    timezone: str = "UTC"
    batch_size: int = 1000
    path: str = ""

    def entity(self, name: str) -> EntityMap:
        return self.entities[name]


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file; raises ``MappingError`` with a precise message."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} does not exist (set ERP_MAPPING_FILE)") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML: {exc}") from None
    return parse_mapping(data, str(path))


def parse_mapping(data: dict[str, Any], where: str = "mapping") -> Mapping:
    unknown = sorted(set(data) - set(TARGETS) - {"source"})
    if unknown:
        raise MappingError(f"{where}: unknown section(s) {', '.join(unknown)}; expected {', '.join(TARGETS)}")
    missing = [name for name in TARGETS if name not in data]
    if missing:
        raise MappingError(f"{where}: missing section(s) {', '.join(missing)}")
    source = data.get("source", {})
    entities = {name: _entity(name, data[name], where) for name in TARGETS}
    return Mapping(entities, _timezone(source, where), _batch_size(source, where), where)


def _timezone(source: dict[str, Any], where: str) -> str:
    name = str(source.get("timezone", "UTC"))
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"{where}: source.timezone {name!r} is not a known time zone") from None
    return name


def _batch_size(source: dict[str, Any], where: str) -> int:
    size = source.get("batch_size", 1000)
    if not isinstance(size, int) or not 1 <= size <= 2000:
        raise MappingError(f"{where}: source.batch_size must be a whole number from 1 to 2000, not {size!r}")
    return size


def _entity(name: str, raw: Any, where: str) -> EntityMap:
    here = f"{where}: [{name}]"
    if not isinstance(raw, dict):
        raise MappingError(f"{here} must be a table")
    table = _name(raw, "table", here)
    key = _name(raw, "key", here)
    changed = None if name in NO_CHANGE_COLUMN else _name(raw, "changed", here)
    fields_raw = raw.get("fields")
    if not isinstance(fields_raw, dict) or not fields_raw:
        raise MappingError(f"{here} needs a [{name}.fields] table")
    allowed, required = TARGETS[name]
    extra = sorted(set(fields_raw) - set(allowed))
    if extra:
        raise MappingError(f"{here}: unknown field(s) {', '.join(extra)}; known: {', '.join(allowed)}")
    absent = [target for target in required if target not in fields_raw]
    if absent:
        raise MappingError(f"{here}: required field(s) {', '.join(absent)} not mapped")
    fields = {target: _field(target, spec, f"{here}.fields.{target}") for target, spec in fields_raw.items()}
    return EntityMap(name, table, key, changed, fields)


def _name(raw: dict[str, Any], attr: str, here: str) -> str:
    value = raw.get(attr)
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{here}: `{attr}` must name an ERP {'table' if attr == 'table' else 'column'}")
    if '"' in value:
        raise MappingError(f"{here}: `{attr}` {value!r} must not contain double quotes")
    return value


def _field(target: str, spec: Any, here: str) -> FieldMap:
    if isinstance(spec, str):
        spec = {"column": spec}
    if not isinstance(spec, dict):
        raise MappingError(f"{here} must be a column name or a table with `column`")
    unknown = sorted(set(spec) - {"column", "transform", "required", "map", "default"})
    if unknown:
        raise MappingError(f"{here}: unknown key(s) {', '.join(unknown)}")
    column = _name(spec, "column", here)
    transform = spec.get("transform")
    if transform is not None and transform not in TRANSFORMS:
        raise MappingError(f"{here}: transform {transform!r} is not one of {', '.join(TRANSFORMS)}")
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise MappingError(f"{here}: `required` must be true or false")
    codes = spec.get("map", {})
    if transform == "map" and (not isinstance(codes, dict) or not codes):
        raise MappingError(f'{here}: transform "map" needs a non-empty `map = {{ ERP code = value }}`')
    if transform != "map" and "map" in spec:
        raise MappingError(f'{here}: `map` is only used with transform = "map"')
    default = spec.get("default")
    return FieldMap(
        target=target,
        column=column,
        transform=transform,
        required=required,
        codes={_code(k): str(v) for k, v in codes.items()},
        default=None if default is None else str(default),
    )


def _code(value: object) -> str:
    """ERP codes match without regard to case or surrounding spaces."""
    return str(value).strip().lower()


def describe(mapping: Mapping) -> list[dict[str, Any]]:
    """One row per mapped field, for ``erp check`` and the console."""
    rows = []
    for entity in mapping.entities.values():
        for fm in entity.fields.values():
            rows.append(
                {
                    "entity": entity.name,
                    "table": entity.table,
                    "key": entity.key,
                    "changed": entity.changed,
                    "field": fm.target,
                    "column": fm.column,
                    "transform": fm.transform or "",
                    "required": fm.required,
                    "map": dict(fm.codes),
                }
            )
    return rows
