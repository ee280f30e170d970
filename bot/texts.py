"""Translations and locale formatting for everything the bot says.

Message texts live in ``bot/translations/<lang>/LC_MESSAGES/messages.po``;
``make translations`` compiles them to ``.mo``. When a ``.mo`` is missing or
older than its ``.po`` (a fresh checkout), the catalog is compiled in memory
from the ``.po``, so the bot never silently falls back to English.

Numbers, money and dates go through Babel for the customer's locale: ``en_IN``
and ``hi_IN`` both group 125000 as ``1,25,000``.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from domain.birthdays import year_known
from domain.money import format_money

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"
LANGUAGES = ("en", "hi")
DEFAULT_LANGUAGE = "en"
DEFAULT_TIMEZONE = "Asia/Kolkata"


@functools.cache
def catalog(language: str) -> gettext.GNUTranslations:
    """The compiled catalog for ``language`` (one of :data:`LANGUAGES`)."""
    folder = TRANSLATIONS / language / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    return compile_po(po, language)


def compile_catalogs(folder: Path = TRANSLATIONS) -> list[Path]:
    """Write each language's ``.mo`` next to its ``.po`` if missing or stale (what ``make translations`` does)."""
    written = []
    for po in sorted(folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            parsed = read_po(fh, locale=po.parent.parent.name, domain=DOMAIN)
        partial = mo.with_name(f".{mo.name}.{os.getpid()}")
        with partial.open("wb") as out:
            write_mo(out, parsed, use_fuzzy=True)
        os.replace(partial, mo)  # atomic: a parallel reader never sees half a file
        written.append(mo)
    return written


def compile_po(po: Path, language: str) -> gettext.GNUTranslations:
    """Compile a ``.po`` in memory (what ``pybabel compile`` writes to disk)."""
    with po.open("rb") as fh:
        parsed = read_po(fh, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, parsed, use_fuzzy=True)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def N_(message: str) -> str:
    """Mark a text for extraction where it is defined; it is translated where it is used."""
    return message


def language_or_default(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def locale_for(language: str, config: Mapping[str, Any]) -> str:
    """``en`` -> ``en_IN`` when the default locale is ``en_IN``; the territory follows the default."""
    default = str(config.get("DEFAULT_LOCALE") or "en_IN")
    lang, _, territory = default.partition("_")
    if lang == language:
        return default
    return f"{language}_{territory}" if territory else language


@dataclass(frozen=True)
class Texts:
    """One customer's language: translated texts and locale-aware numbers, money and dates."""

    language: str
    locale: str
    currency: str = "INR"
    # The shop's zone (the program rules' ``timezone``); a callable is asked only when a date is shown.
    timezone: str | Callable[[], str] = DEFAULT_TIMEZONE

    def _(self, message: str, **values: Any) -> str:
        """Translate ``message`` and fill its ``{named}`` placeholders."""
        translated = catalog(self.language).gettext(message)
        return translated.format(**values) if values else translated

    def n_(self, singular: str, plural: str, count: int, **values: Any) -> str:
        """Translate with the plural form ``count`` needs; ``{n}`` is the formatted count."""
        translated = catalog(self.language).ngettext(singular, plural, count)
        return translated.format(n=self.number(count), **values)

    def number(self, value: int | Decimal) -> str:
        return format_decimal(value, locale=self.locale)

    def percent(self, value: Decimal) -> str:
        """``5`` as the locale writes five percent (``5%``); keeps ``%`` out of catalog ids."""
        return format_percent(Decimal(value) / 100, locale=self.locale, decimal_quantization=False)

    def money(self, amount: Decimal, currency: str | None = None) -> str:
        """Money in the locale's format (``domain.money``); whole amounts without the paise (``₹25,000``)."""
        return format_money(amount, currency or self.currency, self.locale, drop_zero_paise=True)

    def date(self, moment: dt.datetime | dt.date) -> str:
        """A date as the customer reads it, in the shop's time zone."""
        if isinstance(moment, dt.datetime):
            zone = self.timezone() if callable(self.timezone) else self.timezone
            moment = moment.astimezone(ZoneInfo(zone)).date()
        return format_date(moment, format="medium", locale=self.locale)

    def birthday(self, day: dt.date) -> str:
        """A birthday: ``14 Aug 1990``, or ``14 Aug`` when the member left the year out."""
        if year_known(day):
            return self.date(day)
        return format_skeleton("dMMM", day, locale=self.locale)


def texts_for(
    language: str | None, config: Mapping[str, Any], timezone: str | Callable[[], str] | None = None
) -> Texts:
    """``timezone``: the program rules' zone (``ProgramRules.timezone``, set in the console), the same one
    that decides which day a campaign or an expiry falls on."""
    lang = language_or_default(language)
    return Texts(
        language=lang,
        locale=locale_for(lang, config),
        currency=str(config.get("CURRENCY") or "INR"),
        timezone=timezone or DEFAULT_TIMEZONE,
    )
