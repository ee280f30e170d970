"""Configuration from the environment. Production refuses to boot without real secrets.

Every refusal is a :class:`ConfigError` whose message is one line naming the problem:
the entry points print it and stop (``wsgi.py``), so a bad setting never becomes a
traceback or a silently different mode.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any

from domain.db import BadDatabaseUrl, database_url

DEV_SECRET = "dev-only-secret-key-not-for-production"
DEV_VERIFY_TOKEN = "dev-verify-token"

DEFAULTS: dict[str, Any] = {
    "APP_ENV": "development",  # one of APP_ENVS, exactly
    "DATABASE_URL": "sqlite:///instance/loyalty.db",
    "SECRET_KEY": DEV_SECRET,
    "WHATSAPP_PHONE_ID": None,
    "WHATSAPP_TOKEN": None,
    "WHATSAPP_VERIFY_TOKEN": DEV_VERIFY_TOKEN,
    "WHATSAPP_APP_SECRET": None,
    "WHATSAPP_API_URL": "https://graph.facebook.com",
    "WHATSAPP_API_VERSION": "22.0",
    "WHATSAPP_DISPLAY_NUMBER": None,  # the business number customers see, for wa.me referral links
    "DEFAULT_COUNTRY_CODE": "91",
    "DEFAULT_LOCALE": "en_IN",
    "CURRENCY": "INR",
    "ERP_ODBC": None,
    "ERP_DRIVER": None,
    "ERP_HOST": None,
    "ERP_PORT": None,
    "ERP_DATABASE": None,
    "ERP_USERNAME": None,
    "ERP_PASSWORD": None,
    "ERP_MAPPING_FILE": "erp/mapping.toml",
    "ERP_SYNC_INTERVAL_MINUTES": "15",
    "SESSION_HOURS": "12",
    "TRUSTED_PROXIES": "",  # comma-separated addresses or CIDR ranges whose X-Forwarded-For/-Proto are believed
    "BOT_IDLE_MINUTES": "30",
    "BOT_HANDLERS": None,  # "process" (served app) or "threads" (TESTING): see bot.handling
    "BOT_HANDLER_THREADS": None,  # handler threads per process (default 4)
    "BOT_SENDER_THREADS": None,  # Graph API sends in flight at once, per process (default 16)
    "BOT_REPLY_STALE_MINUTES": "5",  # an unsent chat reply older than this is expired, not sent (bot.retry)
    "BOT_HANDLER_NICE": None,  # how much lower the handlers' CPU priority is than the webhook's (default 10)
    # The address customers reach this app at (links in chat: the privacy notice, "my data" exports);
    # unset, the host the last webhook was posted to.
    "PUBLIC_BASE_URL": None,
    # The key of the erased-phone suppression list's hashes; unset, SECRET_KEY (set it before rotating that).
    "PRIVACY_HASH_KEY": None,
    # The largest webhook body read (bytes); Meta's updates are a few KB. Larger ones are answered 413 unread.
    "WEBHOOK_MAX_BYTES": str(3 * 1024 * 1024),
    # The integration API (/api/v1).
    "HOLD_MINUTES": "15",  # how long a points payment at a till holds the points before they go back
    "API_RATE_LIMIT": None,  # per key or person, unless the key has its own rate (default 600/minute)
    "RATELIMIT_STORAGE_URI": "memory://",  # where the rate limits count: redis://... to share them across hosts
    "API_ACCESS_TOKEN_MINUTES": None,  # a staff access token's life (default 15)
    "API_REFRESH_TOKEN_DAYS": None,  # a staff refresh token's life (default 14)
    # Campaigns (defaults; what an admin saves in the console wins, see domain.campaign_settings).
    "CAMPAIGN_RATE_PER_SECOND": "20",  # messages per second for the number, 1 to 80, across every host
    "MESSAGING_LIMIT_24H": "1000",  # the number's messaging tier: members reached per 24 hours
    "MARKETING_CAP_PER_WEEK": "2",  # marketing messages accepted per member per 7 days
    "QUIET_HOURS": "21-9",  # no marketing from 21:00 to 09:00 Asia/Kolkata; "none" turns it off
    "PRICE_MARKETING_INR": "0.86",  # rupees per marketing template message (pre-flight cost)
    "PRICE_UTILITY_INR": "0.12",  # rupees per utility template message
    "REDIS_URL": None,  # the shared send pace; unset, RATELIMIT_STORAGE_URI when it is redis://, else the database
}
MAX_HOLD_MINUTES = 24 * 60

REQUIRED_IN_PRODUCTION = (
    "SECRET_KEY",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
    "WHATSAPP_TOKEN",
    "WHATSAPP_PHONE_ID",
    "DATABASE_URL",
)
_DEV_VALUES = {DEV_SECRET, DEV_VERIFY_TOKEN}
APP_ENVS = ("development", "production")
ProxyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(RuntimeError):
    pass


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    return {key: env.get(key, default) for key, default in DEFAULTS.items()}


def check(config: Mapping[str, Any]) -> None:
    """Everything the factory refuses to start with, the first problem found as one line."""
    check_app_env(config)
    check_production(config)
    check_database_url(config)
    trusted_proxies(config)
    check_hold_minutes(config)


def check_app_env(config: Mapping[str, Any]) -> None:
    """``Production`` or ``prod`` must not quietly run as development (unsigned webhooks accepted)."""
    value = config.get("APP_ENV")
    if value not in APP_ENVS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(APP_ENVS)} (exactly, lower case), not {value!r}")


def check_production(config: Mapping[str, Any]) -> None:
    """Name every secret that is missing, blank or still a development default."""
    if config.get("APP_ENV") != "production":
        return
    unset = {"", DEFAULTS["DATABASE_URL"], *_DEV_VALUES}
    missing = [key for key in REQUIRED_IN_PRODUCTION if _text(config.get(key)) in unset]
    if "SECRET_KEY" not in missing and len(_text(config.get("SECRET_KEY"))) < 32:
        missing.append("SECRET_KEY (at least 32 characters)")
    if missing:
        raise ConfigError("APP_ENV=production refuses to start; set these environment variables: " + ", ".join(missing))


def _text(value: Any) -> str:
    """A setting as text without surrounding whitespace: ten spaces are no secret."""
    return "" if value is None else str(value).strip()


def check_database_url(config: Mapping[str, Any]) -> None:
    try:
        database_url(str(config.get("DATABASE_URL") or ""))
    except BadDatabaseUrl as exc:
        raise ConfigError(f"DATABASE_URL: {exc}") from None


def check_hold_minutes(config: Mapping[str, Any]) -> None:
    """A till must not wait on a typo: ``HOLD_MINUTES`` is a whole number of minutes, at most a day."""
    raw = _text(config.get("HOLD_MINUTES"))
    if raw and not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_HOLD_MINUTES):
        raise ConfigError(f"HOLD_MINUTES must be a whole number of minutes from 1 to {MAX_HOLD_MINUTES}, not {raw!r}")


def trusted_proxies(config: Mapping[str, Any]) -> list[ProxyNetwork]:
    """``TRUSTED_PROXIES`` as networks (a bare address is a network of one)."""
    networks = []
    for part in str(config.get("TRUSTED_PROXIES") or "").split(","):
        if not part.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"TRUSTED_PROXIES: {part.strip()!r} is not an address or CIDR range") from None
    return networks


def country_code(config: Mapping[str, Any]) -> int:
    return int(str(config.get("DEFAULT_COUNTRY_CODE") or "91").lstrip("+"))


def privacy_key(config: Mapping[str, Any]) -> str:
    """The suppression list's HMAC key: ``PRIVACY_HASH_KEY``, else ``SECRET_KEY``."""
    return str(config.get("PRIVACY_HASH_KEY") or config.get("SECRET_KEY") or DEV_SECRET)
