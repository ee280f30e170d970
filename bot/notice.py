"""The privacy notice as members see it: the published version, else the text shipped in the catalogs.

The shipped text is itemised in ``ITEMS`` (each title and body a catalog message), so a language
is added by adding a catalog; its version is ``default-`` and a digest of every language's text,
so a changed shipped text is a different version. Admins publish their own versions in the
console (``domain.notices``); the consent step records whichever version it linked to.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.texts import LANGUAGES, N_, language_or_default, texts_for
from domain import notices
from domain.rules import Setting
from runtime import services

ITEMS: tuple[tuple[str, str], ...] = (
    (
        N_("Who we are"),
        N_(
            "This loyalty club belongs to the shop where you joined it. It talks to you on WhatsApp, "
            "and this notice says what it does with your personal data."
        ),
    ),
    (
        N_("The data we hold"),
        N_(
            "- your WhatsApp number and the name on your WhatsApp profile\n"
            "- your language and, if you tell us, your birthday\n"
            "- your purchases at the shop (bills, amounts, returns) and the points they earned\n"
            "- your rewards, vouchers, referrals and any affiliate commission\n"
            "- the messages you send us and the messages we send you"
        ),
    ),
    (
        N_("What we use it for"),
        N_(
            "- service messages about your points, vouchers and their expiry, if you agree to them\n"
            "- offers and promotions, only if you agree to them separately\n"
            "- running the club: the shop's billing system sends us your purchases so that you earn points; "
            "this is needed for the club you joined and does not depend on consent"
        ),
    ),
    (
        N_("Who we share it with"),
        N_(
            "- the shop's billing system (ERP), for your purchases\n"
            "- Meta Platforms (WhatsApp), which delivers our messages\n"
            "We do not sell your data."
        ),
    ),
    (
        N_("How long we keep it"),
        N_(
            "Message texts are deleted after a few months; the delivery records stay without them. "
            "Your account stays until you ask us to delete it, or until it has been unused for the years "
            "the shop has set, after a warning on WhatsApp."
        ),
    ),
    (
        N_("How to withdraw your consent"),
        N_(
            "Send STOP in this chat to end all our messages, or use Stop promotions in WhatsApp to end offers. "
            "Withdrawing is as easy as agreeing, and it does not undo what happened before."
        ),
    ),
    (
        N_("Your rights"),
        N_(
            "- send MY DATA for a summary of your data and a full copy\n"
            "- send CORRECT MY NAME to fix your name, or LANGUAGE to change the language\n"
            "- send DELETE MY DATA to have your data erased (your points and open vouchers are lost)\n"
            "Every request gets a reference number and an answer within 30 days."
        ),
    ),
    (
        N_("Children"),
        N_("If you are under 18, we send you offers only after one of your parents has agreed."),
    ),
    (
        N_("Complaints"),
        N_(
            "Write to us in this chat first (send HELP to talk to a person). If our answer does not satisfy you, "
            "you can complain to the Data Protection Board of India."
        ),
    ),
)

PUBLIC_URL_KEY = "public_base_url"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shown:
    """The notice in one language: its version label, text and items."""

    label: str
    language: str
    body: str
    items: list[notices.Item]
    published_at: dt.datetime | None


def default_text(language: str) -> str:
    t = texts_for(language, {})
    return "\n\n".join(f"## {t._(title)}\n{t._(body)}" for title, body in ITEMS)


@functools.cache
def default_label() -> str:
    digest = hashlib.sha256("\n".join(default_text(lang) for lang in LANGUAGES).encode()).hexdigest()
    return f"default-{digest[:8]}"


def current(session: Session, language: str | None) -> Shown:
    lang = language_or_default(language)
    row = notices.current(session, lang)
    if row is None:
        body = default_text(lang)
        return Shown(default_label(), lang, body, notices.parse(body), None)
    return Shown(notices.label(row.version), lang, row.body, notices.parse(row.body), row.published_at)


def base_url(session: Session, config: Mapping[str, Any]) -> str:
    """``PUBLIC_BASE_URL``, else the address the webhook was last reached at (see ``remember_base_url``)."""
    configured = str(config.get("PUBLIC_BASE_URL") or "").strip()
    if configured:
        return configured.rstrip("/")
    seen = session.get(Setting, PUBLIC_URL_KEY)
    return str((seen.value or {}).get("url") if seen else "http://127.0.0.1:5000").rstrip("/")


def remember_host(app: Flask, host_url: str) -> None:
    """Keep the address Meta posts the webhook to, for links in chat when PUBLIC_BASE_URL is unset.

    Stored in the database (the handler process that writes the replies is another process), and
    written only when this worker sees a new address: one write per worker, not per webhook.
    """
    if app.config.get("PUBLIC_BASE_URL") or app.extensions.get("bot.public_url") == host_url:
        return
    try:
        with services.database(app).unit_of_work() as session:
            row = session.get(Setting, PUBLIC_URL_KEY)
            if row is None:
                session.add(Setting(key=PUBLIC_URL_KEY, value={"url": host_url}, updated_by="webhook"))
            elif (row.value or {}).get("url") != host_url:
                row.value = {"url": host_url}
    except SQLAlchemyError:
        # Another worker wrote it first, or the database is down (then storing the update fails too,
        # and answers 500 so that Meta redelivers): the links can wait for the next webhook.
        log.info("could not remember the public address yet", exc_info=True)
        return
    app.extensions["bot.public_url"] = host_url


def url(session: Session, config: Mapping[str, Any], language: str) -> str:
    return f"{base_url(session, config)}/privacy?{urlencode({'lang': language})}"
