"""Referrals and affiliates: a customer's code and link to share, codes typed after JOIN, the affiliate program."""

from __future__ import annotations

from sqlalchemy import or_, select

from bot import business_number
from bot import replies as rp
from bot.flows.common import button_or_word, fallback, show_menu
from bot.flows.turn import Turn
from bot.messages import Reply
from bot.texts import N_, Texts
from domain import affiliates, referrals
from domain.affiliate_models import Affiliate
from domain.customers import Customer
from domain.errors import ReferralRefused


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


def join(turn: Turn) -> list[Reply]:
    turn.goto("menu")
    code = turn.command.argument if turn.command else None
    return [*apply_code(turn, code or ""), show_menu(turn)]


def share_link(turn: Turn, code: str) -> str | None:
    """A wa.me link to the business with ``JOIN <code>`` typed, or ``None`` while no number is known
    (a link without one opens no chat, so the customer gets the code to pass on instead)."""
    return business_number.wa_link(business_number.current(turn.session, turn.config), code)


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
    code = customer.referral_code
    link = share_link(turn, code)
    lines += [
        "",
        t._("Your code: {code}", code=code),
        t._("Share this link: {link}", link=link)
        if link
        else t._(
            "A share link is not available yet: ask your friends to send JOIN {code} to this WhatsApp number.",
            code=code,
        ),
    ]
    return [rp.text("\n".join(lines)), rp.buttons(t._("Anything else?"), [("cmd:menu", t._("Menu"))])]


def find_affiliate(turn: Turn, customer: Customer) -> Affiliate | None:
    return turn.session.scalar(
        select(Affiliate).where(or_(Affiliate.customer_id == customer.id, Affiliate.phone == customer.phone))
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


def affiliate_summary(turn: Turn, partner: Affiliate) -> str:
    t = turn.t
    counts = affiliates.stats(turn.session, partner.id)
    money = affiliates.totals(turn.session, partner.id)
    link = share_link(turn, partner.code)
    return "\n".join(
        [
            t._("Your affiliate link: {link}", link=link)
            if link
            else t._(
                "Your affiliate link is not available yet: customers can send JOIN {code} to this WhatsApp number.",
                code=partner.code,
            ),
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
    if button_or_word(turn, "aff:apply", "cmd:menu") is not True:
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
