"""Voucher and referral codes: readable alphabet, unguessable length, unique in practice."""

from __future__ import annotations

import math
import re

from domain.codes import ALPHABET, clean_code, random_code, voucher_code
from domain.rewards import find_voucher  # noqa: F401 - the look-up side of the format

AMBIGUOUS = set("0O1IL5S2Z8B")


def test_alphabet_has_no_ambiguous_characters() -> None:
    assert not AMBIGUOUS & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET) == 25


def test_voucher_code_format_and_entropy() -> None:
    code = voucher_code()
    assert re.fullmatch(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}", code)
    assert 12 * math.log2(len(ALPHABET)) > 55


def test_voucher_codes_do_not_repeat() -> None:
    codes = {voucher_code() for _ in range(20_000)}
    assert len(codes) == 20_000


def test_every_symbol_of_the_alphabet_is_used() -> None:
    seen = set("".join(random_code(12) for _ in range(2_000)))
    assert seen == set(ALPHABET)


def test_random_code_length() -> None:
    assert len(random_code(6)) == 6


def test_clean_code_ignores_case_spaces_and_dashes() -> None:
    assert clean_code(" 34ac-dE fg ") == "34ACDEFG"
