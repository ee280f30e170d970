"""The conversation, declared in one place: what each state does with a message, and each command.

``STATES`` maps a conversation state to the handler of the next message in it;
``COMMANDS`` maps a command (typed keyword or ``cmd:`` button) to its handler.
Adding a flow means adding handlers here and their texts to the catalogs.
Handlers take a :class:`Turn` and return the replies; they move the
conversation with :meth:`Turn.goto`. Domain errors are turned into friendly
answers here, never shown as they are.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot import replies as rp
from bot.keywords import Command, is_command_word, normalize, yes_or_no
from bot.messages import MAX_ROW_DESCRIPTION, MAX_ROW_TITLE, Incoming, Reply
from bot.models import Conversation
from bot.texts import LANGUAGES, N_, Texts, texts_for
from domain import affiliates, consents, expiry, ledger, referrals, rewards, tiers
from domain.customers import Customer, NewCustomer, enrol, find_by_phone
from domain.errors import (
    DomainError,
    InsufficientPoints,
    LimitReached,
    NotFound,
    OutOfStock,
    ReferralRefused,
    RewardUnavailable,
)
from domain.notifications import Notification
from domain.rules import RULES_KEY, ProgramRules, Setting, load_rules

Handler = Callable[["Turn"], list[Reply]]

ONBOARDING = frozenset({"start", "language", "consent", "referral_question", "referral_code"})
# Keys of ``Conversation.data`` that belong to one state and are dropped when it changes.
STATE_KEYS = ("reward_id", "page")
MEDIA_KINDS = frozenset({"image", "sticker", "location", "audio", "video", "document", "contacts", "reaction"})
CONSENT_SOURCE = "whatsapp"
REWARD_PAGE = 9


@dataclass
class Turn:
    """One inbound message being handled: the conversation, the message, and helpers."""

    session: Session
    conv: Conversation
    incoming: Incoming
    now: dt.datetime
    config: Mapping[str, Any]
    data: dict[str, Any]
    choice: str | None = None
    command: Command | None = None
    _customer: Customer | None = field(default=None, repr=False)
    _customer_known: bool = field(default=False, repr=False)

    @property
    def t(self) -> Texts:
        return texts_for(self.language, self.config, lambda: self.rules.timezone)

    @property
    def language(self) -> str:
        if self.conv.language in LANGUAGES:
            return self.conv.language
        customer = self.customer
        if customer is not None:
            return customer.language
        return str(self.config.get("DEFAULT_LOCALE") or "en").partition("_")[0]

    @property
    def customer(self) -> Customer | None:
        # Looked up once per message, also when there is no such customer (a new number):
        # each look-up by phone is a phonenumbers parse and a SELECT.
        if not self._customer_known:
            if self.conv.customer_id is not None:
                self._customer = self.session.get(Customer, self.conv.customer_id)
            elif self.conv.phone.startswith("+"):  # already E.164: no need to parse it again
                self._customer = self.session.scalar(select(Customer).where(Customer.phone == self.conv.phone))
            else:
                self._customer = find_by_phone(self.session, self.conv.phone)
            self._customer_known = True
        return self._customer

    def forget_customer(self) -> None:
        """After a rolled-back savepoint the customer must be read again."""
        self._customer, self._customer_known = None, False

    def require_customer(self) -> Customer:
        customer = self.customer
        assert customer is not None, "flows after onboarding always have a customer"
        return customer

    def remember(self, customer: Customer) -> None:
        self._customer, self._customer_known = customer, True
        self.conv.customer_id = customer.id

    @functools.cached_property
    def rules(self) -> ProgramRules:
        return current_rules(self.session)

    @property
    def text(self) -> str:
        return (self.incoming.text or "").strip()

    def goto(self, state: str, **values: Any) -> None:
        """Move to ``state``; data of the previous state is dropped."""
        self.conv.state = state
        for key in STATE_KEYS:
            self.data.pop(key, None)
        self.data.update(values)


_rules_cache: dict[str, tuple[Any, ProgramRules]] = {}
_rules_lock = threading.Lock()


def current_rules(session: Session) -> ProgramRules:
    """The program rules, parsed again only when the settings row changed.

    Reading the row's ``updated_at`` is one indexed look-up of a small column; parsing
    and validating the JSON document is what costs, and it changes rarely. A console
    edit bumps ``updated_at``, so the next message already uses the new rules.
    """
    stamp = session.scalar(select(Setting.updated_at).where(Setting.key == RULES_KEY))
    key = str(session.get_bind().url)
    with _rules_lock:
        cached = _rules_cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    rules = load_rules(session)
    with _rules_lock:
        _rules_cache[key] = (stamp, rules)
    return rules


# --- onboarding -----------------------------------------------------------------------------------


def start(turn: Turn) -> list[Reply]:
    """First contact: a known customer is greeted by name; anyone else chooses a language."""
    customer = turn.customer
    if customer is not None and customer.opt_in_changed_at is not None:
        turn.remember(customer)
        turn.conv.language = customer.language
        greeting = turn.t._("Hello {name}, welcome back!", name=first_name(turn, customer))
        if turn.data.get("pending_code") or can_be_referred(turn):
            return [rp.text(greeting), *finish_onboarding(turn)]
        turn.goto("menu")
        asked = turn.command.name if turn.command else None
        if asked in COMMANDS and asked not in ("menu", "start"):
            return [rp.text(greeting), *COMMANDS[asked](turn)]  # a first "points" gets the points
        if asked is None and (turn.incoming.kind in MEDIA_KINDS or turn.text):
            return [rp.text(greeting), *fallback(turn)]
        return [show_menu(turn, greeting)]
    turn.goto("language")
    return [language_question(turn, customer)]


def language_question(turn: Turn, customer: Customer | None, *, greet: bool = True) -> Reply:
    """Asked before we know the language, so the question is in both."""
    bodies = []
    for lang in LANGUAGES:
        t = texts_for(lang, turn.config)
        if greet and customer is not None and customer.name:
            bodies.append(t._("Hello {name}! Welcome to our loyalty club.", name=customer.name.split()[0]))
        elif greet:
            bodies.append(t._("Hello! Welcome to our loyalty club."))
        bodies.append(t._("Which language do you prefer?"))
    # "English" is each catalog's name for its own language: the Hindi catalog says हिन्दी.
    choices = [(f"lang:{lang}", texts_for(lang, turn.config)._("English")) for lang in LANGUAGES]
    return rp.buttons("\n".join(bodies), choices)


def picked_language(turn: Turn) -> str | None:
    if turn.choice and turn.choice.startswith("lang:") and turn.choice[5:] in LANGUAGES:
        return turn.choice[5:]
    spoken = {"english": "en", "angrezi": "en", "अंग्रेज़ी": "en", "अंग्रेजी": "en"}
    spoken |= {"hindi": "hi", "हिन्दी": "hi", "हिंदी": "hi"}
    return spoken.get(normalize(turn.text)) if turn.text else None


def choose_language(turn: Turn) -> list[Reply]:
    lang = picked_language(turn)
    if lang is None:
        return [language_question(turn, turn.customer)]
    turn.conv.language = lang
    customer = ensure_customer(turn, lang)
    customer.language = lang
    if customer.opt_in_changed_at is None:
        turn.goto("consent")
        return [consent_question(turn)]
    return finish_onboarding(turn)


def ensure_customer(turn: Turn, language: str) -> Customer:
    """Enrol a new number, or recognise the customer the ERP already knows."""
    customer = turn.customer
    if customer is None:
        new = NewCustomer(phone=turn.conv.phone, name=turn.incoming.profile_name, language=language)
        customer, _ = enrol(turn.session, new, turn.now)
    turn.remember(customer)
    return customer


def consent_question(turn: Turn) -> Reply:
    t = turn.t
    body = t._(
        "May we send you loyalty updates on WhatsApp: points earned, rewards and offers? You can send STOP at any time."
    )
    return rp.buttons(body, [("consent:yes", t._("Yes, please")), ("consent:no", t._("No, thanks"))])


def consent(turn: Turn) -> list[Reply]:
    answer = _button_or_word(turn, "consent:yes", "consent:no")
    if answer is None:
        return [consent_question(turn)]
    customer = turn.require_customer()
    consents.record(turn.session, customer, consents.SERVICE, answer, channel=CONSENT_SOURCE, now=turn.now)
    t = turn.t
    if answer:
        ack = t._("Thank you! We will keep you posted.")
    else:
        ack = t._("No problem: we will only answer when you write to us. Send START if you change your mind.")
    return [rp.text(ack), *finish_onboarding(turn)]


def finish_onboarding(turn: Turn) -> list[Reply]:
    """Apply a code the customer came with, or ask for one if they can still be referred."""
    code = turn.data.pop("pending_code", None)
    if code:
        turn.goto("menu")
        return [*apply_code(turn, code), show_menu(turn)]
    if can_be_referred(turn):
        turn.goto("referral_question")
        t = turn.t
        return [
            rp.buttons(
                t._("Got a referral code from a friend?"),
                [("ref:yes", t._("Yes, I have one")), ("ref:no", t._("No code"))],
            )
        ]
    turn.goto("menu")
    return [show_menu(turn, turn.t._("You're all set!"))]


def can_be_referred(turn: Turn) -> bool:
    customer = turn.require_customer()
    unattributed = customer.referred_by_id is None and customer.affiliate_id is None
    return unattributed and referrals.is_new_customer(customer, turn.rules, turn.now)


def referral_question(turn: Turn) -> list[Reply]:
    answer = _button_or_word(turn, "ref:yes", "ref:no")
    if answer is True:
        turn.goto("referral_code")
        return [rp.text(turn.t._("Please type the code."))]
    if answer is False or not turn.text:
        turn.goto("menu")
        return [show_menu(turn, turn.t._("You're all set!"))]
    return referral_code(turn)


def referral_code(turn: Turn) -> list[Reply]:
    turn.goto("menu")
    if not turn.text or yes_or_no(turn.text) is False:
        return [show_menu(turn, turn.t._("You're all set!"))]
    return [*apply_code(turn, turn.text), show_menu(turn)]


def apply_code(turn: Turn, code: str) -> list[Reply]:
    """Attribute the customer to a friend's or an affiliate's code, or say why not."""
    t = turn.t
    try:
        owner = referrals.apply_code(turn.session, turn.require_customer(), code, turn.rules, turn.now)
    except ReferralRefused as exc:
        return [rp.text(refusal_text(t, exc) + "\n" + t._("You can also send JOIN and a code later."))]
    if owner == "customer" and turn.rules.referee_bonus > 0:
        body = t.n_(
            "Code accepted! You get {n} bonus point after your first purchase of {amount} or more.",
            "Code accepted! You get {n} bonus points after your first purchase of {amount} or more.",
            turn.rules.referee_bonus,
            amount=t.money(turn.rules.referral_min_purchase, turn.rules.currency),
        )
    else:
        body = t._("Code accepted! Welcome, and enjoy shopping with us.")
    return [rp.text(body)]


# The domain says why a code was refused in English; these phrases pick the customer's text.
_REFUSALS: tuple[tuple[str, str], ...] = (
    ("own", N_("That is your own code: share it with friends instead.")),
    ("already referred", N_("You have already joined with a referral code.")),
    ("only new customers", N_("Referral codes are for new customers only.")),
    ("loop", N_("That code cannot be used with your account.")),
    ("not active", N_("That partner code is not active.")),
    ("no referral code", N_("Please send the code after JOIN, for example: JOIN ABC123.")),
    ("we know", N_("We could not find that code. Please check it and try again.")),
)


def refusal_text(t: Texts, exc: ReferralRefused) -> str:
    for phrase, message in _REFUSALS:
        if phrase in exc.reason:
            return t._(message)
    return t._("That code cannot be used.")


# --- the menu and its flows ----------------------------------------------------------------------


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
        ("cmd:language", t._("Language"), "English / हिन्दी"),
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


def show_points(turn: Turn) -> list[Reply]:
    turn.goto("menu")
    customer, t, rules = turn.require_customer(), turn.t, turn.rules
    lines = [
        t.n_("You have {n} point.", "You have {n} points.", customer.points_balance),
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


def tier_name(t: Texts, tier: str) -> str:
    names = {"silver": t._("Silver"), "gold": t._("Gold"), "platinum": t._("Platinum")}
    return names.get(tier, tier.title())


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
    }
    sign = "+" if entry.delta > 0 else "−" if entry.delta < 0 else ""
    label = labels.get(entry.kind, entry.kind)
    if entry.kind == "redeem" and entry.description:
        label = f"{label}: {rp.fit(entry.description, 40)}"
    return f"{t.date(entry.created_at)} · {label} · {sign}{t.number(abs(entry.delta))}"


# --- rewards -------------------------------------------------------------------------------------


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
    elif customer.points_balance >= reward.points_cost:
        status = "✓ " + t._("you can redeem this")
    else:
        status = t.n_("{n} more point needed", "{n} more points needed", reward.points_cost - customer.points_balance)
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
    if customer.points_balance < reward.points_cost:
        return short_text(t, reward.name, reward.points_cost, customer.points_balance)
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
    answer = _button_or_word(turn, "confirm:yes", "confirm:no")
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


# --- referrals and affiliates --------------------------------------------------------------------


def wa_link(config: Mapping[str, Any], code: str) -> str:
    """A wa.me link that opens a chat with the business, ``JOIN <code>`` already typed."""
    digits = "".join(ch for ch in str(config.get("WHATSAPP_DISPLAY_NUMBER") or "") if ch.isdigit())
    return f"https://wa.me/{digits}?text=JOIN%20{code}" if digits else f"https://wa.me/?text=JOIN%20{code}"


def show_refer(turn: Turn) -> list[Reply]:
    turn.goto("menu")
    customer, t, rules = turn.require_customer(), turn.t, turn.rules
    lines = [t._("Invite your friends!")]
    if rules.referrer_bonus > 0:
        lines.append(
            t.n_(
                "You get {n} point when a friend makes a first purchase of {amount} or more.",
                "You get {n} points when a friend makes a first purchase of {amount} or more.",
                rules.referrer_bonus,
                amount=t.money(rules.referral_min_purchase, rules.currency),
            )
        )
    if rules.referee_bonus > 0:
        lines.append(t.n_("Your friend gets {n} point too.", "Your friend gets {n} points too.", rules.referee_bonus))
    lines += [
        "",
        t._("Your code: {code}", code=customer.referral_code),
        t._("Share this link: {link}", link=wa_link(turn.config, customer.referral_code)),
    ]
    return [rp.text("\n".join(lines)), rp.buttons(t._("Anything else?"), [("cmd:menu", t._("Menu"))])]


def join(turn: Turn) -> list[Reply]:
    turn.goto("menu")
    code = turn.command.argument if turn.command else None
    return [*apply_code(turn, code or ""), show_menu(turn)]


def find_affiliate(turn: Turn, customer: Customer) -> affiliates.Affiliate | None:
    return turn.session.scalar(
        select(affiliates.Affiliate).where(
            or_(affiliates.Affiliate.customer_id == customer.id, affiliates.Affiliate.phone == customer.phone)
        )
    )


def show_affiliate(turn: Turn) -> list[Reply]:
    turn.goto("menu")
    customer, t = turn.require_customer(), turn.t
    partner = find_affiliate(turn, customer)
    menu = [("cmd:menu", t._("Menu"))]
    if partner is None:
        turn.goto("affiliate_apply")
        body = t._(
            "Become an affiliate: share your own link and earn {percent} commission on what the customers "
            "you bring buy. Would you like to apply?",
            percent=t.percent(turn.rules.affiliate_commission_percent),
        )
        return [rp.buttons(body, [("aff:apply", t._("Apply")), ("cmd:menu", t._("Not now"))])]
    if partner.status == "pending":
        return [rp.buttons(t._("Your affiliate application is being reviewed. We will let you know."), menu)]
    if partner.status != "approved":
        return [rp.buttons(t._("Your affiliate account is not active. Type HELP to talk to us."), menu)]
    return [rp.text(affiliate_summary(turn, partner)), rp.buttons(t._("Anything else?"), menu)]


def affiliate_summary(turn: Turn, partner: affiliates.Affiliate) -> str:
    t = turn.t
    counts = affiliates.stats(turn.session, partner.id)
    money = affiliates.totals(turn.session, partner.id)
    return "\n".join(
        [
            t._("Your affiliate link: {link}", link=wa_link(turn.config, partner.code)),
            t._("Your code: {code}", code=partner.code),
            "",
            t._("Sign-ups: {count}", count=t.number(counts["signups"])),
            t._("First purchases: {count}", count=t.number(counts["first_purchases"])),
            "",
            t._("Commission pending: {amount}", amount=t.money(money["pending"], partner.currency)),
            t._("Commission approved: {amount}", amount=t.money(money["approved"], partner.currency)),
            t._("Commission paid: {amount}", amount=t.money(money["paid"], partner.currency)),
        ]
    )


def affiliate_apply(turn: Turn) -> list[Reply]:
    if _button_or_word(turn, "aff:apply", "cmd:menu") is not True:
        return fallback(turn)
    customer, t = turn.require_customer(), turn.t
    turn.goto("menu")
    name = customer.name or turn.incoming.profile_name or customer.phone
    affiliates.apply(
        turn.session,
        name=name,
        phone=customer.phone,
        now=turn.now,
        rules=turn.rules,
        customer=customer,
        note="applied on WhatsApp",
    )
    return [show_menu(turn, t._("Thank you! Our team will review your application and message you here."))]


# --- help, hand-off, consent, language -----------------------------------------------------------


def show_help(turn: Turn) -> list[Reply]:
    turn.goto("menu")
    t = turn.t
    body = t._(
        "You can press the buttons, or type: POINTS, HISTORY, REDEEM, REFER, MENU, LANGUAGE. "
        "STOP ends our updates, START brings them back."
    )
    return [rp.buttons(body, [("cmd:agent", t._("Talk to a person")), ("cmd:menu", t._("Menu"))])]


def hand_off(turn: Turn) -> list[Reply]:
    """Flag the conversation for staff; the bot stays quiet until they hand it back."""
    turn.goto("menu")
    turn.conv.handoff = True
    turn.conv.handoff_at = turn.now
    return [rp.text(turn.t._("Thank you. A member of our team will reply here soon."))]


def stop(turn: Turn) -> list[Reply]:
    customer = turn.customer
    if customer is not None:
        # STOP ends every message we send first: service updates and marketing alike.
        for purpose in consents.PURPOSES:
            consents.record(turn.session, customer, purpose, False, channel=CONSENT_SOURCE, now=turn.now)
    return [
        rp.text(
            turn.t._(
                "You will no longer get loyalty updates from us. You can still write to us at any time; "
                "send START to get updates again."
            )
        )
    ]


def start_again(turn: Turn) -> list[Reply]:
    customer = turn.require_customer()
    consents.record(turn.session, customer, consents.SERVICE, True, channel=CONSENT_SOURCE, now=turn.now)
    done = rp.text(turn.t._("Welcome back! You will get loyalty updates again. Send STOP to end them."))
    if turn.conv.handoff:
        return [done]
    turn.goto("menu")
    return [done, show_menu(turn)]


def ask_language(turn: Turn) -> list[Reply]:
    turn.goto("settings_language")
    return [language_question(turn, None, greet=False)]


def change_language(turn: Turn) -> list[Reply]:
    lang = picked_language(turn)
    if lang is None:
        return fallback(turn)
    turn.conv.language = lang
    turn.require_customer().language = lang
    turn.goto("menu")
    return [show_menu(turn, turn.t._("Done: I will write to you in English."))]


def _button_or_word(turn: Turn, yes_id: str, no_id: str) -> bool | None:
    """A pressed button, or a typed yes / no."""
    if turn.choice == yes_id:
        return True
    if turn.choice == no_id:
        return False
    if turn.choice is None and turn.text:
        if is_command_word(turn.text, "start"):
            return True
        return yes_or_no(turn.text)
    return None


def first_name(turn: Turn, customer: Customer) -> str:
    return (customer.name or turn.incoming.profile_name or turn.t._("there")).split()[0]


# --- the table -----------------------------------------------------------------------------------

STATES: dict[str, Handler] = {
    "start": start,
    "language": choose_language,
    "consent": consent,
    "referral_question": referral_question,
    "referral_code": referral_code,
    "menu": fallback,
    "rewards": pick_reward,
    "confirm": confirm_redeem,
    "affiliate_apply": affiliate_apply,
    "settings_language": change_language,
}

COMMANDS: dict[str, Handler] = {
    "menu": menu_command,
    "points": show_points,
    "history": show_history,
    "rewards": show_rewards,
    "refer": show_refer,
    "affiliate": show_affiliate,
    "help": show_help,
    "agent": hand_off,
    "stop": stop,
    "start": start_again,
    "join": join,
    "language": ask_language,
}
