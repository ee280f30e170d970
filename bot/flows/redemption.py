"""Rewards and redemption: the catalog in pages, a reward picked, confirmed, and its voucher.

The reward picked waits in ``reward_id`` for the confirmation (state ``confirm``); the
points are spent only on a yes, keyed by the message, so a redelivered
confirmation cannot redeem twice.
"""

from __future__ import annotations

from sqlalchemy import select

from bot import replies as rp
from bot.flows.common import button_or_word, fallback, show_menu
from bot.flows.turn import Turn
from bot.messages import MAX_ROW_DESCRIPTION, MAX_ROW_TITLE, Reply
from bot.texts import Texts
from domain import rewards
from domain.customers import Customer
from domain.errors import DomainError, InsufficientPoints, LimitReached, NotFound, OutOfStock, RewardUnavailable
from domain.notifications import Notification

REWARD_PAGE = 9


def show_rewards(turn: Turn, page: int = 0) -> list[Reply]:
    """The catalog as a list, cheapest first; affordable, sold-out and used-up rewards marked."""
    customer, t = turn.require_customer(), turn.t
    items = rewards.catalog(turn.session, turn.now)
    if not items:
        turn.goto("menu")
        return [show_menu(turn, t._("There are no rewards right now. Please check again soon."))]
    size = len(items) if len(items) <= REWARD_PAGE + 1 else REWARD_PAGE
    page = page if page * size < len(items) else 0
    shown = items[page * size : (page + 1) * size]
    rows = [(f"reward:{r.id}", rp.fit(r.name, MAX_ROW_TITLE), reward_status(turn, customer, r)) for r in shown]
    if len(items) > size:
        rows.append(("rewards:more", t._("More rewards"), t._("See the next page")))
    turn.goto("rewards", page=page)
    body = t.n_("You have {n} point. Pick a reward:", "You have {n} points. Pick a reward:", customer.points_balance)
    return [rp.listing(body, t._("Rewards"), rows, section=t._("Catalog"))]


def reward_status(turn: Turn, customer: Customer, reward: rewards.Reward) -> str:
    t = turn.t
    cost = t.n_("{n} point", "{n} points", reward.points_cost)
    if not reward.in_stock():
        status = t._("sold out")
    elif _limit_used(turn, customer, reward):
        status = t._("limit reached")
    elif customer.points_available >= reward.points_cost:  # points held for a payment at a till are not spendable
        status = "✓ " + t._("you can redeem this")
    else:
        status = t.n_("{n} more point needed", "{n} more points needed", reward.points_cost - customer.points_available)
    return rp.fit(f"{cost} · {status}", MAX_ROW_DESCRIPTION)


def _limit_used(turn: Turn, customer: Customer, reward: rewards.Reward) -> bool:
    if reward.per_customer_limit is None:
        return False
    return rewards.redeemed_count(turn.session, customer.id, reward.id) >= reward.per_customer_limit


def pick_reward(turn: Turn) -> list[Reply]:
    if turn.choice == "rewards:more":
        return show_rewards(turn, int(turn.data.get("page", 0)) + 1)
    if not (turn.choice or "").startswith("reward:"):
        return fallback(turn)
    reward = turn.session.get(rewards.Reward, int(str(turn.choice)[7:]))
    customer, t = turn.require_customer(), turn.t
    turn.goto("menu")
    if reward is None or not reward.is_live(turn.now):
        return [show_menu(turn, t._("Sorry, that reward is no longer available."))]
    problem = _why_not(turn, customer, reward)
    if problem:
        return [rp.buttons(problem, [("cmd:rewards", t._("Other rewards")), ("cmd:menu", t._("Menu"))])]
    turn.goto("confirm", reward_id=reward.id)
    return [confirm_question(turn, customer, reward)]


def _why_not(turn: Turn, customer: Customer, reward: rewards.Reward) -> str | None:
    t = turn.t
    if not reward.in_stock():
        return t._("Sorry, {reward} is sold out.", reward=reward.name)
    if _limit_used(turn, customer, reward):
        return limit_text(t, reward.name, reward.per_customer_limit or 1)
    if customer.points_available < reward.points_cost:
        return short_text(t, reward.name, reward.points_cost, customer.points_available)
    return None


def limit_text(t: Texts, reward: str, limit: int) -> str:
    return t.n_(
        "{reward} can be redeemed {n} time per customer, and you have used it.",
        "{reward} can be redeemed {n} times per customer, and you have used them all.",
        limit,
        reward=reward,
    )


def short_text(t: Texts, reward: str, cost: int, balance: int) -> str:
    needs = t.n_("{reward} needs {n} point.", "{reward} needs {n} points.", cost, reward=reward)
    has = t.n_("You have {n} point,", "You have {n} points,", balance)
    more = t.n_("so you need {n} more.", "so you need {n} more.", cost - balance)
    return f"{needs} {has} {more}"


def confirm_question(turn: Turn, customer: Customer, reward: rewards.Reward) -> Reply:
    t = turn.t
    body = "\n".join(
        [
            t.n_(
                "Redeem {reward} for {n} point?",
                "Redeem {reward} for {n} points?",
                reward.points_cost,
                reward=reward.name,
            ),
            t.n_(
                "You will have {n} point left.",
                "You will have {n} points left.",
                customer.points_balance - reward.points_cost,
            ),
        ]
    )
    return rp.buttons(body, [("confirm:yes", t._("Yes, redeem")), ("confirm:no", t._("Cancel"))])


def confirm_redeem(turn: Turn) -> list[Reply]:
    answer = button_or_word(turn, "confirm:yes", "confirm:no")
    reward_id = int(turn.data.get("reward_id", 0))
    t = turn.t
    if answer is None:
        return fallback(turn)
    turn.goto("menu")
    if answer is False:
        return [show_menu(turn, t._("OK, nothing was redeemed."))]
    return [redeem(turn, reward_id)]


def redeem(turn: Turn, reward_id: int) -> Reply:
    """Spend the points; the key comes from the message, so a redelivery cannot redeem twice."""
    customer, t = turn.require_customer(), turn.t
    again = [("cmd:rewards", t._("Other rewards")), ("cmd:menu", t._("Menu"))]
    try:
        redemption = rewards.redeem(
            turn.session, customer.id, reward_id, turn.rules, turn.now, key=f"redeem:wa:{turn.incoming.message_id}"
        )
    except DomainError as exc:
        return rp.buttons(redeem_refusal(t, exc), again)
    _told_in_chat(turn, redemption.id)
    body = "\n".join(
        [
            t._("Done! Your voucher for {reward}:", reward=redemption.reward.name),
            f"*{redemption.voucher_code}*",
            t._("Show this code at the counter by {date}.", date=t.date(redemption.expires_at)),
            t.n_("You have {n} point left.", "You have {n} points left.", customer.points_balance),
        ]
    )
    return rp.buttons(body, [("cmd:points", t._("My points")), ("cmd:menu", t._("Menu"))])


def redeem_refusal(t: Texts, exc: DomainError) -> str:
    reward = str(exc.details.get("reward", ""))
    if isinstance(exc, InsufficientPoints):
        return short_text(t, reward, int(exc.details["needed"]), int(exc.details["balance"]))
    if isinstance(exc, OutOfStock):
        return t._("Sorry, {reward} is sold out.", reward=reward)
    if isinstance(exc, LimitReached):
        return limit_text(t, reward, int(exc.details.get("limit", 1)))
    if isinstance(exc, RewardUnavailable | NotFound):
        return t._("Sorry, that reward is no longer available.")
    return t._("Sorry, that did not work. Please try again or type HELP.")


def _told_in_chat(turn: Turn, redemption_id: int) -> None:
    """The voucher is in this reply already: no second copy as a notification."""
    row = turn.session.scalar(
        select(Notification).where(
            Notification.idempotency_key == f"voucher:{redemption_id}", Notification.status == "pending"
        )
    )
    if row is not None:
        row.status = "skipped"
        row.status_reason = "sent in the chat reply"
        row.dispatched_at = turn.now
