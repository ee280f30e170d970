"""``bot.payload_clean`` and the sender's recipient: values every database stores, ids pywa can send to."""

from __future__ import annotations

import math

import pytest

from bot import payload_clean as clean
from bot.sender import SendError, recipient


def test_text_loses_nul_and_lone_surrogates_only() -> None:
    assert clean.clean_text("a\x00b\ud800c\udfffd 😀 नमस्ते") == "ab\ufffdc\ufffdd 😀 नमस्ते"


def test_json_is_cleaned_and_cut_at_a_sane_depth() -> None:
    deep: object = "x"
    for _ in range(100):
        deep = [deep]
    cleaned = clean.clean_json({"t\x00": "\ud800", "n": math.nan, "i": math.inf, "ok": 1.5, "deep": deep})
    assert cleaned["t"] == "\ufffd" and cleaned["n"] is None and cleaned["i"] is None and cleaned["ok"] == 1.5
    depth, node = 0, cleaned["deep"]
    while isinstance(node, list):
        depth, node = depth + 1, node[0]
    assert node is None and depth == clean.MAX_DEPTH - 1


def test_names_and_codes_fit_their_columns() -> None:
    assert clean.name("  Asha \x00  Rao  ") == "Asha Rao"
    assert clean.name("x" * 500) == "x" * clean.MAX_NAME
    assert clean.name({"first": "Asha"}) is None
    assert clean.error_code(131047) == "131047"
    assert clean.error_code("9" * 40) == "9" * clean.MAX_ERROR_CODE
    assert clean.error_code(True) is None and clean.error_code([1]) is None


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("+919812345678", "919812345678"),
        ("919812345678", "919812345678"),
        ("IN.1234567890123456", "IN.1234567890123456"),
        ("US.ENT.11815799212886844830", "US.ENT.11815799212886844830"),
    ],
)
def test_the_recipient_is_the_number_s_digits_or_the_user_id(address: str, expected: str) -> None:
    assert recipient(address) == expected


def test_a_user_id_pywa_would_mistake_for_a_group_is_not_sent() -> None:
    with pytest.raises(SendError) as raised:
        recipient("IN.abc123")
    assert raised.value.transient is False
