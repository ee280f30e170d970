"""Parsing recorded webhook payloads (Meta's documented format) into Incoming and StatusUpdate values."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from bot.inbound import PayloadError, parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "whatsapp"
PHONE = "+919812345678"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def only_message(name: str) -> Any:
    update = parse(load(name))
    assert len(update.messages) == 1 and not update.statuses
    return update.messages[0].incoming


def test_text_without_user_id_is_kept_and_identified_by_phone() -> None:
    msg = only_message("text.json")
    assert (msg.kind, msg.text, msg.phone) == ("text", "Hello, what are my points?", PHONE)
    assert msg.wa_user_id is None
    assert msg.profile_name == "Asha Rao"
    assert msg.message_id.startswith("wamid.")


def test_text_with_user_id_keeps_the_phone_and_records_the_user_id() -> None:
    msg = only_message("text_with_user_id.json")
    assert msg.phone == PHONE
    assert msg.wa_user_id == "IN.1234567890123456"


@pytest.mark.parametrize(
    ("name", "kind", "text", "reply_id"),
    [
        ("button_reply.json", "button", "My points", "menu:points"),
        ("list_reply.json", "list", "Coffee voucher", "reward:3"),
        ("template_button.json", "button", "Stop promotions", "STOP"),
        ("image.json", "image", "my bill", None),
        ("sticker.json", "sticker", None, None),
        ("location.json", "location", "MG Road store", None),
        ("audio.json", "audio", None, None),
        ("unsupported.json", "unsupported", None, None),
    ],
)
def test_each_message_type(name: str, kind: str, text: str | None, reply_id: str | None) -> None:
    msg = only_message(name)
    assert (msg.kind, msg.text, msg.reply_id, msg.phone) == (kind, text, reply_id, PHONE)


def test_a_referral_from_an_ad_is_still_a_text_and_the_raw_referral_is_kept() -> None:
    update = parse(load("referral.json"))
    assert update.messages[0].incoming.kind == "text"
    assert update.messages[0].raw["referral"]["source_type"] == "ad"


def test_join_code_from_a_wa_me_link_becomes_the_referral_code() -> None:
    body = load("text.json")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "JOIN ab12cd"
    assert parse(body).messages[0].incoming.referral_code == "AB12CD"


def test_a_batch_keeps_every_message_with_its_own_sender() -> None:
    update = parse(load("batch_two_senders.json"))
    assert [(m.incoming.phone, m.incoming.text) for m in update.messages] == [
        (PHONE, "first"),
        ("+919876543210", "second"),
    ]


@pytest.mark.parametrize("state", ["sent", "delivered", "read"])
def test_statuses(state: str) -> None:
    update = parse(load(f"status_{state}.json"))
    assert not update.messages
    (report,) = update.statuses
    assert report.status == state
    assert report.wa_message_id.startswith("wamid.")
    assert report.at is not None and report.at.tzinfo is dt.UTC
    assert report.error_code is None


def test_failed_status_carries_code_and_reason() -> None:
    (report,) = parse(load("status_failed.json")).statuses
    assert (report.status, report.error_code) == ("failed", "131047")
    assert report.error is not None and "Re-engagement" in report.error and "24 hours" in report.error


def test_a_sender_with_only_a_user_id_is_addressed_by_it() -> None:
    msg = only_message("text_username_only.json")
    assert (msg.phone, msg.wa_user_id) == ("IN.5550987654321098765", "IN.5550987654321098765")
    assert (msg.profile_name, msg.text) == ("Meera", "Hello, I would like to join")


def test_a_sender_with_neither_a_phone_nor_a_well_formed_user_id_is_counted_not_guessed() -> None:
    body = load("text_username_only.json")
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["user_id"] = value["messages"][0]["from_user_id"] = "not a user id"
    update = parse(body)
    assert update.messages == () and update.unknown_senders == 1


@pytest.mark.parametrize(
    "body",
    [[], "text", 42, {}, {"object": "page", "entry": []}, {"object": "whatsapp_business_account"}],
)
def test_not_a_whatsapp_update(body: Any) -> None:
    with pytest.raises(PayloadError):
        parse(body)


def test_other_fields_are_ignored() -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}]}],
    }
    update = parse(body)
    assert update.messages == () and update.statuses == ()


@pytest.mark.parametrize(
    ("kind", "content", "expected"),
    [
        ("video", {"id": "1", "mime_type": "video/mp4", "caption": "unboxing"}, ("video", "unboxing", None)),
        ("document", {"id": "2", "filename": "bill.pdf", "mime_type": "application/pdf"}, ("document", None, None)),
        (
            "contacts",
            [{"name": {"formatted_name": "Ravi"}, "phones": [{"phone": "+91 98765 43210"}]}],
            ("contacts", None, None),
        ),
        ("reaction", {"message_id": "wamid.X", "emoji": "👍"}, ("reaction", "👍", None)),
        ("system", {"body": "changed number", "type": "customer_changed_number"}, ("unsupported", None, None)),
        ("interactive", {"type": "nfm_reply", "nfm_reply": {"name": "flow"}}, ("unsupported", None, None)),
    ],
)
def test_more_message_types(kind: str, content: Any, expected: tuple[str, str | None, str | None]) -> None:
    from tests.e2e import meta

    msg = parse(meta.message("919812345678", kind, content)).messages[0].incoming
    assert (msg.kind, msg.text, msg.reply_id) == expected
