"""Proactive messages from domain notifications, in the customer's language.

Each kind renders twice: a normal message for inside WhatsApp's 24-hour window,
and an approved template (name from ``ProgramRules.templates``) for outside it.
The transport decides which one to send and whether to send at all (opt-in).

Template parameters, in order (what the approved templates must expect):

================  ===============================================
points_earned     name, points, bill number, balance
tier_changed      name, tier
points_expiring   name, points, expiry date
voucher_issued    name, reward, voucher code, valid-until date
referral_bonus    name, points
points_returned   name, points, bill number, balance
retention_warning name, points, erasure date
points_paid       name, points, balance
points_released   name, points, balance
================  ===============================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from bot import replies as rp
from bot.flows.common import tier_name
from bot.messages import Reply, Template
from bot.texts import Texts, texts_for
from domain.customers import Customer
from domain.notifications import Notification
from domain.rules import load_rules

Renderer = Callable[[Texts, Customer, Mapping[str, Any]], tuple[str, tuple[str, ...]]]


def render(
    session: Session, notification: Notification, customer: Customer, config: Mapping[str, Any]
) -> tuple[Reply, Template]:
    """The in-window message and the template for one notification."""
    rules = load_rules(session)
    t = texts_for(customer.language, config, rules.timezone)
    body, params = RENDERERS[notification.kind](t, customer, notification.payload or {})
    name = rules.templates.get(notification.kind, notification.kind)
    return rp.text(body), Template(name=name, language=t.language, params=params)


def _name(t: Texts, customer: Customer) -> str:
    return (customer.name or t._("there")).split()[0]


def _when(value: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(str(value))


def points_earned(t: Texts, customer: Customer, data: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    points, balance = int(data.get("points", 0)), int(data.get("balance", customer.points_balance))
    bill = str(data.get("bill_no", ""))
    body = "\n".join(
        [
            t.n_("You earned {n} point on bill {bill}.", "You earned {n} points on bill {bill}.", points, bill=bill),
            t.n_("Your balance: {n} point.", "Your balance: {n} points.", balance),
        ]
    )
    return body, (_name(t, customer), t.number(points), bill, t.number(balance))


def tier_changed(t: Texts, customer: Customer, data: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    tier = tier_name(t, str(data.get("to", customer.tier)))
    if data.get("upgrade", True):
        body = t._("Congratulations! You are now a {tier} member.", tier=tier)
    else:
        body = t._("Your membership tier is now {tier}. Shop with us to move up again.", tier=tier)
    return body, (_name(t, customer), tier)


def points_expiring(t: Texts, customer: Customer, data: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    points, date = int(data.get("points", 0)), t.date(_when(data["expires_at"]))
    body = "\n".join(
        [
            t.n_("{n} point expires on {date}.", "{n} points expire on {date}.", points, date=date),
            t._("Send REDEEM to use them on a reward."),
        ]
    )
    return body, (_name(t, customer), t.number(points), date)


def voucher_issued(t: Texts, customer: Customer, data: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    reward, code, date = str(data.get("reward", "")), str(data.get("code", "")), t.date(_when(data["expires_at"]))
    body = "\n".join(
        [
            t._("Your voucher for {reward}:", reward=reward),
            f"*{code}*",
            t._("Show this code at the counter by {date}.", date=date),
        ]
    )
    return body, (_name(t, customer), reward, code, date)


def referral_bonus(t: Texts, customer: Customer, data: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    points = int(data.get("points", 0))
    if data.get("role") == "referrer":
        body = t.n_(
            "Your friend made their first purchase: you earned {n} point. Thank you for the referral!",
            "Your friend made their first purchase: you earned {n} points. Thank you for the referral!",
            points,
        )
    else:
        body = t.n_(
            "Welcome bonus: {n} point for your first purchase!",
            "Welcome bonus: {n} points for your first purchase!",
            points,
        )
    return body, (_name(t, customer), t.number(points))


def points_returned(t: Texts, customer: Customer, data: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    points, balance = int(data.get("points", 0)), int(data.get("balance", customer.points_balance))
    bill = str(data.get("bill_no", ""))
    body = "\n".join(
        [
            t.n_(
                "{n} point was taken back for the return on bill {bill}.",
                "{n} points were taken back for the return on bill {bill}.",
                points,
                bill=bill,
            ),
            t.n_("Your balance: {n} point.", "Your balance: {n} points.", balance),
        ]
    )
    return body, (_name(t, customer), t.number(points), bill, t.number(balance))


def retention_warning(t: Texts, customer: Customer, data: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    date = t.date(_when(data["erase_on"]))
    body = "\n".join(
        [
            t._("We have not seen you for a long time, so we will delete your loyalty account on {date}.", date=date),
            t.n_(
                "Your {n} point will be lost then. Send any message before that date to keep your account.",
                "Your {n} points will be lost then. Send any message before that date to keep your account.",
                customer.points_balance,
            ),
        ]
    )
    return body, (_name(t, customer), t.number(customer.points_balance), date)


def points_paid(t: Texts, customer: Customer, data: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """A points payment at a till went through (``domain.holds.capture``)."""
    points, balance, store = (
        int(data.get("points", 0)),
        int(data.get("balance", customer.points_balance)),
        data.get("store"),
    )
    if store:
        paid = t.n_("You paid {n} point at {store}.", "You paid {n} points at {store}.", points, store=store)
    else:
        paid = t.n_("You paid {n} point at the till.", "You paid {n} points at the till.", points)
    lines = [paid]
    returned = int(data.get("returned", 0))
    if returned > 0:
        lines.append(
            t.n_(
                "{n} held point was not needed and is yours again.",
                "{n} held points were not needed and are yours again.",
                returned,
            )
        )
    lines.append(t.n_("Your balance: {n} point.", "Your balance: {n} points.", balance))
    return "\n".join(lines), (_name(t, customer), t.number(points), t.number(balance))


def points_released(t: Texts, customer: Customer, data: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """Points held for a payment are free again, and nothing was paid (``domain.holds``)."""
    points, balance = int(data.get("points", 0)), int(data.get("balance", customer.points_balance))
    why = data.get("why")
    if why == "expired":
        first = t.n_(
            "The payment of {n} point at the till was not completed in time, so nothing was paid.",
            "The payment of {n} points at the till was not completed in time, so nothing was paid.",
            points,
        )
    elif why == "too many wrong codes":
        first = t.n_(
            "The payment of {n} point at the till was cancelled after too many wrong codes; nothing was paid.",
            "The payment of {n} points at the till was cancelled after too many wrong codes; nothing was paid.",
            points,
        )
    else:
        first = t.n_(
            "The payment of {n} point at the till was cancelled, so nothing was paid.",
            "The payment of {n} points at the till was cancelled, so nothing was paid.",
            points,
        )
    body = "\n".join([first, t.n_("Your balance: {n} point.", "Your balance: {n} points.", balance)])
    return body, (_name(t, customer), t.number(points), t.number(balance))


RENDERERS: dict[str, Renderer] = {
    "points_earned": points_earned,
    "tier_changed": tier_changed,
    "points_expiring": points_expiring,
    "voucher_issued": voucher_issued,
    "referral_bonus": referral_bonus,
    "points_returned": points_returned,
    "retention_warning": retention_warning,
    "points_paid": points_paid,
    "points_released": points_released,
}
