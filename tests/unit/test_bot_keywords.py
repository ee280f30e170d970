"""Keywords customers type instead of pressing buttons, in English and Hindi."""

from __future__ import annotations

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

    english = texts_for("en", {})._(
        "You can press the buttons, or type: POINTS, HISTORY, REDEEM, REFER, MENU, LANGUAGE. "
        "STOP ends our updates, START brings them back."
    )
    taught = [w for w in english.replace(",", " ").replace(".", " ").split() if w.isupper() and len(w) > 1]
    assert len(taught) == 8 and all(match(w) is not None for w in taught)
    hindi = texts_for("hi", {})._(
        "You can press the buttons, or type: POINTS, HISTORY, REDEEM, REFER, MENU, LANGUAGE. "
        "STOP ends our updates, START brings them back."
    )
    for word in ("अंक", "इतिहास", "रिडीम", "रेफर", "मेनू", "भाषा", "रोकें", "शुरू"):
        assert word in hindi and match(word) is not None
