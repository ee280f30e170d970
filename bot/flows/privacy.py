"""The member's rights in chat (DPDP Act s.11-13): "my data", the full export, corrections, erasure.

Every request gets a reference and a row in the console's queue (``domain.data_requests``):
what the bot answers itself is closed at once, handled by ``automatic``. Erasure asks first and
says what will be lost; after a confirmation it happens at once, or after the cooling-off period
set in the console (``PrivacySettings.erasure_cooling_off_hours``), which KEEP MY DATA cancels.
"""

from __future__ import annotations

import datetime as dt

from bot import export_links, notice, privacy_data  # noqa: F401  (privacy_data: the bot's forgetter, for erasure)
from bot import replies as rp
from bot.flows.common import fallback, show_menu, tier_name
from bot.flows.turn import Turn
from bot.keywords import yes_or_no
from bot.messages import Reply
from bot.texts import Texts, texts_for
from domain import data_export, data_requests, erasure, privacy_settings
from domain.data_requests import DataRequest
from runtime.config import privacy_key

NAME_STATE = "privacy_name"
ERASE_STATE = "privacy_erase"
MAX_NAME = 100
CHAT_ACTOR = "member (chat)"


def my_data(turn: Turn) -> list[Reply]:
    """A summary of what is held, with a reference; offers the full copy."""
    _done(turn)
    customer, t = turn.require_customer(), turn.t
    request = _answered(turn, "access", "summary sent in the chat")
    lines = [t._("Here is what we hold about you (reference {ref}):", ref=request.reference), ""]
    lines += summary_lines(t, data_export.summary(turn.session, customer))
    lines += ["", t._("Privacy notice: {link}", link=notice.url(turn.session, turn.config, t.language))]
    offer = t._("Would you like a full copy of your data (JSON and CSV)? You can also correct your name.")
    choices = [("cmd:export_data", t._("Send full copy")), ("cmd:correct_name", t._("Correct my name"))]
    return [rp.text("\n".join(lines)), rp.buttons(offer, [*choices, ("cmd:menu", t._("Menu"))])]


def summary_lines(t: Texts, s: data_export.Summary) -> list[str]:
    yes, no = t._("yes"), t._("no")
    lines = [
        t._("Name: {name}", name=s.name or t._("not given")),
        t._("Phone: {phone}", phone=s.phone),
        t._("Language: {language}", language=texts_for(s.language, {})._("English")),
        t._("Birthday: {date}", date=t.birthday(s.birthday) if s.birthday else t._("not given")),
        t._("Member since {date}", date=t.date(s.joined)),
        t._("Service messages: {a} · Offers: {b}", a=yes if s.service_messages else no, b=yes if s.marketing else no),
        t._("Points: {points}", points=t.number(s.points)) + " · " + t._("Tier: {tier}", tier=tier_name(t, s.tier)),
        t._("Purchases: {count}", count=t.number(s.orders)),
        t._("Vouchers: {total} ({open} open)", total=t.number(s.vouchers), open=t.number(s.open_vouchers)),
        t._("Your referral code: {code}", code=s.referral_code)
        + " · "
        + t._("friends referred: {count}", count=t.number(s.friends_referred)),
    ]
    if s.referred_by_someone or s.came_through_affiliate:
        lines.append(t._("You joined through a friend's or a partner's code."))
    if s.affiliate_status:
        lines.append(t._("Affiliate account: {status}", status=s.affiliate_status))
    lines.append(t._("Shared with: the shop's billing system (ERP), and Meta (WhatsApp), which delivers our messages."))
    return lines


def send_export(turn: Turn) -> list[Reply]:
    """The full copy as two signed links (JSON and CSV) that work for a limited time."""
    _done(turn)
    customer, t = turn.require_customer(), turn.t
    hours = privacy_settings.load(turn.session).export_link_hours
    request = _answered(turn, "export", f"export links sent in the chat, valid {hours} hours")
    token = export_links.make_token(turn.config, customer.id, request.reference)
    as_json, as_csv = export_links.links(notice.base_url(turn.session, turn.config), token)
    body = "\n".join(
        [
            t._("Your full copy (reference {ref}):", ref=request.reference),
            t._("JSON: {link}", link=as_json),
            t._("CSV: {link}", link=as_csv),
            t.n_("The links work for {n} hour.", "The links work for {n} hours.", hours),
        ]
    )
    return [rp.text(body), rp.buttons(t._("Anything else?"), [("cmd:menu", t._("Menu"))])]


def ask_name(turn: Turn) -> list[Reply]:
    turn.goto(NAME_STATE)
    return [rp.text(turn.t._("Please type your name as it should be."))]


def correct_name(turn: Turn) -> list[Reply]:
    """The next message after "correct my name" is the name."""
    name = " ".join(turn.text.split())
    t = turn.t
    if not name or turn.incoming.kind != "text" or len(name) > MAX_NAME or not any(ch.isalpha() for ch in name):
        _done(turn)
        return [show_menu(turn, t._("That does not look like a name, so nothing was changed."))]
    turn.require_customer().name = name
    request = _answered(turn, "correction", "name corrected in the chat", details={"field": "name"})
    _done(turn)
    done = t._("Thank you, {name}: your name is corrected (reference {ref}).", name=name, ref=request.reference)
    return [show_menu(turn, done)]


def ask_erasure(turn: Turn) -> list[Reply]:
    """Say what will be lost, and ask."""
    customer, t = turn.require_customer(), turn.t
    settings = privacy_settings.load(turn.session)
    request = data_requests.open_erasure(turn.session, customer.id)
    if request is not None and request.status == "scheduled" and request.scheduled_for is not None:
        _done(turn)
        return [rp.text(_scheduled_text(t, request))]
    if request is None:
        request = data_requests.open_request(
            turn.session, customer, "erasure", channel="whatsapp", now=turn.now, settings=settings, status="confirming"
        )
    turn.goto(ERASE_STATE)
    summary = data_export.summary(turn.session, customer)
    lines = [
        t._("Delete all your data? This cannot be undone (reference {ref}).", ref=request.reference),
        t._(
            "You will lose {points} and {vouchers}.",
            points=t.n_("{n} point", "{n} points", summary.points),
            vouchers=t.n_("{n} open voucher", "{n} open vouchers", summary.open_vouchers),
        ),
        t._("Your purchases stay in the shop's accounts, without your name or number."),
    ]
    hours = settings.erasure_cooling_off_hours
    if hours:
        lines.append(
            t.n_(
                "We erase your data {n} hour after you confirm; until then KEEP MY DATA cancels it.",
                "We erase your data {n} hours after you confirm; until then KEEP MY DATA cancels it.",
                hours,
            )
        )
    choices = [("erase:yes", t._("Yes, delete")), ("erase:no", t._("Keep my data"))]
    return [rp.buttons("\n".join(lines), choices)]


def confirm_erasure(turn: Turn) -> list[Reply]:
    customer, t = turn.require_customer(), turn.t
    answer = _answer(turn)
    request = data_requests.open_erasure(turn.session, customer.id)
    if request is None:
        return fallback(turn)
    if answer is None:
        return ask_erasure(turn)
    if answer is False:
        return keep_data(turn)
    settings = privacy_settings.load(turn.session)
    if settings.erasure_cooling_off_hours:
        data_requests.schedule(request, turn.now + dt.timedelta(hours=settings.erasure_cooling_off_hours))
        _done(turn)
        return [rp.text(_scheduled_text(t, request))]
    erasure.erase_for(turn.session, request, now=turn.now, actor=CHAT_ACTOR, hash_key=privacy_key(turn.config))
    turn.goto("start")
    body = t._(
        "Your data has been erased (reference {ref}). We will not message you again. "
        "If you write to us later, you start as a new member.",
        ref=request.reference,
    )
    return [rp.text(body)]


def keep_data(turn: Turn) -> list[Reply]:
    """KEEP MY DATA, or "no" to the question: the waiting erasure request is cancelled."""
    customer, t = turn.require_customer(), turn.t
    request = data_requests.open_erasure(turn.session, customer.id)
    _done(turn)
    if request is None:
        return [show_menu(turn, t._("There is no deletion waiting, so there is nothing to cancel."))]
    data_requests.close(request, "cancelled", actor=CHAT_ACTOR, now=turn.now, outcome="the member kept their data")
    return [show_menu(turn, t._("OK, nothing was deleted (reference {ref}).", ref=request.reference))]


def _done(turn: Turn) -> None:
    """Back to the menu; a member who has not finished onboarding (the ERP knew them) starts it next."""
    customer = turn.customer
    turn.goto("menu" if customer is not None and customer.opt_in_changed_at is not None else "start")


def _answer(turn: Turn) -> bool | None:
    if turn.choice == "erase:yes":
        return True
    if turn.choice == "erase:no":
        return False
    if turn.choice is None and turn.text:
        return yes_or_no(turn.text)
    return None


def _answered(turn: Turn, kind: str, outcome: str, details: dict[str, str] | None = None) -> DataRequest:
    return data_requests.answered(
        turn.session,
        turn.require_customer(),
        kind,
        channel="whatsapp",
        now=turn.now,
        settings=privacy_settings.load(turn.session),
        outcome=outcome,
        details=details,
    )


def _scheduled_text(t: Texts, request: DataRequest) -> str:
    assert request.scheduled_for is not None
    return t._(
        "Your data will be erased on {date} (reference {ref}). Send KEEP MY DATA before then to cancel.",
        date=t.date(request.scheduled_for),
        ref=request.reference,
    )
