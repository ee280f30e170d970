"""Phone numbers in, E.164 out, whatever shape staff, the ERP or WhatsApp use."""

from __future__ import annotations

import re

import phonenumbers

from domain.errors import InvalidPhone

_JUNK = re.compile(r"[\s().\-/]")


def normalize_phone(raw: str | None, default_country_code: int = 91) -> str:
    """Return ``+<country><number>`` or raise ``InvalidPhone`` with the reason.

    ``098123 45678``, ``+91-98123-45678`` and ``919812345678`` (WhatsApp's
    ``wa_id``) are the same Indian mobile with the default country code 91.
    """
    text = _JUNK.sub("", (raw or "").strip())
    if not text:
        raise InvalidPhone("no phone number given")
    if text.startswith("00"):
        text = "+" + text[2:]
    if not re.fullmatch(r"\+?\d+", text):
        raise InvalidPhone(f"{raw!r} is not a phone number: only digits, spaces, dashes and a leading + are allowed")
    candidates = _candidates(text, default_country_code)
    numbers = [_parse(candidate, default_country_code) for candidate in candidates]
    for number in numbers:
        if number is not None and phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidPhone(f"{raw!r} is not a valid phone number: {_why_invalid(numbers[0], candidates[0])}")


_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: "too few digits",
    phonenumbers.ValidationResult.TOO_LONG: "too many digits",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong number of digits",
}


def _why_invalid(number: phonenumbers.PhoneNumber | None, text: str) -> str:
    """The reason staff can act on, for the number as it was most likely meant."""
    if number is None:
        return "unknown country code" if text.startswith("+") else "not a number in the default country"
    reason = phonenumbers.is_possible_number_with_reason(number)
    return _REASONS.get(reason, "no such number in its country's numbering plan")


def _candidates(text: str, default_country_code: int) -> list[str]:
    if text.startswith("+"):
        return [text]
    # A national number first; then the same digits read as country code plus
    # number, which is how WhatsApp's wa_id and many ERPs write it.
    return [text, "+" + text]


def _parse(text: str, default_country_code: int) -> phonenumbers.PhoneNumber | None:
    region = phonenumbers.region_code_for_country_code(default_country_code)
    try:
        return phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None


def mask_phone(e164: str) -> str:
    """For logs and lists where the full number is not needed: ``+91******5678``."""
    return e164[:3] + "*" * max(len(e164) - 7, 0) + e164[-4:]
