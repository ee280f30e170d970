"""Keywords customers type instead of pressing buttons, in English and Hindi."""

from __future__ import annotations

import re

import pytest

from bot.flows.table import COMMANDS, TABLE
from bot.keywords import Command, normalize, yes_or_no

match = TABLE.keywords.match


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("points", "points"),
        ("  POINTS  ", "points"),
        ("Points!", "points"),
        ("balance", "points"),
        ("Balance?", "points"),
        ("redeem", "rewards"),
        ("Rewards", "rewards"),
        ("refer", "refer"),
        ("help", "help"),
        ("stop", "stop"),
        ("STOP", "stop"),
        ("start", "start"),
        ("menu", "menu"),
        ("Hi", "menu"),
        ("history", "history"),
        ("Talk  to   a person", "agent"),
        ("my   points", "points"),
        ("affiliate", "affiliate"),
        ("language", "language"),
        ("अंक", "points"),
        ("पॉइंट", "points"),
        ("बैलेंस", "points"),
        ("रिडीम", "rewards"),
        ("रेफर", "refer"),
        ("रेफ़र", "refer"),
        ("मदद", "help"),
        ("रोकें", "stop"),
        ("शुरू", "start"),
        ("मेनू", "menu"),
        ("इतिहास", "history"),
        (" मदद। ", "help"),
        ("भाषा", "language"),
        ("offers", "offers"),
        ("Offers On", "offers_on"),
        ("OFFERS OFF!", "offers_off"),
        ("ऑफ़र", "offers"),
        ("ऑफर", "offers"),
        ("ऑफ़र चालू", "offers_on"),
        ("ऑफ़र बंद", "offers_off"),
        ("बंद", "stop"),
        ("birthday", "birthday"),
        ("जन्मदिन", "birthday"),
    ],
)
def test_keywords_in_both_languages_ignore_case_spacing_and_punctuation(typed: str, command: str) -> None:
    assert match(typed) == Command(command)


def test_the_nukta_written_as_two_code_points_still_matches() -> None:
    decomposed = "रेफ\u093c\u0930"  # फ + nukta, as some keyboards type it
    assert match(decomposed) == Command("refer")


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("JOIN ABC123", "ABC123"),
        ("join abc123", "ABC123"),
        ("  Join   abc-123 ", "ABC123"),
        ("JOIN: x7k9qp", "X7K9QP"),
        ("जॉइन ABC123", "ABC123"),
    ],
)
def test_join_with_a_code(typed: str, code: str) -> None:
    assert match(typed) == Command("join", code)


@pytest.mark.parametrize("typed", ["joining", "join", "joined us", "I want points please", "", "   ", None, "12"])
def test_other_text_is_no_command(typed: str | None) -> None:
    assert match(typed) is None


def test_every_keyword_maps_back_to_its_command() -> None:
    for command, row in COMMANDS.items():
        for word in row.words:
            assert match(word) == Command(command), word


def test_no_word_belongs_to_two_commands() -> None:
    seen: dict[str, str] = {}
    for command, row in COMMANDS.items():
        for word in (*row.words, *row.code_words):
            key = normalize(word).replace(" ", "")
            assert seen.setdefault(key, command) == command, word


@pytest.mark.parametrize(
    ("typed", "answer"), [("yes", True), ("Haan", True), ("हाँ", True), ("No", False), ("नहीं", False), ("maybe", None)]
)
def test_yes_or_no(typed: str, answer: bool | None) -> None:
    assert yes_or_no(typed) is answer


def test_the_words_the_help_text_teaches_are_keywords() -> None:
    from bot.texts import texts_for

    help_text = (
        "You can press the buttons, or type: POINTS, HISTORY, REDEEM, REFER, MENU, LANGUAGE, BIRTHDAY. "
        "OFFERS ON and OFFERS OFF switch our offers; STOP ends all our updates, START brings them back."
    )
    english = texts_for("en", {})._(help_text)
    phrases = re.findall(r"[A-Z]{2,}(?: [A-Z]{2,})*", english)
    assert len(phrases) == 11 and all(match(p) is not None for p in phrases), phrases
    assert match("OFFERS ON") == Command("offers_on") and match("OFFERS OFF") == Command("offers_off")
    hindi = texts_for("hi", {})._(help_text)
    for word in ("अंक", "इतिहास", "रिडीम", "रेफर", "मेनू", "भाषा", "जन्मदिन", "ऑफ़र चालू", "ऑफ़र बंद", "रोकें", "शुरू"):
        assert word in hindi and match(word) is not None
