"""Placeholder: the chat simulator is being built (issue 3)."""

from __future__ import annotations

import click


@click.command("chat")
@click.argument("phone")
def chat_command(phone: str) -> None:
    """Talk to the bot as PHONE."""
    raise click.ClickException("the simulator is not built yet")
