"""Points as payment at a till: the member's Confirm or Decline of a hold the till opened (``api/holds``).

The till's request reached the member with two buttons, ``hold:confirm:<id>`` and ``hold:decline:<id>``
(``bot.payments``); they reach this flow in any state, also while staff have the conversation, since a
cashier is waiting. A typed CONFIRM or DECLINE (or the Hindi words) answers the one hold waiting for the
member, when there is exactly one; with several, the member is asked to tap the message they mean.
An answer to a hold that is not waiting (expired, released, captured, already answered, another member's)
changes nothing and says why. The domain decides all of it (``domain.holds.answer``).
"""

from __future__ import annotations

from bot import replies as rp
from bot.flows.turn import Turn
from bot.messages import Reply
from bot.texts import Texts
from domain import holds
from domain.errors import NotFound
from domain.holds import Answer, Hold

CONFIRM, DECLINE = "hold:confirm:", "hold:decline:"
MAX_ID = 2_147_483_647


def confirm(turn: Turn) -> list[Reply]:
    return _answer(turn, CONFIRM, confirmed=True)


def decline(turn: Turn) -> list[Reply]:
    return _answer(turn, DECLINE, confirmed=False)


def _answer(turn: Turn, prefix: str, *, confirmed: bool) -> list[Reply]:
    customer, t = turn.require_customer(), turn.t
    pressed = turn.command.argument if turn.command is not None else None
    if pressed is not None:
        hold_id = _hold_id(pressed, prefix)
    else:
        waiting = holds.pending_for(turn.session, customer.id, turn.now)
        if len(waiting) != 1:
            return _typed_without_one(turn, len(waiting))
        hold_id = waiting[0].id
    _done(turn)
    if hold_id is None:
        return [rp.text(t._("I could not find that payment request, so nothing was changed."))]
    try:
        hold, outcome = holds.answer(turn.session, hold_id, customer.id, confirmed, turn.now)
    except NotFound:
        return [rp.text(t._("I could not find that payment request, so nothing was changed."))]
    return [rp.text(_answer_text(turn, hold, outcome, confirmed))]


def _hold_id(pressed: str, prefix: str) -> int | None:
    digits = pressed[len(prefix) :] if pressed.startswith(prefix) else ""
    return int(digits) if digits.isascii() and digits.isdigit() and 0 < int(digits) <= MAX_ID else None


def _typed_without_one(turn: Turn, waiting: int) -> list[Reply]:
    if turn.conv.handoff:
        return []  # staff have the conversation: a typed word with no payment to answer is for them
    _done(turn)
    t = turn.t
    if waiting == 0:
        return [rp.text(t._("There is no payment waiting for your answer."))]
    return [
        rp.text(
            t.n_(
                "You have {n} payment waiting. Please tap Confirm or Decline on its message.",
                "You have {n} payments waiting. Please tap Confirm or Decline on the message of the one you mean.",
                waiting,
            )
        )
    ]


def _answer_text(turn: Turn, hold: Hold, outcome: Answer, confirmed: bool) -> str:
    t = turn.t
    if outcome is Answer.CONFIRMED:
        amount = t.money(holds.value_of(hold.points, turn.rules.point_value), turn.rules.currency)
        return "\n".join(
            [
                t.n_(
                    "Confirmed: {n} point ({amount}) is held for your payment.",
                    "Confirmed: {n} points ({amount}) are held for your payment.",
                    hold.points,
                    amount=amount,
                ),
                t._("The cashier will complete it."),
            ]
        )
    if outcome is Answer.DECLINED:
        return t.n_(
            "Declined: nothing was paid, and your {n} point stays yours.",
            "Declined: nothing was paid, and your {n} points stay yours.",
            hold.points,
        )
    if outcome is Answer.EXPIRED:
        return t._("This payment request has expired, so nothing was paid. Ask the cashier for a new one if needed.")
    return _not_pending_text(t, hold.status, confirmed)


def _not_pending_text(t: Texts, status: str, confirmed: bool) -> str:
    if status == "held":
        if confirmed:
            return t._("You have already confirmed this payment.")
        return t._("You have already confirmed this payment. To cancel it, please ask the cashier.")
    if status == "captured":
        return t._("This payment is already complete.")
    if status == "declined":
        return t._("You have already declined this payment; nothing was paid.")
    return t._("This payment request was cancelled, so nothing was paid.")


def _done(turn: Turn) -> None:
    """Back to the menu; a member who has not finished onboarding (a till enrolled them) starts it next."""
    customer = turn.customer
    turn.goto("menu" if customer is not None and customer.opt_in_changed_at is not None else "start")
