"""``flask --app wsgi apikeys create|list|revoke``: the operator's side of API keys.

``create`` prints what it made and then the key itself, alone, on the last line of standard output
(so ``... | tail -n 1`` captures it); the key is never shown again, only its hash is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask.cli import AppGroup
from sqlalchemy.exc import OperationalError, ProgrammingError

from domain import api_keys
from domain.errors import DomainError
from runtime import services

apikeys_group = AppGroup("apikeys", help="API keys of the integration API (/api/v1).")


@contextmanager
def one_line_errors() -> Iterator[None]:
    """An expected failure ends the command with one line and exit 1, never a traceback."""
    try:
        yield
    except DomainError as exc:
        raise click.ClickException(exc.reason) from None
    except (OperationalError, ProgrammingError) as exc:
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        raise click.ClickException(f"database unavailable or not migrated: {reason}") from None


@apikeys_group.command("create")
@click.argument("name")
@click.option("--scopes", required=True, help=f"Comma-separated, from: {', '.join(api_keys.SCOPES)}.")
@click.option("--rate", default=None, help="Its own rate limit, e.g. 100/minute (default API_RATE_LIMIT).")
@click.option("--actor", default="cli", show_default=True, help="Who is making it (for the audit log).")
def create(name: str, scopes: str, rate: str | None, actor: str) -> None:
    """Make a key named NAME; the key is printed once, on the last line."""
    with one_line_errors(), services.database().unit_of_work() as session:
        key, secret = api_keys.create_key(session, name, scopes, actor=actor, now=services.now(), rate=rate)
        summary = f"created API key {key.name} ({key.prefix}...) with scopes {key.scopes.replace(' ', ',')}"
        summary += f", rate {key.rate_limit}" if key.rate_limit else ""
    click.echo(summary)
    click.echo("store it now: it is shown only once")
    click.echo(secret)


@apikeys_group.command("list")
def list_keys() -> None:
    """Every key: name, prefix, scopes, rate, last use, and whether it is revoked."""
    with one_line_errors(), services.database().unit_of_work() as session:
        rows = [
            (
                k.name,
                k.prefix,
                k.scopes.replace(" ", ","),
                k.rate_limit or "default",
                k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never",
                f"revoked {k.revoked_at.isoformat(timespec='seconds')}" if k.revoked_at else "active",
            )
            for k in api_keys.list_keys(session)
        ]
    if not rows:
        click.echo("no API keys")
        return
    for row in rows:
        click.echo("\t".join(row))


@apikeys_group.command("revoke")
@click.argument("name")
@click.option("--actor", default="cli", show_default=True, help="Who is revoking it (for the audit log).")
def revoke(name: str, actor: str) -> None:
    """Revoke the active key named NAME: refused from the next request on."""
    with one_line_errors(), services.database().unit_of_work() as session:
        key = api_keys.revoke(session, name, actor=actor, now=services.now())
        label = f"{key.name} ({key.prefix}...)"
    click.echo(f"revoked API key {label}")
