"""Operator commands (``flask --app wsgi ...``) from CONTRACT.md.

Expected failures end with one line and exit 1 (``click.ClickException``); a
command never shows a traceback for a domain error.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import OperationalError, ProgrammingError

from domain import audit, consents, customers, holds, ledger, rewards, totals
from domain.errors import DomainError
from domain.rules import load_rules
from domain.timeutil import add_months
from domain.users import create_user
from runtime import services
from runtime.config import country_code

F = TypeVar("F", bound=Callable[..., Any])

db_group = AppGroup("db", help="Database migrations.")
demo_group = AppGroup("demo", help="Demo data for trying the product.")
users_group = AppGroup("users", help="Staff accounts.")
points_group = AppGroup("points", help="Manual points adjustments and look-ups.")
rewards_group = AppGroup("rewards", help="The reward catalog.")
loyalty_group = AppGroup("loyalty", help="Ledger checks and the program's totals.")


def init_app(app: Flask) -> None:
    for group in (db_group, demo_group, users_group, points_group, rewards_group, loyalty_group):
        app.cli.add_command(group)
    app.cli.add_command(scheduler_command)


def one_line_errors(func: F) -> F:
    """Turn expected failures into one line and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(exc.reason) from None
        except (OperationalError, ProgrammingError) as exc:
            # PostgreSQL says "relation does not exist" (ProgrammingError), SQLite "no such table".
            reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
            raise click.ClickException(f"database unavailable or not migrated: {reason}") from None

    return wrapper  # type: ignore[return-value]


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations to DATABASE_URL."""
    from loyalty.migrate import upgrade

    url = services.database().url
    try:
        upgrade(url, revision)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        raise click.ClickException(f"cannot migrate {services.database().engine.url!r}: {reason}") from None
    click.echo("database is at the latest revision")


@demo_group.command("seed")
@click.option("--if-empty", is_flag=True, help="Do nothing when customers already exist.")
@one_line_errors
def demo_seed(if_empty: bool) -> None:
    """Demo customers, rewards, an affiliate and orders."""
    from loyalty.demo import seed

    with services.database().unit_of_work() as session:
        summary = seed(session, services.now(), country_code(_config()), if_empty=if_empty)
    click.echo(summary)


@users_group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "manager", "support"]), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default=None)
@one_line_errors
def users_create(email: str, role: str, password: str, name: str | None) -> None:
    """Create a staff account."""
    now = services.now()
    with services.database().unit_of_work() as session:
        user = create_user(session, email, role, password, name)
        audit.record(
            session,
            actor="cli",
            action="user.create",
            entity_type="staff_user",
            entity_id=user.id,
            now=now,
            details={"email": user.email, "role": role},
        )
    click.echo(f"created {role} {user.email}")


# ignore_unknown_options lets a negative POINTS (``-50``) through as an argument.
@points_group.command("award", context_settings={"ignore_unknown_options": True})
@click.argument("phone")
@click.argument("points", type=int)
@click.option("--reason", required=True, help="Why: kept in the ledger and the audit log.")
@click.option("--actor", default="cli", show_default=True, help="Who is making the change (for the audit log).")
@one_line_errors
def points_award(phone: str, points: int, reason: str, actor: str) -> None:
    """Add (or with a negative number, remove) points for the customer with PHONE."""
    now = services.now()
    with services.database().unit_of_work() as session:
        customer = customers.get_by_phone(session, phone, country_code(_config()))
        rules = load_rules(session)
        ledger.adjust(
            session,
            customer.id,
            points,
            reason=reason,
            actor=actor,
            key=f"cli:adjust:{uuid.uuid4().hex}",
            now=now,
            expires_at=add_months(now, rules.expiry_months),
        )
        balance = customer.points_balance
    click.echo(f"{points:+d} points for {customer.phone}; balance {balance}")


@points_group.command("balance")
@click.argument("phone")
@one_line_errors
def points_balance(phone: str) -> None:
    """Show the balance, tier and points owed of the customer with PHONE."""
    with services.database().unit_of_work() as session:
        customer = customers.get_by_phone(session, phone, country_code(_config()))
        line = f"{customer.phone}: {customer.points_balance} points, tier {customer.tier}"
        if customer.points_owed:
            line += f", {customer.points_owed} points owed from returns"
    click.echo(line)


@rewards_group.command("add")
@click.argument("name")
@click.option("--cost", type=int, required=True, help="Points cost.")
@click.option("--stock", type=int, default=None, help="Units available (unlimited when omitted).")
@click.option("--limit", "per_customer_limit", type=int, default=None, help="Redemptions per customer.")
@click.option("--description", default=None)
@one_line_errors
def rewards_add(
    name: str, cost: int, stock: int | None, per_customer_limit: int | None, description: str | None
) -> None:
    """Add a catalog entry."""
    now = services.now()
    with services.database().unit_of_work() as session:
        reward = rewards.add_reward(
            session,
            name=name,
            points_cost=cost,
            stock=stock,
            per_customer_limit=per_customer_limit,
            description=description,
        )
        audit.record(
            session,
            actor="cli",
            action="reward.create",
            entity_type="reward",
            entity_id=reward.id,
            now=now,
            details={"name": reward.name, "cost": cost, "stock": stock},
        )
    click.echo(
        f"reward {reward.id}: {reward.name} for {cost} points" + (f", stock {stock}" if stock is not None else "")
    )


@loyalty_group.command("verify")
@one_line_errors
def loyalty_verify() -> None:
    """Recompute every balance from the ledger; exit 1 on drift."""
    started = dt.datetime.now(dt.UTC)
    with services.database().unit_of_work() as session:
        drifts = ledger.verify(session)
        mismatched = consents.mismatches(session)
        minors = consents.minors_marketed(session, services.now().date())
        held = holds.verify(session)
    took = (dt.datetime.now(dt.UTC) - started).total_seconds()
    if not drifts and not held and not mismatched and not minors:
        click.echo(f"ledger ok: every balance matches its entries; consent flags match the ledger ({took:.2f}s)")
        return
    for h in held[:50]:
        click.echo(f"customer {h.customer_id}: held cached {h.cached_held}, open holds {h.open_holds}", err=True)
    if held:
        click.echo(f"drift in {len(held)} customer held point(s)", err=True)
    if mismatched:
        shown = ", ".join(str(i) for i in mismatched[:20])
        click.echo(f"consent flags disagree with the consent ledger for {len(mismatched)} member(s): {shown}", err=True)
    if minors:
        shown = ", ".join(str(i) for i in minors[:20])
        click.echo(
            f"{len(minors)} member(s) under 18 marked for marketing without a parent's consent: {shown}", err=True
        )
    if not drifts:
        sys.exit(1)
    for d in drifts[:50]:
        click.echo(
            f"customer {d.customer_id}: cached {d.cached_balance}, ledger {d.ledger_balance}, "
            f"lots {d.lots_remaining}, owed cached {d.cached_owed} ledger {d.ledger_owed}"
            + (f", {d.bad_lots} impossible lot(s)" if d.bad_lots else ""),
            err=True,
        )
    click.echo(f"drift in {len(drifts)} customer balance(s)", err=True)
    sys.exit(1)


@loyalty_group.command("totals")
@one_line_errors
def loyalty_totals() -> None:
    """The program's totals as one JSON object (the dashboard shows the same figures)."""
    with services.database().unit_of_work() as session:
        figures = totals.program_totals(session)
    click.echo(json.dumps(figures.to_json()))


@click.command("scheduler")
def scheduler_command() -> None:
    """Run scheduled jobs (ERP sync, outbox retries, expiry, tier review) until stopped."""
    from flask import current_app

    from loyalty.scheduler import run

    run(current_app._get_current_object())  # type: ignore[attr-defined]


def _config() -> Any:
    from flask import current_app

    return current_app.config
