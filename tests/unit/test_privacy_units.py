"""Privacy rules without a database: parsing WhatsApp's preference updates, the notice's items, scrubbing,
the export's CSV, settings limits, the suppression list's hashes."""

from __future__ import annotations

import pytest

from bot import inbound
from domain import data_export, notices, suppression
from domain.erasure import scrub_json, scrubber
from domain.errors import ValidationError
from domain.privacy_settings import PrivacySettings
from tests.e2e import meta


def preferences(value: str, category: str = "marketing_messages") -> dict[str, object]:
    body = meta.envelope(
        {"user_preferences": [{"wa_id": "919812345678", "category": category, "value": value, "timestamp": 1}]}
    )
    body["entry"][0]["changes"][0]["field"] = "user_preferences"  # type: ignore[index]
    return body


def test_user_preferences_updates_are_parsed_and_nothing_else_is() -> None:
    stop = inbound.parse(preferences("stop"))
    assert [(p.phone, p.value) for p in stop.preferences] == [("+919812345678", "stop")]
    assert stop.messages == () and stop.statuses == ()
    assert inbound.parse(preferences("resume")).preferences[0].value == "resume"
    assert inbound.parse(preferences("maybe")).preferences == ()
    assert inbound.parse(preferences("stop", category="something_else")).preferences == ()
    system = meta.message("919812345678", "system", {"type": "user_preference_changed", "marketing": "stop"})
    parsed = inbound.parse(system)
    assert parsed.messages == () and [p.value for p in parsed.preferences] == ["stop"]
    assert inbound.parse(meta.text("919812345678", "hi")).preferences == ()


def test_a_notice_text_becomes_items_of_paragraphs_and_points() -> None:
    items = notices.parse("intro line\n## Data\nWe keep:\n- your number\n- your name\n\n## Rights\nAsk us.")
    assert items == [
        notices.Item("", ("intro line",)),
        notices.Item("Data", ("We keep:",), ("your number", "your name")),
        notices.Item("Rights", ("Ask us.",)),
    ]


def test_scrubbing_removes_the_number_in_every_form_and_the_names_words() -> None:
    scrub = scrubber("+919812345678", "Asha Verma")
    text = "Asha called from 9812345678 (+919812345678, 919812345678); Ashanti and Al stay"
    assert scrub(text) == "[erased] called from [erased] ([erased], [erased]); Ashanti and Al stay"
    assert scrub_json({"note": ["verma said hi"], "n": 3}, scrub) == {"note": ["[erased] said hi"], "n": 3}
    assert scrubber("+919812345678", None)("Asha") == "Asha"
    assert scrubber("+919812345678", "आशा वर्मा")("आशा ने कहा, वर्मा जी") == "[erased] ने कहा, [erased] जी"


def test_the_export_csv_has_one_row_per_value() -> None:
    rows = list(data_export.csv_rows({"member": {"phone": "+91", "tags": ["a"]}, "orders": [{"lines": [{"x": 1}]}]}))
    assert rows == [
        ["section", "record", "field", "value"],
        ["member", "1", "phone", "+91"],
        ["member", "1", "tags.1", "a"],
        ["orders", "1", "lines.1.x", "1"],
    ]


def test_requests_are_due_within_the_laws_90_days() -> None:
    assert PrivacySettings().request_due_days == 30 and PrivacySettings().inactive_years == 0
    assert PrivacySettings().message_retention_days == 180 and PrivacySettings().access_log_days == 365
    PrivacySettings(request_due_days=90).validate()
    with pytest.raises(ValidationError, match="90"):
        PrivacySettings(request_due_days=91).validate()
    with pytest.raises(ValidationError):
        PrivacySettings.from_json({"request_due_days": "soon"})


def test_suppression_hashes_are_keyed_and_kind_specific() -> None:
    a = suppression.keyed_hash("key-1", "phone", "+919812345678")
    assert a == suppression.keyed_hash("key-1", "phone", "+919812345678") and len(a) == 64
    assert a != suppression.keyed_hash("key-2", "phone", "+919812345678")
    assert a != suppression.keyed_hash("key-1", "erp", "+919812345678")
    assert "9812345678" not in a
    with pytest.raises(ValueError):
        suppression.keyed_hash("", "phone", "+919812345678")
