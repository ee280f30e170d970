"""Demo data: enough to try every flow in the simulator and the console."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import affiliates, consents, data_requests, orders, privacy_settings, referrals, rewards
from domain.customers import Customer, NewCustomer, enrol
from domain.rules import load_rules

DEMO_CUSTOMERS = [
    ("+919812345678", "Asha Verma", "en", "C1001"),
    ("+919876543210", "Ravi Kumar", "hi", "C1002"),
    ("+919900112233", "Meera Iyer", "en", "C1003"),
    ("+919811122233", "Imran Shaikh", "hi", "C1004"),
    ("+919822233344", "Priya Nair", "en", None),
]
DEMO_REWARDS = [
    ("₹100 off your next bill", 100, None, None),
    ("Free coffee mug", 250, 50, 2),
    ("₹500 gift card", 500, 20, 1),
    ("Weekend spa voucher", 2000, 5, 1),
]


def seed(session: Session, now: dt.datetime, country_code: int = 91, *, if_empty: bool = False) -> str:
    """Create the demo set; with ``if_empty`` only on a database without customers."""
    if if_empty and (session.scalar(select(func.count(Customer.id))) or 0) > 0:
        return "database already has customers; demo seed skipped"
    rules = load_rules(session)
    people = []
    for phone, name, lang, erp_id in DEMO_CUSTOMERS:
        customer, _ = enrol(
            session,
            NewCustomer(phone=phone, name=name, language=lang, source="demo", erp_customer_id=erp_id),
            now - dt.timedelta(days=200),
            country_code,
        )
        for purpose in consents.PURPOSES:
            consents.record(session, customer, purpose, True, channel="demo", now=now - dt.timedelta(days=200))
        people.append(customer)
    for name, cost, stock, limit in DEMO_REWARDS:
        exists = session.scalar(select(rewards.Reward.id).where(rewards.Reward.name == name))
        if exists is None:
            rewards.add_reward(session, name=name, points_cost=cost, stock=stock, per_customer_limit=limit)
    partner = affiliates.apply(
        session,
        name="Style by Neha",
        phone="+919833344455",
        now=now - dt.timedelta(days=90),
        rules=rules,
        kind="influencer",
    )
    if partner.status == "pending":
        affiliates.decide(session, partner.id, "approved", actor="demo", now=now - dt.timedelta(days=89))
    newcomer, created = enrol(
        session,
        NewCustomer(phone="+919844455566", name="Kabir Singh", source="affiliate"),
        now - dt.timedelta(days=20),
        country_code,
    )
    if created:
        affiliates.attribute(session, newcomer, partner, now - dt.timedelta(days=20), is_new=True)
        for purpose in consents.PURPOSES:
            consents.record(session, newcomer, purpose, True, channel="demo", now=now - dt.timedelta(days=20))
    friend = people[4]
    if friend.referred_by_id is None:
        friend.created_at = now - dt.timedelta(days=10)
        referrals.attribute(session, friend, people[0], now - dt.timedelta(days=10), is_new=True)
    _orders(session, [*people, newcomer], rules, now)
    _data_requests(session, people, now)
    return f"demo data ready: {len(people) + 1} customers, {len(DEMO_REWARDS)} rewards, affiliate code {partner.code}"


def _data_requests(session: Session, people: list[Customer], now: dt.datetime) -> None:
    """Something in the privacy queue: a summary the chat answered, a correction asked on the phone."""
    if session.scalar(select(func.count(data_requests.DataRequest.id))):
        return
    settings = privacy_settings.load(session)
    asked = now - dt.timedelta(days=2)
    data_requests.answered(
        session,
        people[0],
        "access",
        channel="whatsapp",
        now=asked,
        settings=settings,
        outcome="summary sent in the chat",
    )
    data_requests.open_request(
        session, people[1], "correction", channel="console", now=asked, settings=settings, details={"note": "email"}
    )


def _orders(session: Session, people: list[Customer], rules: object, now: dt.datetime) -> None:
    from domain.rules import ProgramRules

    assert isinstance(rules, ProgramRules)
    plan = [
        (0, 180, "18500.00"),
        (0, 40, "9200.00"),
        (1, 120, "4200.00"),
        (1, 15, "1250.50"),
        (2, 300, "52000.00"),
        (2, 100, "31000.00"),
        (3, 60, "799.00"),
        (4, 5, "2600.00"),
        (5, 3, "3400.00"),
    ]
    for n, (who, days_ago, amount) in enumerate(plan, start=1):
        customer = people[who]
        orders.record_order(
            session,
            orders.OrderData(
                erp_order_id=f"DEMO-{n}",
                bill_no=f"B{1000 + n}",
                customer_id=customer.id,
                order_date=now - dt.timedelta(days=days_ago),
                net_amount=Decimal(amount),
                lines=(orders.LineData(1, Decimal(amount), None, "apparel"),),
            ),
            rules,
            now - dt.timedelta(days=days_ago),
        )
