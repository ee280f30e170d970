"""The bot's two languages: complete catalogs, Indian number grouping, plural forms, dates."""

from __future__ import annotations

import datetime as dt
import gettext
import re
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.texts import TRANSLATIONS, Texts, compile_catalogs, compile_po, locale_for, texts_for

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "n_": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def source_messages() -> set[str | tuple[str, str]]:
    """Every text marked in the bot's code, as ``pybabel extract -F babel.cfg`` finds it."""
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "bot"), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def catalog(language: str) -> dict[object, object]:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        parsed = read_po(fh)
    return {m.id: m for m in parsed if m.id}


def test_the_code_marks_a_good_number_of_texts() -> None:
    assert len(source_messages()) > 80


@pytest.mark.parametrize("language", ["en", "hi"])
def test_every_text_in_the_code_is_translated(language: str) -> None:
    entries = catalog(language)
    missing = [m for m in source_messages() if m not in entries]
    assert missing == []
    untranslated = [
        mid
        for mid, entry in entries.items()
        if not all(entry.string) or getattr(entry, "fuzzy", False)  # type: ignore[attr-defined]
    ]
    assert untranslated == []


def test_hindi_is_hindi_and_keeps_every_placeholder() -> None:
    for mid, entry in catalog("hi").items():
        ids = [mid] if isinstance(mid, str) else list(mid)  # type: ignore[arg-type]
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)  # type: ignore[attr-defined]
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == wanted, mid
        if mid not in ("English",):
            assert any("\u0900" <= ch <= "\u097f" for text in strings for ch in text), mid


def test_hindi_plural_rule_is_in_the_catalog() -> None:
    with (TRANSLATIONS / "hi" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        assert read_po(fh).plural_expr == "(n > 1)"


@pytest.mark.parametrize("locale", ["en_IN", "hi_IN"])
def test_numbers_and_money_are_grouped_the_indian_way(locale: str) -> None:
    t = Texts(language=locale[:2], locale=locale)
    assert t.number(125000) == "1,25,000"
    assert t.number(12345678) == "1,23,45,678"
    assert t.money(Decimal("125000")) == "₹1,25,000"
    assert t.money(Decimal("125000.50")) == "₹1,25,000.50"


def test_plural_forms_in_english() -> None:
    t = texts_for("en", {})
    assert t.n_("{n} point", "{n} points", 1) == "1 point"
    assert t.n_("{n} point", "{n} points", 0) == "0 points"
    assert t.n_("You have {n} point.", "You have {n} points.", 125000) == "You have 1,25,000 points."


def test_plural_forms_in_hindi() -> None:
    t = texts_for("hi", {})
    assert t.n_("You have {n} point left.", "You have {n} points left.", 1) == "आपके पास 1 अंक बचा है।"
    assert t.n_("You have {n} point left.", "You have {n} points left.", 0) == "आपके पास 0 अंक बचा है।"
    assert t.n_("You have {n} point left.", "You have {n} points left.", 2) == "आपके पास 2 अंक बचे हैं।"


def test_dates_are_in_the_shops_time_zone_and_language() -> None:
    late = dt.datetime(2026, 6, 30, 20, 0, tzinfo=dt.UTC)  # already 1 July in India
    assert texts_for("en", {}).date(late) == "1 Jul 2026"
    assert texts_for("hi", {}).date(late) == "1 जुल॰ 2026"


def test_texts_are_translated_and_filled() -> None:
    assert texts_for("hi", {})._("Tier: {tier}", tier="गोल्ड") == "टियर: गोल्ड"
    assert texts_for("en", {})._("Tier: {tier}", tier="Gold") == "Tier: Gold"
    assert texts_for("fr", {}).language == "en"


def test_locale_follows_the_default_locales_territory() -> None:
    assert locale_for("en", {"DEFAULT_LOCALE": "en_IN"}) == "en_IN"
    assert locale_for("hi", {"DEFAULT_LOCALE": "en_IN"}) == "hi_IN"
    assert locale_for("hi", {"DEFAULT_LOCALE": "en"}) == "hi"


def test_compiled_catalogs_load_like_pybabel_compile_output(tmp_path: Path) -> None:
    folder = tmp_path / "hi" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_bytes((TRANSLATIONS / "hi" / "LC_MESSAGES" / "messages.po").read_bytes())
    assert compile_catalogs(tmp_path) == [folder / "messages.mo"]
    assert compile_catalogs(tmp_path) == []  # up to date
    loaded = gettext.translation("messages", localedir=str(tmp_path), languages=["hi"])
    assert loaded.gettext("Menu") == "मेनू"
    assert compile_po(folder / "messages.po", "hi").gettext("Menu") == "मेनू"


def test_the_time_zone_is_the_one_given_and_asked_only_when_a_date_is_shown() -> None:
    late = dt.datetime(2026, 6, 30, 20, 0, tzinfo=dt.UTC)
    asked: list[str] = []

    def zone() -> str:
        asked.append("zone")
        return "America/New_York"

    t = texts_for("en", {}, zone)
    assert t._("Tier: {tier}", tier="Gold") == "Tier: Gold" and asked == []
    assert t.date(late) == "30 Jun 2026" and asked == ["zone"]
    assert texts_for("en", {}, "Pacific/Kiritimati").date(late) == "1 Jul 2026"
