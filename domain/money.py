"""Money as people read it, through Babel, for the shop's locale and currency.

One formatter for every room: the bot's messages (``bot.texts``), the console's pages,
its reports and exports. ``en_IN`` groups lakhs and crores: ``₹1,23,456.00``.
"""

from __future__ import annotations

from decimal import Decimal

from babel import Locale
from babel.numbers import format_currency

DEFAULT_LOCALE = "en_IN"
DEFAULT_CURRENCY = "INR"


def format_money(
    amount: Decimal | int | str,
    currency: str | None = None,
    locale: str | None = None,
    *,
    drop_zero_paise: bool = False,
) -> str:
    """``amount`` in ``currency`` as ``locale`` writes it (``₹426.25``).

    ``drop_zero_paise`` writes whole amounts without the minor unit (``₹25,000``), as the
    bot's chat messages do; pages, reports and exports keep it, so columns line up.
    """
    value = Decimal(amount)
    code = currency or DEFAULT_CURRENCY
    where = locale or DEFAULT_LOCALE
    if not drop_zero_paise or value != value.to_integral_value():
        return format_currency(value, code, locale=where)
    pattern = Locale.parse(where).currency_formats["standard"].pattern.split(";")[0]
    return format_currency(value, code, locale=where, format=pattern.replace(".00", ""), currency_digits=False)
