"""Points as payment in chat through ``bot.engine.handle``: Confirm and Decline of a hold the till opened,
typed answers, taps on holds that are not waiting, and the held points in the balance reply."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot import api as bot_api
from domain import holds
from domain.customers import NewCustomer, enrol
from domain.db import Database
from domain.holds import Hold
from tests.bot_chat import FRIEND, LANGS, NOW, PHONE, Chat, add_reward, load_conv, load_customer, make_customer

SAY = {
    "en": {
        "confirmed": "Confirmed: 120 points (₹30) are held for your payment.",
        "declined": "Declined: nothing was paid, and your 120 points stay yours.",
        "held": "120 points held for a payment.",
        "available": "Available to spend: 380 points.",
        "again": "You have already confirmed this payment.",
        "typed_confirm": "confirm",
        "typed_decline": "Decline",
    },
    "hi": {
        "confirmed": "पुष्टि हो गई: आपके भुगतान के लिए 120 अंक (₹30) रोके गए हैं।",
        "declined": "अस्वीकार किया गया: कोई भुगतान नहीं हुआ, और आपके 120 अंक आपके ही रहेंगे।",
        "held": "120 अंक एक भुगतान के लिए रोके गए हैं।",
        "available": "ख़र्च के लिए उपलब्ध: 380 अंक।",
        "again": "आप इस भुगतान की पुष्टि पहले ही कर चुके हैं।",
        "typed_confirm": "पुष्टि करें",
        "typed_decline": "अस्वीकार",
    },
}


def open_hold(database: Database, customer_id: int, points: int = 120, *, minutes: int = 15) -> int:
    with database.unit_of_work() as s:
        opened = holds.open_hold(s, customer_id, points, minutes=minutes, now=NOW, actor="apikey:till", store="FC Road")
        return opened.hold.id


def hold_row(database: Database, hold_id: int) -> Hold:
    with database.unit_of_work() as s:
        return holds.get(s, hold_id)


def member(database: Database, lang: str = "en", points: int = 500) -> tuple[int, Chat]:
    cid = make_customer(database, language=lang, points=points)
    chat = Chat(database)
    chat.send("hi")
    return cid, chat


@pytest.mark.parametrize("lang", LANGS)
def test_confirm_holds_the_points_and_the_balance_shows_them(database: Database, lang: str) -> None:
    cid, chat = member(database, lang)
    hold_id = open_hold(database, cid)
    chat.send("Confirm", button=f"hold:confirm:{hold_id}")
    assert chat.text().splitlines()[0] == SAY[lang]["confirmed"]
    hold = hold_row(database, hold_id)
    assert (hold.status, hold.verified_via, hold.verified_at) == ("held", "whatsapp", NOW)
    assert load_customer(database).points_held == 120 and load_conv(database).state == "menu"
    chat.send("points")
    lines = chat.text().splitlines()
    assert SAY[lang]["held"] in lines and SAY[lang]["available"] in lines
    chat.send("Confirm", button=f"hold:confirm:{hold_id}")  # a second tap
    assert chat.text() == SAY[lang]["again"]
    assert hold_row(database, hold_id).status == "held"


@pytest.mark.parametrize("lang", LANGS)
def test_decline_gives_the_points_back_at_once(database: Database, lang: str) -> None:
    cid, chat = member(database, lang)
    hold_id = open_hold(database, cid)
    chat.send("Decline", button=f"hold:decline:{hold_id}")
    assert chat.text() == SAY[lang]["declined"]
    hold = hold_row(database, hold_id)
    assert (hold.status, hold.status_reason, hold.closed_at) == ("declined", "declined by the member", NOW)
    customer = load_customer(database)
    assert (customer.points_held, customer.points_available) == (0, 500)
    chat.send("points")
    assert SAY[lang]["held"] not in chat.text() and "500" in chat.text()


def test_the_balance_reply_has_no_held_line_without_an_open_hold(database: Database) -> None:
    _, chat = member(database)
    chat.send("points")
    assert "held" not in chat.text() and "Available" not in chat.text()


@pytest.mark.parametrize(
    ("after", "tap", "answer", "status"),
    [
        (
            "confirm",
            "decline",
            "You have already confirmed this payment. To cancel it, please ask the cashier.",
            "held",
        ),
        ("capture", "confirm", "This payment is already complete.", "captured"),
        ("release", "confirm", "This payment request was cancelled, so nothing was paid.", "released"),
        ("decline", "confirm", "You have already declined this payment; nothing was paid.", "declined"),
        ("decline", "decline", "You have already declined this payment; nothing was paid.", "declined"),
    ],
)
def test_a_tap_on_a_hold_that_is_not_waiting_says_why_and_changes_nothing(
    database: Database, after: str, tap: str, answer: str, status: str
) -> None:
    cid, chat = member(database)
    hold_id = open_hold(database, cid)
    with database.unit_of_work() as s:
        if after in ("confirm", "capture"):
            holds.answer(s, hold_id, cid, True, NOW)
        if after == "capture":
            holds.capture(s, hold_id, None, NOW)
        if after == "release":
            holds.release(s, hold_id, NOW)
        if after == "decline":
            holds.answer(s, hold_id, cid, False, NOW)
    before = load_customer(database)
    chat.send(tap.title(), button=f"hold:{tap}:{hold_id}")
    assert chat.text() == answer
    assert hold_row(database, hold_id).status == status
    now = load_customer(database)
    assert (now.points_balance, now.points_held) == (before.points_balance, before.points_held)


def test_a_tap_after_the_hold_expired_releases_it_and_says_so(database: Database) -> None:
    cid, chat = member(database)
    hold_id = open_hold(database, cid, minutes=15)
    chat.now = NOW + dt.timedelta(minutes=15)
    chat.send("Confirm", button=f"hold:confirm:{hold_id}")
    assert chat.text().startswith("This payment request has expired, so nothing was paid.")
    hold = hold_row(database, hold_id)
    assert (hold.status, hold.status_reason) == ("released", "expired")
    assert load_customer(database).points_held == 0
    chat.send("Confirm", button=f"hold:confirm:{hold_id}")  # and again, once the expiry is recorded
    assert chat.text().startswith("This payment request has expired")


def test_another_members_hold_or_a_made_up_id_is_not_found_and_unchanged(database: Database) -> None:
    _, chat = member(database)
    other = make_customer(database, FRIEND, name="Ravi", points=500)
    theirs = open_hold(database, other)
    for button in (f"hold:confirm:{theirs}", f"hold:decline:{theirs}", "hold:confirm:999999", "hold:confirm:x1"):
        chat.send("Confirm", button=button)
        assert chat.text() == "I could not find that payment request, so nothing was changed."
    assert hold_row(database, theirs).status == "pending"
    assert load_customer(database, FRIEND).points_held == 120
    assert load_customer(database).points_held == 0


@pytest.mark.parametrize("lang", LANGS)
def test_a_typed_answer_answers_the_one_waiting_hold(database: Database, lang: str) -> None:
    cid, chat = member(database, lang)
    first = open_hold(database, cid)
    chat.send(SAY[lang]["typed_confirm"])
    assert chat.text().splitlines()[0] == SAY[lang]["confirmed"]
    assert hold_row(database, first).status == "held"
    second = open_hold(database, cid)
    chat.send(SAY[lang]["typed_decline"])  # the held one is not waiting any more: only the new one is
    assert chat.text() == SAY[lang]["declined"]
    assert [hold_row(database, h).status for h in (first, second)] == ["held", "declined"]


def test_typed_with_none_or_several_waiting_asks_for_the_tap_and_changes_nothing(database: Database) -> None:
    cid, chat = member(database)
    chat.send("confirm")
    assert chat.text() == "There is no payment waiting for your answer."
    ids = [open_hold(database, cid, 100), open_hold(database, cid, 100)]
    chat.send("decline payment")
    assert chat.text() == (
        "You have 2 payments waiting. Please tap Confirm or Decline on the message of the one you mean."
    )
    assert [hold_row(database, h).status for h in ids] == ["pending", "pending"]
    chat.send("Decline", button=f"hold:decline:{ids[0]}")
    assert [hold_row(database, h).status for h in ids] == ["declined", "pending"]


def test_a_tap_works_in_the_middle_of_another_question(database: Database) -> None:
    cid, chat = member(database, points=1000)
    add_reward(database, "Umbrella", 100)
    chat.send("redeem")
    chat.pick("Umbrella")
    assert load_conv(database).state == "confirm"
    hold_id = open_hold(database, cid)
    chat.send("Confirm", button=f"hold:confirm:{hold_id}")
    assert chat.text().startswith("Confirmed: 120 points")
    assert load_conv(database).state == "menu"


def test_while_staff_have_the_conversation_a_tap_is_answered_and_a_stray_word_is_left_to_them(
    database: Database,
) -> None:
    cid, chat = member(database)
    with database.unit_of_work() as s:
        bot_api.take_over(s, PHONE, actor="staff@example.com", now=NOW)
    assert chat.send("confirm") == []  # nothing waiting: the word is for staff
    hold_id = open_hold(database, cid)
    chat.send("Confirm", button=f"hold:confirm:{hold_id}")
    assert chat.text().startswith("Confirmed: 120 points")
    assert hold_row(database, hold_id).status == "held" and load_conv(database).handoff
    assert chat.send("points") == []  # everything else still waits for staff


def test_a_member_a_till_enrolled_can_answer_before_ever_chatting(database: Database) -> None:
    with database.unit_of_work() as s:
        customer, _ = enrol(s, NewCustomer(phone=PHONE, name="Asha Verma", source="api"), NOW)
        cid = customer.id
    from tests.domain_factories import give_points

    with database.unit_of_work() as s:
        give_points(s, cid, 500)
    hold_id = open_hold(database, cid)
    chat = Chat(database)
    chat.send("Confirm", button=f"hold:confirm:{hold_id}")
    assert chat.text().startswith("Confirmed: 120 points")
    assert hold_row(database, hold_id).status == "held"
    assert load_conv(database).state == "start"  # onboarding comes next, not the menu
    chat.send("hi")
    assert "English" in [b.title for r in chat.last for b in r.buttons]


def test_held_points_are_not_offered_as_spendable_in_the_catalog(database: Database) -> None:
    cid, chat = member(database, points=500)
    add_reward(database, "Umbrella", 100)
    open_hold(database, cid, 450)
    chat.send("redeem")
    rows = {r.title: r.description or "" for s in chat.last[0].sections for r in s.rows}
    assert "50 more points needed" in rows["Umbrella"]
    chat.pick("Umbrella")
    assert "Umbrella needs 100 points. You have 50 points, so you need 50 more." in chat.text()
    with database.unit_of_work() as s:
        assert s.scalars(select(Hold.status)).all() == ["pending"]


@pytest.mark.parametrize(("lang", "label"), [("en", "Points payment"), ("hi", "अंकों से भुगतान")])
def test_the_history_names_a_points_payment(database: Database, lang: str, label: str) -> None:
    cid, chat = member(database, lang)
    hold_id = open_hold(database, cid)
    with database.unit_of_work() as s:
        holds.answer(s, hold_id, cid, True, NOW)
        holds.capture(s, hold_id, 100, NOW)
    chat.send("history")
    (line,) = [row for row in chat.text().splitlines() if "100" in row and "−" in row]
    assert line.endswith(f" · {label} · −100")
