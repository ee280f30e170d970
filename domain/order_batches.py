"""New orders in bulk: the common case of ``orders.record_order``, a batch at a time.

A sync of a million orders cannot afford a dozen statements per order. Most
orders are simple: new, completed, for a customer with no pending referral
bonus, no affiliate and no points owed. For those this
module computes exactly what ``record_order`` would (the same earn function,
ledger lot, notification and first-purchase date) and writes them with a few
set-based statements; a tier upgrade is evaluated after each order, as
``tiers.evaluate`` does. Every other order is handed back (``None``) for
``record_order`` to handle one by one, so the rules live in one place.

A till's sale (``direct_sales``) is a batch of one: ``record_one`` writes it the same way, on
PostgreSQL in a single statement (the customer's figures, the order, its lot and its notifications
as data-modifying CTEs), so that a sale costs a few round trips rather than a dozen.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from domain import earning, tiers
from domain.customers import Customer
from domain.db import Base, money
from domain.errors import ValidationError
from domain.ledger import LedgerEntry
from domain.notifications import Notification
from domain.orders import OrderData, Outcome, validate_order
from domain.rules import ProgramRules
from domain.sales import Order, OrderLine
from domain.timeutil import add_months


@dataclass
class _Plan:
    """The rows one batch will insert, built in Python before any write."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    lines: list[list[dict[str, Any]]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    touched: dict[int, Customer] = field(default_factory=dict)


def record_new_orders(
    session: Session, items: Sequence[OrderData], rules: ProgramRules, now: dt.datetime
) -> list[Outcome | None]:
    """``Outcome.CREATED`` for each order recorded here; ``None`` for those ``record_order`` must handle."""
    outcomes: list[Outcome | None] = [None] * len(items)
    candidates = _candidates(session, items)
    if not candidates:
        return outcomes
    customers = _lock_customers(session, {items[i].customer_id for i in candidates})
    spend = _spend_before(session, list(customers), now, rules)
    by_customer: dict[int, list[int]] = {}
    for i in candidates:
        by_customer.setdefault(items[i].customer_id, []).append(i)
    plan, campaigns = _Plan(), _CampaignCache(session, rules)
    chosen: list[int] = []
    for cid, indexes in by_customer.items():
        customer = customers.get(cid)
        if customer is None or not _simple(customer):
            continue
        running = spend.get(cid, Decimal(0))
        for i in indexes:
            _plan_order(plan, customer, items[i], rules, now, campaigns)
            running = _upgrade_tier(plan, customer, items[i], running, rules, now)
            chosen.append(i)
    _write(session, plan)
    for i in chosen:
        outcomes[i] = Outcome.CREATED
    return outcomes


def record_one(
    session: Session,
    customer: Customer,
    data: OrderData,
    rules: ProgramRules,
    now: dt.datetime,
    *,
    store: str | None = None,
    spend: Decimal | None = None,
    known: dict[dt.date, list[earning.CampaignTerms]] | None = None,
) -> Order | None:
    """``orders.create_order`` for one new order in this module's few statements (a till's sale).

    The caller holds ``customer``'s lock (``ledger.lock_customer``) and has looked under it that
    ``data.erp_order_id`` is new; ``spend`` is ``tiers.rolling_spend`` as of now, when the caller read
    it under that lock; ``known``, the campaigns running on days the caller already looked at. Returns
    the order as written (not in the session: its rows were inserted with Core), or ``None``, having
    written nothing, when the order or the customer is not simple; ``orders.create_order`` then records it.
    """
    validate_order(data)
    if data.status != "completed" or not _simple(customer):
        return None
    if spend is None:
        spend = tiers.rolling_spend(session, customer.id, now, rules.tier_window_days)
    plan = _Plan()
    _plan_order(plan, customer, data, rules, now, _CampaignCache(session, rules, known), store)
    _upgrade_tier(plan, customer, data, spend, rules, now)
    if session.get_bind().dialect.name == "postgresql":
        order_id = _write_one(session, plan, customer)
    else:
        order_id = _write(session, plan)[data.erp_order_id]
    return Order(id=order_id, **plan.orders[0])


def _candidates(session: Session, items: Sequence[OrderData]) -> list[int]:
    """Valid, completed orders we have not seen (each id once in the batch)."""
    ids = [item.erp_order_id for item in items]
    known = set(session.scalars(select(Order.erp_order_id).where(Order.erp_order_id.in_(ids))))
    seen: set[str] = set()
    out = []
    for i, item in enumerate(items):
        try:
            validate_order(item)
        except ValidationError:
            continue
        if item.status == "completed" and item.erp_order_id not in known and item.erp_order_id not in seen:
            out.append(i)
        seen.add(item.erp_order_id)
    return out


def _lock_customers(session: Session, ids: set[int]) -> dict[int, Customer]:
    """All customers of the batch, locked in id order (the order every writer locks in)."""
    stmt = (
        select(Customer)
        .where(Customer.id.in_(sorted(ids)))
        .order_by(Customer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {c.id: c for c in session.scalars(stmt)}


def _spend_before(session: Session, ids: list[int], now: dt.datetime, rules: ProgramRules) -> dict[int, Decimal]:
    """``tiers.rolling_spend`` for every customer of the batch, in one query."""
    since = now - dt.timedelta(days=rules.tier_window_days)
    stmt = (
        select(Order.customer_id, func.sum(Order.net_amount), func.sum(Order.returned_amount))
        .where(Order.customer_id.in_(ids), Order.order_date >= since, Order.status == "completed")
        .group_by(Order.customer_id)
    )
    spend = {cid: Decimal(0) for cid in ids}
    for cid, net, returned in session.execute(stmt):
        spend[cid] = (net or Decimal(0)) - (returned or Decimal(0))
    return spend


def _simple(customer: Customer) -> bool:
    """No referral bonus, affiliate commission or settling of owed points can follow from its orders."""
    if customer.affiliate_id is not None or customer.points_owed != 0:
        return False
    return customer.referred_by_id is None or customer.referral_rewarded_at is not None


class _CampaignCache:
    """Campaigns running on each shop-local day, looked up once per day per batch."""

    def __init__(
        self, session: Session, rules: ProgramRules, known: dict[dt.date, list[earning.CampaignTerms]] | None = None
    ) -> None:
        self.session, self.rules = session, rules
        self.days: dict[dt.date, list[earning.CampaignTerms]] = dict(known or {})

    def on(self, moment: dt.datetime) -> list[earning.CampaignTerms]:
        day = self.rules.local_date(moment)
        if day not in self.days:
            self.days[day] = earning.running_campaigns(self.session, day)
        return self.days[day]


def _plan_order(
    plan: _Plan,
    customer: Customer,
    data: OrderData,
    rules: ProgramRules,
    now: dt.datetime,
    campaigns: _CampaignCache,
    store: str | None = None,
) -> None:
    """What ``orders._create`` writes for a completed order, as rows; the customer is updated in place."""
    net = money(data.net_amount)
    lines = [earning.Line(money(ln.amount), ln.category) for ln in data.lines]
    earned = earning.points_for_order(rules, net, lines, customer.tier, campaigns.on(data.order_date))
    points = earning.points_kept_after_return(earned, net, Decimal(0))
    plan.touched[customer.id] = customer
    plan.orders.append(
        {
            "erp_order_id": data.erp_order_id,
            "bill_no": data.bill_no,
            "customer_id": customer.id,
            "store": store,
            "order_date": data.order_date,
            "net_amount": net,
            "returned_amount": Decimal(0),
            "status": data.status,
            "earn_tier": customer.tier,
            "points_awarded": points,
            "points_earned": earned,
            "revision": 0,
            "created_at": now,
            "updated_at": now,
        }
    )
    plan.lines.append(
        [
            {
                "line_no": ln.line_no,
                "erp_product_id": ln.erp_product_id,
                "category": ln.category,
                "qty": ln.qty,
                "amount": money(ln.amount),
            }
            for ln in data.lines
        ]
    )
    if customer.first_purchase_at is None:
        customer.first_purchase_at = data.order_date
    if points <= 0:
        return
    bill = data.bill_no or data.erp_order_id
    customer.points_balance += points
    customer.lifetime_points += points
    plan.entries.append(
        {
            "customer_id": customer.id,
            "kind": "earn",
            "delta": points,
            "idempotency_key": f"erp:order:{data.erp_order_id}",
            "remaining": points,
            "expires_at": add_months(data.order_date, rules.expiry_months),
            "owed_delta": 0,
            "description": f"bill {bill}"[:200],
            "created_at": now,
            "erp_order_id": data.erp_order_id,
        }
    )
    plan.notes.append(
        {
            "customer_id": customer.id,
            "kind": "points_earned",
            "payload": {"points": points, "bill_no": bill, "amount": str(net), "balance": customer.points_balance},
            "idempotency_key": f"points:order:{data.erp_order_id}",
            "status": "pending",
            "created_at": now,
        }
    )


def _upgrade_tier(
    plan: _Plan, customer: Customer, data: OrderData, spend: Decimal, rules: ProgramRules, now: dt.datetime
) -> Decimal:
    """``tiers.evaluate`` after the order: an upgrade at once (never a downgrade); returns the new spend."""
    if data.order_date >= now - dt.timedelta(days=rules.tier_window_days):
        spend += money(data.net_amount)
    target = tiers.tier_for_spend(spend, rules.tier_thresholds)
    if tiers.rank(target) <= tiers.rank(customer.tier):
        return spend
    previous, customer.tier, customer.tier_changed_at = customer.tier, target, now
    plan.notes.append(
        {
            "customer_id": customer.id,
            "kind": "tier_changed",
            "payload": {"from": previous, "to": target, "upgrade": True},
            "idempotency_key": f"tier:{customer.id}:{now.isoformat()}:{target}",
            "status": "pending",
            "created_at": now,
        }
    )
    return spend


def _write(session: Session, plan: _Plan) -> dict[str, int]:
    """A handful of multi-row statements for the whole batch; returns the new orders' ids by ERP id."""
    if not plan.orders:
        return {}
    _save_customers(session, list(plan.touched.values()))
    session.flush()
    rows = session.execute(
        insert(_table(Order)).returning(Order.id, Order.erp_order_id, sort_by_parameter_order=True), plan.orders
    ).all()
    ids = {erp_id: oid for oid, erp_id in rows}
    lines = [{**line, "order_id": oid} for (oid, _), group in zip(rows, plan.lines, strict=True) for line in group]
    if lines:
        session.execute(insert(_table(OrderLine)), lines)
    if plan.entries:
        entries = [
            {k: v for k, v in e.items() if k != "erp_order_id"} | {"order_id": ids[e["erp_order_id"]]}
            for e in plan.entries
        ]
        session.execute(insert(_table(LedgerEntry)), entries)
    if plan.notes:
        session.execute(insert(_table(Notification)), plan.notes)
    return ids


def _write_one(session: Session, plan: _Plan, customer: Customer) -> int:
    """One order's rows in one statement (PostgreSQL's data-modifying CTEs): the customer's new figures,
    the order, its lot and its notifications; its lines, if any, in a second. Returns the order's id."""
    (order,), lots = plan.orders, [{k: v for k, v in e.items() if k != "erp_order_id"} for e in plan.entries]
    params: dict[str, Any] = {"c_id": customer.id} | {f"c_{name}": getattr(customer, name) for name in _FIGURES}
    for name in _FIGURES:
        set_committed_value(customer, name, params[f"c_{name}"])  # written below: the ORM need not write them
    rows = {"o": order} | {f"l{n}": lot for n, lot in enumerate(lots)} | {f"n{n}": x for n, x in enumerate(plan.notes)}
    for prefix, row in rows.items():
        params |= {f"{prefix}_{name}": value for name, value in row.items()}
    shape = (tuple(order), tuple(tuple(lot) for lot in lots), tuple(tuple(note) for note in plan.notes))
    order_id: int = session.execute(_one_order(*shape), params).scalar_one()
    lines = [{**line, "order_id": order_id} for line in plan.lines[0]]
    if lines:
        session.execute(insert(_table(OrderLine)), lines)
    return order_id


@functools.cache
def _one_order(
    order: tuple[str, ...], lots: tuple[tuple[str, ...], ...], notes: tuple[tuple[str, ...], ...]
) -> Select[int]:
    """``_write_one``'s statement for rows with these columns, built once per shape (building a statement of
    this size costs more than running it); every value is a bound parameter named ``<row>_<column>``."""
    orders, entries, notifications, customers = (_table(m) for m in (Order, LedgerEntry, Notification, Customer))
    figures = update(customers).where(customers.c.id == bindparam("c_id"))
    ctes: list[Any] = [figures.values({name: bindparam(f"c_{name}") for name in _FIGURES}).cte("figures")]
    new_order = insert(orders).values({name: bindparam(f"o_{name}") for name in order})
    order_cte = new_order.returning(orders.c.id).cte("new_order")
    for n, lot in enumerate(lots):  # the lot names the order: its id comes from the order's INSERT
        values = select(*[bindparam(f"l{n}_{name}", type_=entries.c[name].type) for name in lot], order_cte.c.id)
        ctes.append(insert(entries).from_select([*lot, "order_id"], values).cte(f"lot_{n}"))
    for n, note in enumerate(notes):  # one single-row INSERT each: a multi-row VALUES is compiled on every run
        row: dict[str, Any] = {name: bindparam(f"n{n}_{name}") for name in note}
        ctes.append(insert(notifications).values(row).cte(f"note_{n}"))
    return select(order_cte.c.id).add_cte(*ctes)


# What an order changes on its customer (written by ``_save_customers`` and ``_write_one``).
_FIGURES = ("points_balance", "lifetime_points", "first_purchase_at", "tier", "tier_changed_at")


def _table(model: type[Base]) -> Table:
    """The model's Core table: Core inserts skip the ORM's per-object bookkeeping."""
    return cast(Table, model.__table__)


def _save_customers(session: Session, customers: list[Customer]) -> None:
    """The customers' new balances and tiers: one statement on PostgreSQL, instead of one per customer."""
    if session.get_bind().dialect.name != "postgresql":
        session.flush()
        return
    values = {name: [getattr(c, name) for c in customers] for name in _FIGURES}
    for customer in customers:
        # Written below in one statement: the ORM need not write them again.
        for name in _FIGURES:
            set_committed_value(customer, name, getattr(customer, name))
    session.execute(
        text(
            "UPDATE customers SET points_balance = v.balance, lifetime_points = v.lifetime,"
            " first_purchase_at = v.first_purchase, tier = v.tier, tier_changed_at = v.tier_changed"
            " FROM unnest(CAST(:ids AS integer[]), CAST(:balance AS integer[]), CAST(:lifetime AS integer[]),"
            " CAST(:first_purchase AS timestamptz[]), CAST(:tier AS varchar[]), CAST(:tier_changed AS timestamptz[]))"
            " AS v(id, balance, lifetime, first_purchase, tier, tier_changed) WHERE customers.id = v.id"
        ),
        {
            "ids": [c.id for c in customers],
            "balance": values["points_balance"],
            "lifetime": values["lifetime_points"],
            "first_purchase": values["first_purchase_at"],
            "tier": values["tier"],
            "tier_changed": values["tier_changed_at"],
        },
    )
