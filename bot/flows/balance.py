"""Balance and history: the points, tier and what expires soon; the latest ledger entries."""

from __future__ import annotations

from bot import replies as rp
from bot.flows.common import tier_name
from bot.flows.turn import Turn
from bot.messages import Reply
from bot.texts import Texts
from domain import expiry, holds, ledger, tiers
from domain.customers import Customer


def show_points(turn: Turn) -> list[Reply]:
    turn.goto("menu")
    customer, t, rules = turn.require_customer(), turn.t, turn.rules
    lines = [
        t.n_("You have {n} point.", "You have {n} points.", customer.points_balance),
        *held_lines(t, customer),
        t._("Tier: {tier}", tier=tier_name(t, customer.tier)),
    ]
    spend = tiers.rolling_spend(turn.session, customer.id, turn.now, rules.tier_window_days)
    progress = tiers.progress(customer.tier, spend, rules.tier_thresholds)
    if progress.next_tier is None:
        lines.append(t._("You are in our highest tier. Thank you!"))
    else:
        lines.append(
            t._(
                "Spend {amount} more to reach {tier}.",
                amount=t.money(progress.spend_to_next, rules.currency),
                tier=tier_name(t, progress.next_tier),
            )
        )
    lines += _expiry_lines(turn, customer)
    choices = [("cmd:rewards", t._("Rewards")), ("cmd:history", t._("History")), ("cmd:menu", t._("Menu"))]
    return [rp.buttons("\n".join(lines), choices)]


def held_lines(t: Texts, customer: Customer) -> list[str]:
    """Points an open payment at a till holds, and what is left to spend, while there is such a hold."""
    if customer.points_held <= 0:
        return []
    return [
        t.n_("{n} point held for a payment.", "{n} points held for a payment.", customer.points_held),
        t.n_("Available to spend: {n} point.", "Available to spend: {n} points.", customer.points_available),
    ]


def _expiry_lines(turn: Turn, customer: Customer) -> list[str]:
    t, lines = turn.t, []
    soon = expiry.expiring_soon(turn.session, customer.id, turn.now, max(turn.rules.expiry_warning_days, 30))
    if soon is not None:
        lines.append(
            t.n_(
                "{n} point expires on {date}.",
                "{n} points expire on {date}.",
                soon.points,
                date=t.date(soon.expires_at),
            )
        )
    if customer.points_owed > 0:
        lines.append(
            t.n_(
                "{n} point is owed from a return; it comes off your next points.",
                "{n} points are owed from a return; they come off your next points.",
                customer.points_owed,
            )
        )
    return lines


def show_history(turn: Turn) -> list[Reply]:
    turn.goto("menu")
    customer, t = turn.require_customer(), turn.t
    entries = ledger.history(turn.session, customer.id, limit=10)
    choices = [("cmd:points", t._("My points")), ("cmd:menu", t._("Menu"))]
    if not entries:
        return [rp.buttons(t._("No points activity yet. Your points appear here after your first purchase."), choices)]
    lines = [t.n_("Your last {n} entry:", "Your last {n} entries:", len(entries))]
    lines += [history_line(t, entry) for entry in entries]
    lines.append(t.n_("Balance: {n} point", "Balance: {n} points", customer.points_balance))
    return [rp.buttons("\n".join(lines), choices)]


def history_line(t: Texts, entry: ledger.LedgerEntry) -> str:
    labels = {
        "earn": t._("Purchase"),
        "redeem": t._("Reward"),
        "refund": t._("Refund"),
        "adjust": t._("Adjustment"),
        "expire": t._("Expired"),
        "clawback": t._("Return"),
        "referral_bonus": t._("Referral bonus"),
        "bonus": t._("Bonus"),
    }
    sign = "+" if entry.delta > 0 else "−" if entry.delta < 0 else ""
    label = labels.get(entry.kind, entry.kind)
    if entry.kind == "redeem" and holds.is_capture(entry.idempotency_key):
        label = t._("Points payment")
    elif entry.kind == "redeem" and entry.description:
        label = f"{label}: {rp.fit(entry.description, 40)}"
    return f"{t.date(entry.created_at)} · {label} · {sign}{t.number(abs(entry.delta))}"
