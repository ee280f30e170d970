"""How strong a staff password must be: long enough, not repetitive, not on the common-password list.

The list (``common_passwords.txt``) holds what attackers try first; a password is refused when
it is on it, ignoring case and the digits and symbols people add at the end ("Password2024!").
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

MIN_LENGTH = 10
MAX_LENGTH = 200
MIN_DISTINCT = 5
COMMON_LIST = Path(__file__).resolve().parent / "common_passwords.txt"
_TRAILING = "0123456789!@#$%^&*()-_=+.,;:?~ "


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def weakness(password: str, email: str | None = None) -> str | None:
    """Why ``password`` is refused, as a sentence fragment; None when it is strong enough."""
    core = password.strip()
    if len(core) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters (spaces at either end do not count)"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    if len(set(core.lower())) < MIN_DISTINCT:
        return f"a password needs at least {MIN_DISTINCT} different characters"
    if _is_run(core.lower()):
        return "a password must not be a run of keys like 1234567890 or abcdefghij"
    lowered = core.lower()
    squeezed = lowered.replace(" ", "")
    stem = lowered.rstrip(_TRAILING)
    common = common_passwords()
    if lowered in common or squeezed in common or stem in common or len(stem) < 4:
        return "that password is one of the most common ones; choose another"
    local = (email or "").strip().lower().partition("@")[0]
    if local and len(local) >= 3 and local in squeezed:
        return "a password must not contain the email address"
    return None


def _is_run(text: str) -> bool:
    """Every character one step from the one before (``abcdef``, ``98765``)."""
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    return len(steps) == 1 and steps <= {1, -1}
