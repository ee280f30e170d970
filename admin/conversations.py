"""Conversations waiting for a person, the thread, staff replies, hand-off, and the bot simulator."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from admin.blueprint import bp
from admin.forms import ActionForm, ReplyForm, SimulatorForm
from admin.security import EVERYONE, allow
from admin.web import PER_PAGE, actor, cc, make_page, now, offset_for, page_number, unit_of_work
from domain import simulator_history, suppression, user_ids
from domain.customers import Customer
from domain.phones import normalize_phone
from runtime.config import privacy_key


def _phone(raw: str) -> str:
    return normalize_phone(raw, cc())


def _address(raw: str) -> str:
    """A conversation's address: a phone in any format, or the WhatsApp user id of a username-only chat."""
    return raw if user_ids.is_user_id(raw) else _phone(raw)


@bp.route("/conversations")
@allow(*EVERYONE)
def conversations() -> ResponseReturnValue:
    from bot import api

    number = page_number()
    start = offset_for(number)
    with unit_of_work() as db:
        rows = api.waiting(db)[start : start + PER_PAGE + 1]
        phones = [c.phone for c in rows]
        names = dict(db.execute(select(Customer.phone, Customer.name).where(Customer.phone.in_(phones))).all())
        by_user_id = select(Customer.wa_user_id, Customer.name).where(Customer.wa_user_id.in_(phones))
        names |= {user_id: name for user_id, name in db.execute(by_user_id).all() if user_id not in names}
    return render_template("admin/conversations.html", page=make_page(rows, number), names=names, now=now())


@bp.route("/conversations/<phone>")
@allow(*EVERYONE)
def conversation(phone: str) -> ResponseReturnValue:
    from bot import api

    e164 = _address(phone)
    with unit_of_work() as db:
        messages = api.thread(db, e164, limit=100)
        conv = api.conversation_state(db, e164, now())
        customer = user_ids.find_member(db, e164)
        if customer is None and suppression.is_suppressed(db, privacy_key(current_app.config), phone=e164):
            abort(404)  # an erased person's number: nothing to show, not even the number
        is_open = bool(conv is not None and conv.window_open)
    return render_template(
        "admin/conversation.html",
        phone=e164,
        messages=messages,
        conv=conv,
        customer=customer,
        window_open=is_open,
        form=ReplyForm(formdata=None),
        action=ActionForm(),
    )


@bp.route("/conversations/<phone>/reply", methods=["POST"])
@allow(*EVERYONE)
def conversation_reply(phone: str) -> ResponseReturnValue:
    """Staff answer in the customer's 24-hour window; outside it WhatsApp allows only templates."""
    from bot import api

    e164 = _address(phone)
    form = ReplyForm()
    if not form.validate_on_submit():
        flash("Write a reply first (at most 4000 characters).", "error")
        return redirect(url_for("admin.conversation", phone=e164))
    with unit_of_work() as db:
        api.staff_reply(db, e164, (form.text.data or "").strip(), actor=actor(), now=now())
    flash("Reply queued for sending.", "success")
    return redirect(url_for("admin.conversation", phone=e164))


@bp.route("/conversations/<phone>/hand-back", methods=["POST"])
@allow(*EVERYONE)
def conversation_hand_back(phone: str) -> ResponseReturnValue:
    from bot import api

    e164 = _address(phone)
    with unit_of_work() as db:
        api.hand_back(db, e164, actor=actor(), now=now())
    flash("Handed back to the bot.", "success")
    return redirect(url_for("admin.conversations"))


@bp.route("/conversations/<phone>/take-over", methods=["POST"])
@allow(*EVERYONE)
def conversation_take_over(phone: str) -> ResponseReturnValue:
    from bot import api

    e164 = _address(phone)
    with unit_of_work() as db:
        api.take_over(db, e164, actor=actor(), now=now())
    flash("You have the conversation; the bot stays quiet until you hand it back.", "success")
    return redirect(url_for("admin.conversation", phone=e164))


@bp.route("/simulator", methods=["GET", "POST"])
@allow(*EVERYONE)
def simulator() -> ResponseReturnValue:
    """Chat with the bot as a test member; the history is kept in the database, per staff member and number."""
    form = SimulatorForm()
    phone = session.get("sim_phone", "")
    if form.validate_on_submit():
        from bot import api

        e164 = _phone(form.phone.data or "")
        text = (form.text.data or "").strip()
        with unit_of_work() as db:
            replies = api.simulate(db, e164, text, now(), current_app.config, actor=actor())
            bubbles = [("you", [text])] + [("bot", api.reply_lines(r)) for r in replies]
            simulator_history.append(db, current_user.id, e164, bubbles, now())
        session["sim_phone"] = e164
        return redirect(url_for("admin.simulator"))
    if request.method == "GET":
        form.phone.data = phone
    with unit_of_work() as db:
        history = simulator_history.recent(db, current_user.id, phone) if phone else []
    status = 400 if form.errors else 200
    return render_template("admin/simulator.html", form=form, history=history), status


@bp.route("/simulator/reset", methods=["POST"])
@allow(*EVERYONE)
def simulator_reset() -> ResponseReturnValue:
    with unit_of_work() as db:
        simulator_history.clear(db, current_user.id)
    return redirect(url_for("admin.simulator"))
