"""Short codes people read aloud and type: no 0/O, 1/I/L, 5/S, 2/Z, 8/B."""

from __future__ import annotations

import secrets

ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"


def random_code(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def voucher_code() -> str:
    """12 symbols from a 25-letter alphabet: ~55 bits, unguessable, grouped for reading."""
    raw = random_code(12)
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def clean_code(text: str) -> str:
    """Normalise what a person typed: case, spaces and dashes do not matter."""
    return "".join(ch for ch in text.upper() if ch.isalnum())
