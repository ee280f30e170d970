"""Words customers type instead of pressing buttons, in English and Hindi.

Matching ignores case, surrounding punctuation and spacing (``" Points! "``,
``"TALK TO  A PERSON"``), and Unicode normalisation differences in Devanagari
(``रेफ़र`` written with or without the precomposed nukta).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# command -> the words that ask for it. One place to add a synonym.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "points": ("points", "point", "pts", "balance", "my points", "अंक", "पॉइंट", "पॉइंट्स", "पॉइंटस", "बैलेंस", "शेष"),
    "history": ("history", "statement", "transactions", "इतिहास", "हिस्ट्री", "लेनदेन"),
    "rewards": ("redeem", "rewards", "reward", "catalog", "catalogue", "रिडीम", "इनाम", "रिवॉर्ड", "उपहार"),
    "refer": ("refer", "invite", "refer a friend", "रेफर", "रेफ़र", "आमंत्रित"),
    "affiliate": ("affiliate", "partner", "एफिलिएट", "एफ़िलिएट", "पार्टनर"),
    "help": ("help", "support", "?", "मदद", "सहायता", "हेल्प"),
    "agent": ("agent", "human", "person", "talk to a person", "talk to us", "staff", "एजेंट", "स्टाफ", "व्यक्ति"),
    "stop": ("stop", "unsubscribe", "opt out", "optout", "रोकें", "रोको", "बंद"),
    "start": ("start", "subscribe", "opt in", "optin", "unstop", "शुरू", "स्टार्ट"),
    "menu": ("menu", "hi", "hello", "hey", "namaste", "main menu", "मेनू", "मेन्यू", "नमस्ते", "हेलो"),
    "language": ("language", "lang", "भाषा"),
}
JOIN_WORDS = ("join", "जॉइन", "जुड़ें")

_EDGE_PUNCTUATION = "!?.,;:'\"()[]{}।-_*~"


@dataclass(frozen=True)
class Command:
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


_LOOKUP: dict[str, str] = {_key(word): name for name, words in KEYWORDS.items() for word in words}
_JOIN = re.compile(
    r"^(?:"
    + "|".join(re.escape(unicodedata.normalize("NFC", w)) for w in JOIN_WORDS)
    + r")(?:\s+|\s*[:#-]\s*)([a-z0-9][a-z0-9 -]{2,23})$"
)


def match(text: str | None) -> Command | None:
    """The command ``text`` asks for, or ``None`` for anything else."""
    if not text or not text.strip():
        return None
    joined = _JOIN.match(normalize(text))
    if joined:
        return Command("join", joined.group(1).replace(" ", "").replace("-", "").upper())
    name = _LOOKUP.get(_key(text))
    return Command(name) if name else None


def is_command_word(text: str, name: str) -> bool:
    """Does ``text`` ask for command ``name``? (for yes/no style checks in flows)."""
    command = match(text)
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
