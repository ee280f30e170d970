"""The conversation as data: which flow answers each command, button and state.

``bot.engine`` answers a message with the first of these that fits:

* a **command**: one of its ``words`` typed (any case, spacing or punctuation: ``bot.keywords``
  matches them), a ``cmd:<name>`` button or list row pressed, or a button whose id starts with
  one of its ``buttons`` (buttons on messages sent outside the chat). Before onboarding is
  finished only the commands that ``reach`` that far are answered; while staff have the
  conversation, only those answered ``while_handed_off``, and nothing else at all.
* the conversation's **state**: the handler of the question the customer was asked last.
  The button ids that question offers are listed with it (``"reward:"`` is followed by an id).

Adding a flow: its handlers in a module of this package (a :class:`~bot.flows.turn.Turn` in,
replies out, :meth:`~bot.flows.turn.Turn.goto` to move on), its rows here (a command for each way
in, a state for each question it asks), its texts in both catalogs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from bot.flows import (
    account,
    balance,
    birthday,
    common,
    handoff,
    offers,
    onboarding,
    payment,
    privacy,
    redemption,
    referral,
)
from bot.flows.turn import Handler
from bot.keywords import Keywords

COMMAND_BUTTON = "cmd:"  # a button or list row with the id cmd:<name> runs that command
JOIN = "join"  # the command a referral code arrives with: typed after JOIN, or in a wa.me link's text


class Reach(enum.Enum):
    """How early in a conversation a command is answered."""

    ANYONE = "anyone"  # any number, also in the middle of onboarding
    # A number we know as a member, whatever they have answered so far: their data rights do not
    # wait for onboarding (a member the ERP or a till enrolled may first write "delete my data").
    MEMBER = "member"
    CONSENTED = "consented"  # a customer who has answered the consent question
    MENU = "menu"  # a customer who has finished onboarding


@dataclass(frozen=True)
class Command:
    """A command: the handler that answers it, and the ways customers ask for it."""

    handler: Handler
    words: tuple[str, ...] = ()  # typed, in English and Hindi; no word may ask for two commands
    code_words: tuple[str, ...] = ()  # typed before a code: JOIN ABC123
    buttons: tuple[str, ...] = ()  # id prefixes of buttons that ask for it in any state
    reach: Reach = Reach.MENU
    while_handed_off: bool = False


@dataclass(frozen=True)
class State:
    """A state: the handler of the next message, and what the question asked in it offers and keeps."""

    handler: Handler
    buttons: tuple[str, ...] = ()  # the ids its question offers (the handler reads turn.choice); "x:" and an id
    data: tuple[str, ...] = ()  # keys of ``Conversation.data`` it keeps, dropped when the state changes
    onboarding: bool = False


COMMANDS: dict[str, Command] = {
    "points": Command(
        balance.show_points,
        words=("points", "point", "pts", "balance", "my points", "अंक", "पॉइंट", "पॉइंट्स", "पॉइंटस", "बैलेंस", "शेष"),
    ),
    "history": Command(
        balance.show_history, words=("history", "statement", "transactions", "इतिहास", "हिस्ट्री", "लेनदेन")
    ),
    "rewards": Command(
        redemption.show_rewards,
        words=("redeem", "rewards", "reward", "catalog", "catalogue", "रिडीम", "इनाम", "रिवॉर्ड", "उपहार"),
    ),
    "refer": Command(referral.show_refer, words=("refer", "invite", "refer a friend", "रेफर", "रेफ़र", "आमंत्रित")),
    "affiliate": Command(referral.show_affiliate, words=("affiliate", "partner", "एफिलिएट", "एफ़िलिएट", "पार्टनर")),
    "help": Command(account.show_help, words=("help", "support", "?", "मदद", "सहायता", "हेल्प")),
    "agent": Command(
        handoff.hand_off,
        words=("agent", "human", "person", "talk to a person", "talk to us", "staff", "एजेंट", "स्टाफ", "व्यक्ति"),
        reach=Reach.ANYONE,
    ),
    "stop": Command(
        account.stop,
        words=("stop", "unsubscribe", "opt out", "optout", "रोकें", "रोको", "बंद"),
        reach=Reach.ANYONE,
        while_handed_off=True,
    ),
    "start": Command(
        account.start_again,
        words=("start", "subscribe", "opt in", "optin", "unstop", "शुरू", "स्टार्ट"),
        reach=Reach.CONSENTED,
        while_handed_off=True,
    ),
    "menu": Command(
        common.menu_command,
        words=("menu", "hi", "hello", "hey", "namaste", "main menu", "मेनू", "मेन्यू", "नमस्ते", "हेलो"),
    ),
    "language": Command(account.ask_language, words=("language", "lang", "भाषा")),
    JOIN: Command(referral.join, code_words=("join", "जॉइन", "जुड़ें")),
    # The member's rights (DPDP Act s.11-13): "my data", the full copy, a corrected name, erasure.
    "my_data": Command(
        privacy.my_data,
        words=("my data", "my info", "my details", "what do you know about me", "मेरा डेटा", "मेरी जानकारी"),
        reach=Reach.MEMBER,
    ),
    "export_data": Command(
        privacy.send_export,
        words=("export my data", "full copy", "copy of my data", "डेटा की कॉपी", "पूरी कॉपी"),
        reach=Reach.MEMBER,
    ),
    "correct_name": Command(
        privacy.ask_name,
        words=("correct my name", "change my name", "fix my name", "मेरा नाम सुधारें", "नाम सुधारें", "नाम बदलें"),
        reach=Reach.MEMBER,
    ),
    "delete_data": Command(
        privacy.ask_erasure,
        words=(
            "delete my data",
            "erase my data",
            "delete my account",
            "forget me",
            "मेरा डेटा मिटाएँ",
            "मेरा डेटा मिटाएं",
            "मेरा डेटा हटाएँ",
            "मेरा डेटा हटाएं",
            "डेटा मिटाएँ",
        ),
        reach=Reach.MEMBER,
    ),
    "keep_data": Command(
        privacy.keep_data, words=("keep my data", "cancel deletion", "मेरा डेटा रखें"), reach=Reach.MEMBER
    ),
    # Offers (marketing), apart from the service updates that STOP and START switch; a member the till
    # enrolled can answer before onboarding, and withdrawing is as easy as giving.
    "offers": Command(
        offers.show,
        words=("offers", "offer", "promotions", "deals", "ऑफ़र", "ऑफ़र्स", "ऑफर", "ऑफर्स", "प्रमोशन"),
        reach=Reach.MEMBER,
    ),
    "offers_on": Command(
        offers.turn_on,
        words=("offers on", "offer on", "send offers", "yes offers", "ऑफ़र चालू", "ऑफर चालू", "ऑफ़र भेजें", "ऑफर भेजें"),
        reach=Reach.MEMBER,
    ),
    "offers_off": Command(
        offers.turn_off,
        words=("offers off", "offer off", "no offers", "stop offers", "ऑफ़र बंद", "ऑफर बंद", "ऑफ़र नहीं", "ऑफर नहीं"),
        reach=Reach.MEMBER,
        while_handed_off=True,  # withdrawing is as easy as giving, also while staff have the chat
    ),
    "birthday": Command(
        birthday.ask,
        words=("birthday", "my birthday", "date of birth", "birth date", "dob", "जन्मदिन", "जन्म दिन", "जन्मतिथि", "बर्थडे"),
    ),
    # Points as payment at a till: the Confirm / Decline buttons of the payment request, any member, any
    # state, also while staff have the conversation (a cashier is waiting); typed, the one waiting hold.
    "hold_confirm": Command(
        payment.confirm,
        words=("confirm", "confirm payment", "पुष्टि", "पुष्टि करें", "भुगतान की पुष्टि करें", "कन्फर्म"),
        buttons=(payment.CONFIRM,),
        reach=Reach.MEMBER,
        while_handed_off=True,
    ),
    "hold_decline": Command(
        payment.decline,
        words=("decline", "decline payment", "अस्वीकार", "अस्वीकार करें", "भुगतान अस्वीकार करें", "डिक्लाइन"),
        buttons=(payment.DECLINE,),
        reach=Reach.MEMBER,
        while_handed_off=True,
    ),
}

STATES: dict[str, State] = {
    "start": State(onboarding.start, onboarding=True),
    "language": State(onboarding.choose_language, buttons=("lang:",), onboarding=True),
    "consent": State(
        onboarding.consent, buttons=("consent:yes", "consent:no"), data=(onboarding.NOTICE_SHOWN,), onboarding=True
    ),
    "marketing": State(
        onboarding.marketing,
        buttons=("marketing:yes", "marketing:no"),
        data=(onboarding.NOTICE_SHOWN,),
        onboarding=True,
    ),
    "referral_question": State(onboarding.referral_question, buttons=("ref:yes", "ref:no"), onboarding=True),
    "referral_code": State(onboarding.referral_code, onboarding=True),
    "menu": State(common.fallback),
    "rewards": State(redemption.pick_reward, buttons=("reward:", "rewards:more"), data=("page",)),
    "confirm": State(redemption.confirm_redeem, buttons=("confirm:yes", "confirm:no"), data=("reward_id",)),
    "affiliate_apply": State(referral.affiliate_apply, buttons=("aff:apply",)),
    "settings_language": State(account.change_language, buttons=("lang:",)),
    privacy.NAME_STATE: State(privacy.correct_name),
    privacy.ERASE_STATE: State(privacy.confirm_erasure, buttons=("erase:yes", "erase:no")),
    birthday.STATE: State(birthday.answer),
}


class Table:
    """The rows above, and what the engine reads from them on every message, worked out once."""

    def __init__(self, commands: Mapping[str, Command], states: Mapping[str, State]) -> None:
        self.commands, self.states = commands, states
        self.keywords = Keywords(
            {name: c.words for name, c in commands.items()}, {name: c.code_words for name, c in commands.items()}
        )
        self.buttons = tuple((prefix, name) for name, c in commands.items() for prefix in c.buttons)
        self.onboarding = frozenset(name for name, state in states.items() if state.onboarding)
        self.state_keys = tuple(dict.fromkeys(key for state in states.values() for key in state.data))


TABLE = Table(COMMANDS, STATES)
