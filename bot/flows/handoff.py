"""Staff hand-off: "talk to a person" flags the conversation, and the bot stays quiet until staff hand it back.

While ``Conversation.handoff`` is set the engine answers only the commands the table marks
``while_handed_off`` (STOP and START); staff reply from the console.
"""

from __future__ import annotations

from bot import replies as rp
from bot.flows.turn import Turn
from bot.messages import Reply


def hand_off(turn: Turn) -> list[Reply]:
    """Flag the conversation for staff; the bot stays quiet until they hand it back."""
    turn.goto("menu")
    turn.conv.handoff = True
    turn.conv.handoff_at = turn.now
    return [rp.text(turn.t._("Thank you. A member of our team will reply here soon."))]
