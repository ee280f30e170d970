"""What every flow uses: the main menu, the answer to anything not understood, and small text helpers."""

from __future__ import annotations

from bot import replies as rp
from bot.flows.turn import Turn
from bot.keywords import yes_or_no
from bot.messages import Reply
from bot.texts import Texts
from domain.customers import Customer

MEDIA_KINDS = frozenset({"image", "sticker", "location", "audio", "video", "document", "contacts", "reaction"})
CONSENT_SOURCE = "whatsapp"


def show_menu(turn: Turn, intro: str | None = None) -> Reply:
    """The main menu as a list message; ``intro`` goes above the question."""
    t = turn.t
    rows = [
        ("cmd:points", t._("My points"), t._("Balance, tier and expiry")),
        ("cmd:rewards", t._("Rewards"), t._("Redeem your points")),
        ("cmd:history", t._("History"), t._("Your latest points activity")),
        ("cmd:refer", t._("Refer a friend"), t._("Your code and link to share")),
        ("cmd:affiliate", t._("Affiliate"), t._("Earn commission as a partner")),
        ("cmd:help", t._("Help"), t._("Talk to a person")),
        ("cmd:offers", t._("Offers"), t._("Yes or no to our offers")),
        ("cmd:language", t._("Language"), "English / हिन्दी"),
        ("cmd:my_data", t._("My data"), t._("See, correct or delete it")),
    ]
    question = t._("What would you like to do?")
    body = f"{intro}\n\n{question}" if intro else question
    return rp.listing(body, t._("Menu"), rows, section=t._("Main menu"))


def menu_command(turn: Turn) -> list[Reply]:
    turn.goto("menu")
    return [show_menu(turn)]


def fallback(turn: Turn) -> list[Reply]:
    """Anything the bot does not understand: a short answer and the menu."""
    turn.goto("menu")
    t = turn.t
    if turn.incoming.kind in MEDIA_KINDS:
        intro = t._("Thanks! I can only read text and buttons, but I can help you with your points.")
    elif turn.incoming.kind == "text":
        intro = t._("Sorry, I did not understand that. Type HELP for the words I know.")
    else:
        intro = t._("Let's start from the menu.")
    return [show_menu(turn, intro)]


def button_or_word(turn: Turn, yes_id: str, no_id: str) -> bool | None:
    """A pressed button, or a typed yes / no; a typed START counts as a yes."""
    if turn.choice == yes_id:
        return True
    if turn.choice == no_id:
        return False
    if turn.choice is None and turn.text:
        if turn.table.keywords.asks_for(turn.text, "start"):
            return True
        return yes_or_no(turn.text)
    return None


def first_name(turn: Turn, customer: Customer) -> str:
    return (customer.name or turn.incoming.profile_name or turn.t._("there")).split()[0]


def tier_name(t: Texts, tier: str) -> str:
    names = {"silver": t._("Silver"), "gold": t._("Gold"), "platinum": t._("Platinum")}
    return names.get(tier, tier.title())
