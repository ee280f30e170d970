"""Builders for the replies the bot sends, each checked against WhatsApp's limits.

Every ``Reply`` the conversation builds goes through one of these functions, so
a message WhatsApp would reject (a fourth button, a 25-character row title)
is caught here, in tests, instead of as a 400 from the Graph API in production.
Dynamic parts (reward names) are shortened with :func:`fit` before checking.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import (
    MAX_BUTTON_TITLE,
    MAX_BUTTONS,
    MAX_LIST_BUTTON,
    MAX_LIST_ROWS,
    MAX_ROW_DESCRIPTION,
    MAX_ROW_TITLE,
    MAX_SECTION_TITLE,
    MAX_TEXT,
    Button,
    Reply,
    Row,
    Section,
)

# The body of an interactive (buttons or list) message is shorter than a text message's.
MAX_INTERACTIVE_BODY = 1024
MAX_ID = 200


class LimitExceeded(ValueError):
    """A reply that WhatsApp would refuse; always a bug in the bot, never the customer's fault."""


def fit(text: str, limit: int) -> str:
    """Shorten ``text`` to ``limit`` characters, marking the cut with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def text(body: str) -> Reply:
    return validate(Reply(kind="text", body=body, preview_url="https://" in body))


def buttons(body: str, choices: Sequence[tuple[str, str]], *, footer: str | None = None) -> Reply:
    """Reply buttons: ``choices`` are ``(id, title)`` pairs."""
    row = tuple(Button(id=cid, title=title) for cid, title in choices)
    return validate(Reply(kind="buttons", body=body, buttons=row, footer=footer))


def listing(
    body: str,
    button: str,
    rows: Sequence[tuple[str, str, str | None]],
    *,
    section: str | None = None,
    footer: str | None = None,
) -> Reply:
    """A list message with one section: ``rows`` are ``(id, title, description)``."""
    built = tuple(Row(id=rid, title=title, description=desc) for rid, title, desc in rows)
    sections = (Section(title=section or button, rows=built),)
    return validate(Reply(kind="list", body=body, sections=sections, list_button=button, footer=footer))


def validate(reply: Reply) -> Reply:
    """Return ``reply`` unchanged, or raise :class:`LimitExceeded` naming the broken limit."""
    problems = list(_problems(reply))
    if problems:
        raise LimitExceeded("; ".join(problems))
    return reply


def _problems(reply: Reply) -> list[str]:
    found: list[str] = []
    if reply.kind not in ("text", "buttons", "list"):
        return [f"unknown reply kind {reply.kind!r}"]
    if not reply.body.strip():
        found.append("empty body")
    body_limit = MAX_TEXT if reply.kind == "text" else MAX_INTERACTIVE_BODY
    if len(reply.body) > body_limit:
        found.append(f"body has {len(reply.body)} characters, limit {body_limit}")
    if reply.kind == "buttons":
        found += _button_problems(reply.buttons)
    if reply.kind == "list":
        found += _list_problems(reply)
    if reply.kind == "text" and (reply.buttons or reply.sections):
        found.append("a text reply cannot carry buttons or rows")
    return found


def _button_problems(row: tuple[Button, ...]) -> list[str]:
    found = []
    if not 1 <= len(row) <= MAX_BUTTONS:
        found.append(f"{len(row)} buttons, allowed 1 to {MAX_BUTTONS}")
    for b in row:
        found += _title_problems("button title", b.title, MAX_BUTTON_TITLE)
        found += _id_problems(b.id)
    if len({b.id for b in row}) != len(row):
        found.append("button ids must be unique")
    return found


def _list_problems(reply: Reply) -> list[str]:
    rows = [r for s in reply.sections for r in s.rows]
    found = []
    if not 1 <= len(rows) <= MAX_LIST_ROWS:
        found.append(f"{len(rows)} list rows, allowed 1 to {MAX_LIST_ROWS}")
    found += _title_problems("list button", reply.list_button or "", MAX_LIST_BUTTON)
    for s in reply.sections:
        found += _title_problems("section title", s.title, MAX_SECTION_TITLE)
    for r in rows:
        found += _title_problems("row title", r.title, MAX_ROW_TITLE)
        found += _id_problems(r.id)
        if r.description is not None and len(r.description) > MAX_ROW_DESCRIPTION:
            found.append(f"row description {r.description!r} is longer than {MAX_ROW_DESCRIPTION}")
    if len({r.id for r in rows}) != len(rows):
        found.append("row ids must be unique")
    return found


def _title_problems(what: str, title: str, limit: int) -> list[str]:
    if not title.strip():
        return [f"empty {what}"]
    if len(title) > limit:
        return [f"{what} {title!r} has {len(title)} characters, limit {limit}"]
    return []


def _id_problems(ident: str) -> list[str]:
    return [] if 0 < len(ident) <= MAX_ID else [f"option id {ident!r} must have 1 to {MAX_ID} characters"]


def options(reply: Reply) -> list[tuple[str, str]]:
    """The choices a reply offers, in display order: ``(id, title)``."""
    if reply.kind == "buttons":
        return [(b.id, b.title) for b in reply.buttons]
    if reply.kind == "list":
        return [(r.id, r.title) for s in reply.sections for r in s.rows]
    return []
