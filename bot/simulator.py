"""``flask --app wsgi chat PHONE``: talk to the real conversation engine from a terminal or a pipe.

Each line on standard input is one text message from PHONE, handled in its own
unit of work exactly as a webhook message would be (minus the transport).
Buttons and list rows are printed as numbered choices; typing the number picks
one. Without a terminal (piped input) there is no prompt, and the command exits
0 at the end of the input.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import TextIO

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError

from bot import engine
from bot.messages import Incoming, Reply
from domain.errors import InvalidPhone
from domain.phones import normalize_phone
from runtime import services

PROMPT = "you> "


@click.command("chat")
@click.argument("phone")
@with_appcontext
def chat_command(phone: str) -> None:
    """Talk to the bot as PHONE: one message per line, numbers pick the offered choices."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        e164 = normalize_phone(phone, int(str(app.config.get("DEFAULT_COUNTRY_CODE") or "91").lstrip("+")))
    except InvalidPhone as exc:
        raise click.ClickException(exc.reason) from None
    stdin = sys.stdin
    interactive = stdin.isatty()
    if interactive:
        click.echo(f"Chatting as {e164}. Type a message, a number to pick a choice, Ctrl-D to quit.")
    for line in _lines(stdin, interactive):
        try:
            with services.database(app).unit_of_work() as session:
                incoming = Incoming(message_id=f"sim-{uuid.uuid4().hex}", phone=e164, kind="text", text=line)
                replies = engine.handle(session, incoming, services.now(app), app.config)
        except OperationalError as exc:
            raise click.ClickException(f"database unavailable or not migrated: {exc.orig}") from None
        for reply in replies:
            click.echo(render(reply))
        if not replies:
            click.echo("(no reply: the conversation is with staff)")


def _lines(stdin: TextIO, interactive: bool) -> Iterator[str]:
    while True:
        if interactive:
            click.echo(PROMPT, nl=False)
        line = stdin.readline()
        if not line:
            if interactive:
                click.echo()
            return
        if line.strip():
            yield line.strip()


def render(reply: Reply) -> str:
    """A reply as the terminal shows it: header, body, footer, then numbered choices."""
    lines = [f"bot> {line}" for line in _parts(reply)]
    choices = [b.title for b in reply.buttons]
    for section in reply.sections:
        choices += [f"{r.title} — {r.description}" if r.description else r.title for r in section.rows]
    lines += [f"  {n}. {title}" for n, title in enumerate(choices, start=1)]
    return "\n".join(lines)


def _parts(reply: Reply) -> list[str]:
    text = "\n".join(part for part in (reply.header, reply.body, reply.footer) if part)
    return text.splitlines() or [""]
