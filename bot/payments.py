"""Messages the integration API sends at once: a points payment's code, a voucher just redeemed at a till.

They are enqueued in the caller's unit of work (``claimed``, so the sender needs no transaction to
claim them) and handed to the sender threads when that unit of work commits; a rolled-back request
sends nothing. Inside WhatsApp's 24-hour window the payment code comes as an interactive message
with Confirm and Decline; outside it as the approved authentication template
(``ProgramRules.templates["points_payment_code"]``), whose one parameter is the code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot import conversations, jobs, outbox
from bot import replies as rp
from bot.flows.payment import CONFIRM, DECLINE
from bot.messages import Reply, Template, authentication_template
from bot.models import Conversation, OutboxMessage
from bot.texts import Texts, texts_for
from domain.customers import Customer, chat_address
from domain.notifications import Notification
from domain.rules import load_rules

_AFTER_COMMIT = "bot.payments.after_commit"


@dataclass(frozen=True)
class PaymentCode:
    """What the member is asked to confirm (plain values from the caller)."""

    hold_id: int
    customer_id: int
    points: int
    amount: Decimal
    currency: str
    store: str | None
    code: str
    minutes: int


def payment_request(t: Texts, payment: PaymentCode) -> Reply:
    amount = t.money(payment.amount, payment.currency)
    if payment.store:
        ask = t.n_(
            "Pay {n} point ({amount}) at {store}?",
            "Pay {n} points ({amount}) at {store}?",
            payment.points,
            amount=amount,
            store=payment.store,
        )
    else:
        ask = t.n_(
            "Pay {n} point ({amount}) at the till?",
            "Pay {n} points ({amount}) at the till?",
            payment.points,
            amount=amount,
        )
    body = "\n".join(
        [
            ask,
            t._("Your payment code: *{code}*", code=payment.code),
            t.n_(
                "Tap Confirm, or read the code out to the cashier. It is valid for {n} minute.",
                "Tap Confirm, or read the code out to the cashier. It is valid for {n} minutes.",
                payment.minutes,
            ),
            t._("Not you? Tap Decline and your points stay yours."),
        ]
    )
    choices = [(f"{CONFIRM}{payment.hold_id}", t._("Confirm")), (f"{DECLINE}{payment.hold_id}", t._("Decline"))]
    return rp.buttons(rp.fit(body, rp.MAX_INTERACTIVE_BODY), choices)


def send_payment_code(
    session: Session, app: Flask, payment: PaymentCode, now: dt.datetime, config: Mapping[str, Any]
) -> None:
    customer = session.get(Customer, payment.customer_id)
    if customer is None:
        return
    rules = load_rules(session)
    t = texts_for(customer.language, config, rules.timezone)
    conv = session.get(Conversation, chat_address(customer))
    if conv is not None and conversations.window_open(conv, now):
        message: Reply | Template = payment_request(t, payment)
    else:
        name = rules.templates.get("points_payment_code", "points_payment_code")
        message = authentication_template(name, t.language, payment.code)
    item = outbox.add(
        session,
        chat_address(customer),
        message,
        key=f"hold:{payment.hold_id}:code",
        now=now,
        customer_id=customer.id,
        origin="api",
        claimed=True,
    )
    if item is not None:
        send_after_commit(session, app, [item])


def send_notifications_now(session: Session, customer_id: int, now: dt.datetime, app: Flask) -> int:
    """The customer's pending notifications (a voucher just issued) into the outbox and out after commit."""
    pending = list(
        session.scalars(
            select(Notification).where(Notification.customer_id == customer_id, Notification.status == "pending")
        )
    )
    for notification in pending:
        jobs.dispatch_one(session, notification, now, app.config)
    keys = [f"notification:{n.id}" for n in pending]
    if not keys:
        return 0
    session.flush()
    rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.in_(keys))))
    send_after_commit(session, app, [outbox.outgoing(row) for row in rows])
    return len(rows)


def send_after_commit(session: Session, app: Flask, items: Sequence[outbox.Outgoing]) -> None:
    """Hand ``items`` to the sender threads once ``session`` commits (never before: a rollback sends nothing)."""
    waiting: list[outbox.Outgoing] | None = session.info.get(_AFTER_COMMIT)
    if waiting is not None:
        waiting.extend(items)
        return
    session.info[_AFTER_COMMIT] = list(items)

    def hand_over(committed: Session) -> None:
        from bot.sender import dispatcher

        batch = committed.info.pop(_AFTER_COMMIT, [])
        if batch:
            dispatcher(app).submit(batch)

    def forget(rolled_back: Session) -> None:
        rolled_back.info.pop(_AFTER_COMMIT, None)

    event.listen(session, "after_commit", hand_over, once=True)
    event.listen(session, "after_rollback", forget, once=True)
