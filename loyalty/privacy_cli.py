"""``flask --app wsgi members export|erase|consent``: the privacy commands of CONTRACT.md.

None of them repeats the phone number it was given in a message: it may be an erased person's,
and erased numbers appear nowhere, not even in an operator's terminal log.
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup

from domain import audit, consents, customers, data_export, data_requests, erasure, privacy_settings, suppression
from domain.customers import Customer
from domain.errors import NotFound
from domain.phones import normalize_phone
from loyalty.cli import _config, one_line_errors
from runtime import services
from runtime.config import country_code, privacy_key

members_group = AppGroup("members", help="Members' data: export, erasure, consent given outside the chat.")


def init_app(app: Any) -> None:
    app.cli.add_command(members_group)


def _member(session: Any, phone: str) -> Customer:
    return customers.get_by_phone(session, phone, country_code(_config()))


@members_group.command("export")
@click.argument("phone")
@click.option("--actor", default="cli", show_default=True, help="Who is asking (for the request and the audit log).")
@one_line_errors
def members_export(phone: str, actor: str) -> None:
    """Everything held about the member with PHONE, as one JSON document on standard output."""
    now = services.now()
    with services.database().unit_of_work() as session:
        customer = _member(session, phone)
        document = data_export.export(session, customer, now)
        request = data_requests.answered(
            session,
            customer,
            "export",
            channel="cli",
            now=now,
            settings=privacy_settings.load(session),
            outcome="exported with the CLI",
            handled_by=actor,
        )
        audit.record(
            session,
            actor=actor,
            action="customer.export",
            entity_type="customer",
            entity_id=customer.id,
            now=now,
            details={"request": request.reference},
        )
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@members_group.command("erase")
@click.argument("phone")
@click.option("--yes", "confirmed", is_flag=True, help="Confirm: the member's data is erased for good.")
@click.option("--actor", default="cli", show_default=True, help="Who is erasing (for the request and the audit log).")
@one_line_errors
def members_erase(phone: str, confirmed: bool, actor: str) -> None:
    """Erase (anonymise in place) the member with PHONE now, as a handled request."""
    if not confirmed:
        raise click.ClickException("erasure cannot be undone: add --yes to confirm")
    now, key = services.now(), privacy_key(_config())
    with services.database().unit_of_work() as session:
        customer = customers.find_by_phone(session, phone, country_code(_config()))
        if customer is None:
            e164 = normalize_phone(phone, country_code(_config()))
            if suppression.is_suppressed(session, key, phone=e164):
                click.echo("that member was erased already; nothing left to erase")
                return
            raise NotFound("unknown customer: no customer has that phone number")
        request, outcome = erasure.erase_now(
            session,
            customer,
            channel="cli",
            now=now,
            actor=actor,
            hash_key=key,
            settings=privacy_settings.load(session),
        )
    click.echo(f"{outcome.summary()} (request {request.reference})")


@members_group.command("consent")
@click.argument("phone")
@click.option("--marketing", type=click.Choice(["yes", "no"]), required=True, help="Consent to offers, or withdrawal.")
@click.option("--parent", is_flag=True, help="A parent's consent for a member under 18, checked by the operator.")
@click.option("--actor", default="cli", show_default=True, help="Who recorded it (kept in the consent ledger).")
@one_line_errors
def members_consent(phone: str, marketing: str, parent: bool, actor: str) -> None:
    """Record marketing consent given (or withdrawn) outside the chat: at the till, on paper."""
    now, granted = services.now(), marketing == "yes"
    with services.database().unit_of_work() as session:
        customer = _member(session, phone)
        if parent:
            consents.record(session, customer, consents.GUARDIAN, granted, channel="cli", now=now, actor=actor)
        changed = consents.record(session, customer, consents.MARKETING, granted, channel="cli", now=now, actor=actor)
    state = "given" if granted else "withdrawn"
    click.echo(f"marketing consent {state} for member {customer.id}" + ("" if changed else " (no change)"))
