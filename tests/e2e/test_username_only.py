"""Senders with a WhatsApp username and no phone number, through signed webhooks and the local Graph API:
answered at their business-scoped user id, enrolled as members without a phone, and linked to a phone
membership only with the code that went to that number's own chat."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from domain import consents, ledger
from domain.customers import Customer, NewCustomer, enrol
from tests.e2e import meta
from tests.e2e.conftest import LiveApp, WhatsAppUser
from tests.e2e.graph_api import FakeGraphAPI, Recorded
from tests.fakes import FrozenClock

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "whatsapp" / "text_username_only.json"
USER_ID = "IN.5550987654321098765"
PHONE = "919812345678"
CODE = re.compile(r"\b(\d{6})\b")


class UsernameUser(WhatsAppUser):
    """A WhatsApp user known to the business by user id only: no ``wa_id``, no ``from``."""

    def say(self, text: str, **kw: Any) -> list[Recorded]:
        before = len(self.replies())
        self.send(meta.username_only(meta.text("0", text, user_id=self.wa_id, name="Meera", **kw)))
        return self.replies()[before:]

    def press(self, button_id: str, title: str) -> list[Recorded]:
        before = len(self.replies())
        self.send(meta.username_only(meta.button_reply("0", button_id, title, user_id=self.wa_id, name="Meera")))
        return self.replies()[before:]

    def replies(self) -> list[Recorded]:
        return self.graph_api.delivered_to(self.wa_id)


@pytest.fixture
def username(live_app: LiveApp, graph_api: FakeGraphAPI) -> Iterator[UsernameUser]:
    user = UsernameUser(live_app, graph_api, wa_id=USER_ID)
    yield user
    user.close()


def customers(live: LiveApp) -> list[Customer]:
    with live.app.extensions["loyalty.db"].unit_of_work() as session:
        return list(session.scalars(select(Customer).order_by(Customer.id)))


@pytest.fixture
def phone_member(live_app: LiveApp, clock: FrozenClock) -> int:
    """A member by phone, who joined at a till, consented, and has 120 points."""
    with live_app.app.extensions["loyalty.db"].unit_of_work() as session:
        customer, _ = enrol(session, NewCustomer(phone="+" + PHONE, name="Asha Rao", source="staff"), clock.now())
        consents.record(session, customer, consents.SERVICE, True, channel="till", now=clock.now())
        ledger.credit(session, customer, kind="adjust", points=120, key="test:120", now=clock.now(), expires_at=None)
        return customer.id


def test_the_recorded_username_only_payload_is_answered_at_the_user_id(username: UsernameUser) -> None:
    response = username.post(json.loads(FIXTURE.read_text()))
    assert response.status_code == 200
    replies = username.replies()
    assert replies, "no reply reached the Graph API"
    for reply in replies:
        assert reply.body["recipient"] == USER_ID
        assert "to" not in reply.body  # pywa sends a user id as the recipient, never as a phone number
    assert "Send LINK" in replies[-1].text and "LINK भेजें" in replies[-1].text  # in both languages


def test_a_username_only_sender_joins_as_a_member_without_a_phone(username: UsernameUser) -> None:
    username.say("hi")
    (consent,) = username.press("lang:en", "English")
    assert ("consent:yes", "Yes, please") in consent.options
    (*_, offers) = username.press("consent:yes", "Yes, please")
    assert any(option == "marketing:no" for option, _ in offers.options)
    (*_, referral) = username.press("marketing:no", "No thanks")
    assert any(option == "ref:no" for option, _ in referral.options)
    username.press("ref:no", "No")
    (member,) = customers(username.live)
    assert (member.phone, member.wa_user_id, member.name, member.opted_in) == (None, USER_ID, "Meera", True)
    (points, *_) = username.say("points")
    assert "0 points" in points.text


def _ask_code(username: UsernameUser, graph_api: FakeGraphAPI) -> tuple[str, list[Recorded]]:
    (prompt,) = username.say("link")
    assert "phone number" in prompt.text
    before = len(graph_api.delivered_to(PHONE))
    answer = username.say("+91 98123 45678")
    (to_phone,) = graph_api.delivered_to(PHONE)[before:]
    code = code_in(to_phone)
    assert all(code not in reply.text for reply in answer)  # the code never reaches the asking chat
    return code, answer


def code_in(message: Recorded) -> str:
    """The code of a text (the phone's chat is open) or of the ``link_code`` authentication template."""
    if message.type == "template":
        template = message.body["template"]
        assert template["name"] == "link_code"
        (body,) = [c for c in template["components"] if c["type"] == "body"]
        return str(body["parameters"][0]["text"])
    found = CODE.search(message.text)
    assert found is not None, message.text
    return found.group(1)


def test_the_code_goes_as_the_link_code_template_when_the_phones_chat_is_closed(
    username: UsernameUser, graph_api: FakeGraphAPI, phone_member: int
) -> None:
    """A till's member never wrote: outside the 24-hour window Meta refuses free text, so the code goes as
    the authentication template, its button carrying the code too."""
    _ask_code(username, graph_api)
    (to_phone,) = graph_api.delivered_to(PHONE)
    assert to_phone.type == "template"
    buttons = [c for c in to_phone.body["template"]["components"] if c["type"] == "button"]
    assert buttons and buttons[0]["parameters"][0]["text"] == code_in(to_phone)


def test_the_code_goes_as_text_when_the_phones_chat_is_open(
    username: UsernameUser, graph_api: FakeGraphAPI, phone_member: int, live_app: LiveApp
) -> None:
    phone_chat = WhatsAppUser(live_app, graph_api, wa_id=PHONE)
    try:
        phone_chat.say("hi")  # the member writes from the phone: its window is open
    finally:
        phone_chat.close()
    before = len(graph_api.delivered_to(PHONE))
    username.say("link")
    username.say("+91 98123 45678")
    (to_phone,) = graph_api.delivered_to(PHONE)[before:]
    assert to_phone.type == "text" and CODE.search(to_phone.text)


def test_linking_a_phone_membership_with_the_code_sent_to_that_number(
    username: UsernameUser, graph_api: FakeGraphAPI, phone_member: int
) -> None:
    code, answer = _ask_code(username, graph_api)
    assert "6-digit code" in answer[0].text
    done = username.say(code)
    assert "linked" in done[0].text and "120 points" in done[0].text
    (member,) = customers(username.live)
    assert (member.id, member.phone, member.wa_user_id) == (phone_member, "+" + PHONE, USER_ID)
    (points, *_) = username.say("points")
    assert "120 points" in points.text  # the user id chat now speaks for the phone membership
    assert points.body["recipient"] == USER_ID


def test_a_username_member_who_joined_first_can_still_link(
    username: UsernameUser, graph_api: FakeGraphAPI, phone_member: int
) -> None:
    username.say("hi")
    username.press("lang:en", "English")
    username.press("consent:yes", "Yes, please")
    code, _ = _ask_code(username, graph_api)
    username.say(code)
    by_id = {c.id: c for c in customers(username.live)}
    assert by_id[phone_member].wa_user_id == USER_ID
    (own,) = [c for c in by_id.values() if c.id != phone_member]
    assert own.is_erased and own.wa_user_id is None  # the empty membership was folded into the phone's


def test_a_wrong_code_is_refused_and_the_third_ends_the_try(
    username: UsernameUser, graph_api: FakeGraphAPI, phone_member: int
) -> None:
    code, _ = _ask_code(username, graph_api)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    (first,) = username.say(wrong)
    assert "not right" in first.text and "2 tries left" in first.text
    username.say(wrong)
    (last,) = username.say(wrong)
    assert "last try" in last.text
    username.say(code)  # right, but too late: the try is over
    (member,) = [c for c in customers(username.live) if c.id == phone_member]
    assert member.wa_user_id is None


def test_an_expired_code_is_refused(
    username: UsernameUser, graph_api: FakeGraphAPI, phone_member: int, clock: FrozenClock
) -> None:
    code, _ = _ask_code(username, graph_api)
    clock.advance(minutes=11)
    (expired,) = username.say(code)
    assert "expired" in expired.text
    (member,) = [c for c in customers(username.live) if c.id == phone_member]
    assert member.wa_user_id is None


def test_a_number_that_is_no_member_gets_the_same_answer_and_no_message(
    username: UsernameUser, graph_api: FakeGraphAPI
) -> None:
    username.say("link")
    (answer,) = username.say("+91 98123 45670")
    assert "6-digit code" in answer.text
    assert graph_api.delivered_to("919812345670") == []
    (refused,) = username.say("123456")
    assert "not right" in refused.text


def test_a_command_instead_of_a_number_ends_the_try(username: UsernameUser) -> None:
    username.say("hi")
    username.press("lang:en", "English")
    username.press("consent:yes", "Yes, please")
    username.press("ref:no", "No")
    username.say("link")
    (points, *_) = username.say("points")
    assert "0 points" in points.text


def test_a_username_only_member_can_erase_their_data_and_the_user_id_goes_too(username: UsernameUser) -> None:
    from bot.models import Conversation, InboundMessage, OutboxMessage

    username.say("hi")
    username.press("lang:en", "English")
    username.press("consent:yes", "Yes, please")
    username.press("ref:no", "No")
    (question,) = username.say("delete my data")
    assert ("erase:yes", "Yes, delete") in question.options
    (farewell,) = username.press("erase:yes", "Yes, delete")
    assert "erased" in farewell.text and farewell.body["recipient"] == USER_ID
    (member,) = customers(username.live)
    assert member.is_erased and member.wa_user_id is None and member.phone != USER_ID
    with username.live.app.extensions["loyalty.db"].unit_of_work() as session:
        for model in (InboundMessage, OutboxMessage, Conversation):
            assert session.scalars(select(model).where(model.phone == USER_ID)).all() == [], model
        assert session.scalars(select(InboundMessage).where(InboundMessage.wa_user_id == USER_ID)).all() == []


def test_a_number_typed_at_first_contact_asks_for_the_code_too(
    username: UsernameUser, graph_api: FakeGraphAPI, phone_member: int
) -> None:
    username.say("hi")
    (answer,) = username.say("98123 45678")
    assert "6-digit code" in answer.text
    (to_phone,) = graph_api.delivered_to(PHONE)
    (done, *_) = username.say(code_in(to_phone))
    assert "linked" in done.text
    (member,) = customers(username.live)
    assert (member.id, member.wa_user_id) == (phone_member, USER_ID)


def test_the_longest_documented_user_id_is_stored_and_answered(username: UsernameUser, graph_api: FakeGraphAPI) -> None:
    from bot.models import InboundMessage

    longest = "US.ENT." + "1" * 128  # a parent id: "ENT." and then up to 128 characters
    username.send(meta.username_only(meta.text("0", "hi", user_id=longest, name="Ravi")))
    replies = graph_api.delivered_to(longest)
    assert replies and all(reply.body["recipient"] == longest for reply in replies)
    with username.live.app.extensions["loyalty.db"].unit_of_work() as session:
        (stored,) = session.scalars(select(InboundMessage)).all()
    assert (stored.phone, stored.wa_user_id) == (longest, longest)


def test_linking_the_number_from_another_chat_unlinks_the_first(
    username: UsernameUser, live_app: LiveApp, graph_api: FakeGraphAPI, phone_member: int
) -> None:
    code, _ = _ask_code(username, graph_api)
    username.say(code)
    other = UsernameUser(live_app, graph_api, wa_id="IN.5550987654321000000")
    try:
        other.say("link")
        before = len(graph_api.delivered_to(PHONE))
        other.say("+91 98123 45678")
        other.say(code_in(graph_api.delivered_to(PHONE)[before]))
        (points, *_) = other.say("points")
        assert "120 points" in points.text
    finally:
        other.close()
    (member,) = [c for c in customers(username.live) if c.id == phone_member]
    assert member.wa_user_id == "IN.5550987654321000000"
    first_again = username.say("points")
    assert all("120 points" not in reply.text for reply in first_again)  # the first chat no longer speaks for it
