"""Reading what customers type instead of pressing buttons: commands and yes / no, in English and Hindi.

Matching ignores case, surrounding punctuation and spacing (``" Points! "``,
``"TALK TO  A PERSON"``), and Unicode normalisation differences in Devanagari
(``रेफ़र`` written with or without the precomposed nukta). Which words ask for
which command is declared with the commands, in ``bot.flows.table``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_EDGE_PUNCTUATION = "!?.,;:'\"()[]{}।-_*~"
# What may follow a code word: JOIN ABC123, JOIN: abc-123, जॉइन ABC123.
_CODE = r"(?:\s+|\s*[:#-]\s*)([a-z0-9][a-z0-9 -]{2,23})$"


@dataclass(frozen=True)
class Command:
    """What a message asks for: the command's name, and the code typed after it (``JOIN ABC123``)."""

    name: str
    argument: str | None = None


def normalize(text: str) -> str:
    """Case-folded, NFC, punctuation trimmed, runs of spaces collapsed."""
    folded = unicodedata.normalize("NFC", text).casefold()
    words = folded.split()
    cleaned = " ".join(words).strip(_EDGE_PUNCTUATION + " ")
    return cleaned if cleaned else " ".join(words)


def _key(text: str) -> str:
    return re.sub(r"\s+", "", normalize(text))


def _code_pattern(words: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(unicodedata.normalize("NFC", word)) for word in words)
    return re.compile(f"^(?:{alternatives})" + _CODE)


class Keywords:
    """The words that ask for each command, and the words typed before a code (``JOIN ABC123``)."""

    def __init__(self, words: Mapping[str, Sequence[str]], code_words: Mapping[str, Sequence[str]]) -> None:
        self._lookup = {_key(word): name for name, said in words.items() for word in said}
        self._codes = [(name, _code_pattern(said)) for name, said in code_words.items() if said]

    def match(self, text: str | None) -> Command | None:
        """The command ``text`` asks for, or ``None`` for anything else."""
        if not text or not text.strip():
            return None
        typed = normalize(text)
        for name, pattern in self._codes:
            coded = pattern.match(typed)
            if coded:
                return Command(name, coded.group(1).replace(" ", "").replace("-", "").upper())
        found = self._lookup.get(_key(text))
        return Command(found) if found else None

    def asks_for(self, text: str, name: str) -> bool:
        """Does ``text`` ask for command ``name``? (for yes/no style checks in flows)."""
        command = self.match(text)
        return command is not None and command.name == name


YES_WORDS = (
    "yes",
    "y",
    "yeah",
    "yep",
    "ok",
    "okay",
    "sure",
    "haan",
    "han",
    "ha",
    "हाँ",
    "हां",
    "हा",
    "जी",
    "जी हाँ",
    "ठीक है",
)
NO_WORDS = ("no", "n", "nope", "nah", "nahi", "nahin", "skip", "not now", "later", "नहीं", "नही", "ना", "अभी नहीं")
_YES = {_key(w) for w in YES_WORDS}
_NO = {_key(w) for w in NO_WORDS}


def yes_or_no(text: str) -> bool | None:
    """``True`` for a typed yes, ``False`` for a no, ``None`` for anything else."""
    key = _key(text)
    if key in _YES:
        return True
    if key in _NO:
        return False
    return None
