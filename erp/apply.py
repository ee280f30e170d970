"""One batch of ERP rows into the domain, inside the caller's transaction.

Each row is converted in Python first (a bad value never touches the
database), then applied through the domain in a savepoint: a row the domain
refuses is rolled back alone and quarantined, and the rest of the batch goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import consents, order_batches, suppression
from domain import customers as domain_customers
from domain import orders as domain_orders
from domain import products as domain_products
from domain.customers import Customer, NewCustomer
from domain.errors import DomainError
from domain.orders import LineData, OrderData, Outcome, ReturnData
from domain.rules import ProgramRules, load_rules
from erp import quarantine
from erp.mapping import Mapping
from erp.queries import CATEGORY_ALIAS
from erp.reader import Row
from erp.transforms import RowError, convert, convert_row, jsonable

log = logging.getLogger(__name__)


COUNTS = ("read", "created", "updated", "unchanged", "quarantined", "suppressed")


@dataclass
class Counts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    # Rows of people who were erased (``domain.suppression``): neither applied nor quarantined.
    suppressed: int = 0

    def add(self, other: Counts) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def count(self, outcome: Outcome) -> None:
        name = outcome.value
        setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, int]:
        return {n: getattr(self, n) for n in COUNTS}


@dataclass
class Batch:
    """Rows of one entity as read from the ERP (orders carry their lines by order key)."""

    entity: str
    rows: Sequence[Row]
    lines: dict[str, list[Row]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    mapping: Mapping
    country_code: int
    now: dt.datetime
    # The suppression list's key (``runtime.config.privacy_key``).
    hash_key: str = ""


def source_key(mapping: Mapping, entity: str, row: Row) -> str:
    return str(row.get(mapping.entity(entity).key)).strip()[:64]


def apply_batch(session: Session, batch: Batch, settings: Settings) -> Counts:
    """Apply every row of the batch; returns what happened to them."""
    appliers: dict[str, Callable[[Session, Batch, Settings, ProgramRules], Counts]] = {
        "customers": _customers,
        "products": _products,
        "orders": _orders,
        "returns": _returns,
    }
    return appliers[batch.entity](session, batch, settings, load_rules(session))


class _Run:
    """Per-batch bookkeeping: counts, rows that went well, and quarantine writes."""

    def __init__(self, session: Session, batch: Batch, settings: Settings) -> None:
        self.session, self.batch, self.settings = session, batch, settings
        self.counts = Counts(read=len(batch.rows))
        self.applied: list[str] = []

    def key(self, row: Row) -> str:
        return source_key(self.settings.mapping, self.batch.entity, row)

    def convert(self, row: Row, entity: str | None = None) -> dict[str, Any] | None:
        mapping = self.settings.mapping
        try:
            return convert_row(
                mapping.entity(entity or self.batch.entity), row, mapping.timezone, self.settings.country_code
            )
        except RowError as exc:
            self.reject(row, exc.reason)
            return None

    def attempt(self, row: Row, effect: Callable[[], Outcome]) -> None:
        """Run one row's domain effect in a savepoint; a refusal quarantines the row."""
        try:
            with self.session.begin_nested():
                outcome = effect()
        except (DomainError, RowError) as exc:
            self.reject(row, exc.reason)
            return
        except IntegrityError as exc:
            self.reject(row, f"conflicts with existing data: {str(exc.orig).splitlines()[0][:200]}")
            return
        self.counts.count(outcome)
        self.applied.append(self.key(row))

    def reject(self, row: Row, reason: str) -> None:
        raw = jsonable(row)
        key = row.get(self.settings.mapping.entity(self.batch.entity).key)
        raw[quarantine.KEY_FIELD] = key if isinstance(key, int | str) else str(key)
        if self.batch.entity == "orders":
            raw["lines"] = [jsonable(line) for line in self.batch.lines.get(self.key(row), [])]
        quarantine.put(self.session, self.batch.entity, self.key(row), reason, raw, self.settings.now)
        self.counts.quarantined += 1
        log.info("quarantined %s %s: %s", self.batch.entity, self.key(row), reason)

    def suppress(self, row: Row) -> None:
        """A row about an erased person: skipped, and any quarantine entry of it dropped (it holds their data)."""
        quarantine.drop(self.session, self.batch.entity, self.key(row))
        self.counts.suppressed += 1

    def finish(self) -> Counts:
        quarantine.resolve(self.session, self.batch.entity, self.applied, self.settings.now)
        return self.counts


def _customers(session: Session, batch: Batch, settings: Settings, rules: ProgramRules) -> Counts:
    run = _Run(session, batch, settings)
    converted = [(row, run.convert(row)) for row in batch.rows]
    ids = [values["erp_customer_id"] for _, values in converted if values]
    known = {c.erp_customer_id: c for c in session.scalars(select(Customer).where(Customer.erp_customer_id.in_(ids)))}
    for row, values in converted:
        if values is None:
            continue
        if _suppressed(session, known, values, settings):
            run.suppress(row)
        else:
            run.attempt(row, lambda v=values: _customer(session, known, v, settings))  # type: ignore[misc]
    return run.finish()


def _suppressed(
    session: Session, known: dict[str | None, Customer], values: dict[str, Any], settings: Settings
) -> bool:
    """An erased person's row, unless they have joined again (then a member with that phone exists)."""
    if values["erp_customer_id"] in known or not settings.hash_key:
        return False
    if not suppression.is_suppressed(
        session, settings.hash_key, phone=values["phone"], erp_customer_id=values["erp_customer_id"]
    ):
        return False
    return session.scalar(select(Customer.id).where(Customer.phone == values["phone"])) is None


def _customer(
    session: Session, known: dict[str | None, Customer], values: dict[str, Any], settings: Settings
) -> Outcome:
    erp_id = values["erp_customer_id"]
    customer = known.get(erp_id)
    if customer is not None:
        return _update_customer(session, customer, values, settings)
    new = NewCustomer(
        phone=values["phone"],
        name=values.get("name"),
        source="erp",
        erp_customer_id=erp_id,
        email=values.get("email"),
    )
    customer, created = domain_customers.enrol(session, new, settings.now, settings.country_code)
    if customer.erp_customer_id != erp_id:
        raise RowError(f"phone {values['phone']} already belongs to ERP customer {customer.erp_customer_id}")
    known[erp_id] = customer
    _birthday(session, customer, values, settings)
    return Outcome.CREATED if created else Outcome.UPDATED


def _birthday(session: Session, customer: Customer, values: dict[str, Any], settings: Settings) -> bool:
    """The ERP's birthday, when it has one that can be true, through ``consents.set_birthday`` (a minor's
    marketing stops there). The ``date`` transform gives a UTC moment: the day is the ERP's own."""
    moment = values.get("birthday")
    if not isinstance(moment, dt.datetime):
        return False
    day = moment.astimezone(zoneinfo.ZoneInfo(settings.mapping.timezone)).date()
    if day == customer.birthday or day > settings.now.date():
        return False  # unchanged, or a typing mistake in the ERP: the known birthday stays
    consents.set_birthday(session, customer, day, channel="erp", now=settings.now)
    return True


def _update_customer(session: Session, customer: Customer, values: dict[str, Any], settings: Settings) -> Outcome:
    """The ERP is the source of the name, email, phone and birthday of the customers it knows."""
    changed = False
    if values["phone"] != customer.phone:
        other = session.scalar(select(Customer.id).where(Customer.phone == values["phone"]))
        if other is not None:
            raise RowError(f"phone {values['phone']} already belongs to another customer")
        customer.phone, changed = values["phone"], True
    for attr in ("name", "email"):
        if values.get(attr) and values[attr] != getattr(customer, attr):
            setattr(customer, attr, values[attr])
            changed = True
    changed = _birthday(session, customer, values, settings) or changed
    return Outcome.UPDATED if changed else Outcome.UNCHANGED


def _products(session: Session, batch: Batch, settings: Settings, rules: ProgramRules) -> Counts:
    run = _Run(session, batch, settings)
    for row in batch.rows:
        values = run.convert(row)
        if values is None:
            continue
        item = domain_products.ProductData(
            erp_product_id=values["erp_product_id"],
            name=str(values.get("name") or values["erp_product_id"])[:200],
            category=values.get("category"),
            mrp=values.get("mrp"),
        )
        run.attempt(row, lambda i=item: domain_products.upsert_products(session, [i], settings.now)[0])  # type: ignore[misc]
    return run.finish()


def _orders(session: Session, batch: Batch, settings: Settings, rules: ProgramRules) -> Counts:
    run = _Run(session, batch, settings)
    converted = [(row, run.convert(row)) for row in batch.rows]
    wanted = {values["erp_customer_id"] for _, values in converted if values}
    stmt = select(Customer.erp_customer_id, Customer.id).where(Customer.erp_customer_id.in_(wanted))
    customer_ids: dict[str | None, int] = {erp_id: cid for erp_id, cid in session.execute(stmt)}
    ready: list[tuple[Row, OrderData]] = []
    for row, values in converted:
        if values is None:
            continue
        try:
            ready.append((row, _order_data(run, row, values, customer_ids)))
        except RowError as exc:
            erased = values["erp_customer_id"] not in customer_ids and settings.hash_key
            if erased and suppression.is_suppressed(
                session, settings.hash_key, erp_customer_id=values["erp_customer_id"]
            ):
                run.suppress(row)
            else:
                run.reject(row, exc.reason)
    for (row, data), outcome in zip(ready, _bulk(session, [d for _, d in ready], rules, settings), strict=True):
        if outcome is not None:
            run.counts.count(outcome)
            run.applied.append(run.key(row))
        else:
            run.attempt(row, lambda d=data: domain_orders.record_order(session, d, rules, settings.now))  # type: ignore[misc]
    return run.finish()


def _bulk(session: Session, items: list[OrderData], rules: ProgramRules, settings: Settings) -> list[Outcome | None]:
    """New simple orders in a few statements; if that fails as a whole, every order goes one by one."""
    try:
        with session.begin_nested():
            return order_batches.record_new_orders(session, items, rules, settings.now)
    except (DomainError, IntegrityError) as exc:
        log.warning("bulk order insert fell back to one by one: %s", exc)
        return [None] * len(items)


def _order_data(run: _Run, row: Row, values: dict[str, Any], customer_ids: dict[str | None, int]) -> OrderData:
    customer_id = customer_ids.get(values["erp_customer_id"])
    if customer_id is None:
        raise RowError(f"unknown customer {values['erp_customer_id']}")
    return OrderData(
        erp_order_id=values["erp_order_id"],
        customer_id=customer_id,
        order_date=values["order_date"],
        net_amount=values["net_amount"],
        status=values.get("status") or "completed",
        bill_no=values.get("bill_no"),
        lines=_lines(run, run.batch.lines.get(run.key(row), [])),
    )


def _lines(run: _Run, rows: Sequence[Row]) -> tuple[LineData, ...]:
    mapping = run.settings.mapping
    lines = []
    for row in rows:
        values = convert_row(mapping.entity("order_lines"), row, mapping.timezone, run.settings.country_code)
        try:
            line_no = int(values["line_no"])
        except (TypeError, ValueError):
            raise RowError(f"line number {values['line_no']!r} is not a whole number") from None
        category = _category(run, row.get(CATEGORY_ALIAS))
        lines.append(
            LineData(
                line_no=line_no,
                amount=values["amount"],
                erp_product_id=values.get("erp_product_id"),
                category=category,
                qty=Decimal(values["qty"]) if values.get("qty") is not None else LineData.qty,
            )
        )
    return tuple(sorted(lines, key=lambda line: line.line_no))


def _category(run: _Run, raw: Any) -> str | None:
    """The joined product category, transformed as the products mapping says."""
    fm = run.settings.mapping.entity("products").fields.get("category")
    if fm is None or raw is None:
        return None
    value = convert(fm, raw, zoneinfo.ZoneInfo(run.settings.mapping.timezone), run.settings.country_code)
    return str(value).strip() or None if value is not None else None


def _returns(session: Session, batch: Batch, settings: Settings, rules: ProgramRules) -> Counts:
    run = _Run(session, batch, settings)
    for row in batch.rows:
        values = run.convert(row)
        if values is None:
            continue
        data = ReturnData(
            erp_return_id=values["erp_return_id"],
            erp_order_id=values["erp_order_id"],
            return_date=values["return_date"],
            amount=values["amount"],
        )
        run.attempt(row, lambda d=data: domain_orders.record_return(session, d, rules, settings.now))  # type: ignore[misc]
    return run.finish()
