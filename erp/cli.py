"""``flask --app wsgi erp check`` and ``erp sync``: one-line errors, exit 1 on failure."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import AppGroup

from erp import check as erp_check
from erp import sync
from erp.mapping import SYNCED, MappingError, describe
from erp.quarantine import open_count, open_rows
from erp.reader import ErpError
from runtime import services

erp_group = AppGroup("erp", help="The ERP connection and sync.")
QUARANTINE_SHOWN = 20


@contextmanager
def one_line() -> Iterator[None]:
    """Expected ERP and mapping failures end with one line and exit 1."""
    try:
        yield
    except (ErpError, MappingError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@erp_group.command("check")
def check_command() -> None:
    """Connect to the ERP and validate the mapping against its tables."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with one_line():
        mapping = sync.mapping_for(app)
        reader = sync.reader_factory(app)()
        try:
            reports = erp_check.inspect(reader, mapping)
        finally:
            reader.close()
    click.echo(f"mapping {mapping.path}: time zone {mapping.timezone}, batches of {mapping.batch_size}")
    for report in reports:
        state = "ok" if report.ok else ("MISSING TABLE" if not report.found else "missing " + ", ".join(report.missing))
        click.echo(f"  {report.entity:<12} {report.table:<24} {state}")
    for row in describe(mapping):
        transform = f" [{row['transform']}]" if row["transform"] else ""
        required = " required" if row["required"] else ""
        click.echo(f"    {row['entity']}.{row['field']} <- {row['table']}.{row['column']}{transform}{required}")
    missing = erp_check.problems(reports)
    if missing:
        raise click.ClickException("mapping column missing: " + "; ".join(missing))
    click.echo("ERP reachable; every mapped table and column exists")


@erp_group.command("sync")
@click.option("--full", is_flag=True, help="Read everything again, not only what changed (creates nothing twice).")
@click.option("--entity", "entities", multiple=True, type=click.Choice(SYNCED), help="Only these entities.")
def sync_command(full: bool, entities: tuple[str, ...]) -> None:
    """One sync run with a progress bar and a summary."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with one_line():
        if _on_terminal():
            total = sum(sync.pending_counts(app, entities or None, full).values())
            with click.progressbar(length=max(total, 1), label="ERP sync") as bar:
                summary = sync.run(app, full=full, entities=entities or None, trigger="cli", progress=_bar(bar))
        else:
            summary = sync.run(app, full=full, entities=entities or None, trigger="cli")
    _print_summary(summary)
    if summary.status == "skipped":
        raise click.ClickException("another ERP sync is running; try again later")
    if summary.status != "ok":
        raise click.ClickException(summary.error or "ERP sync failed")


def _on_terminal() -> bool:
    return sys.stdout.isatty()


def _bar(bar: object) -> sync.Progress:
    def advance(_entity: str, rows: int) -> None:
        bar.update(rows)  # type: ignore[attr-defined]

    return advance


def _print_summary(summary: sync.SyncSummary) -> None:
    click.echo(
        f"read {summary.read}, created {summary.created}, updated {summary.updated}, "
        f"unchanged {summary.unchanged}, quarantined {summary.quarantined}"
        + (f", suppressed {summary.suppressed}" if summary.suppressed else "")
        + f" in {summary.duration_seconds:.1f} s"
    )
    for entity, counts in summary.by_entity.items():
        click.echo(f"  {entity}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v or k != "suppressed"))
    with services.database().unit_of_work() as session:
        rows, total = open_rows(session, limit=QUARANTINE_SHOWN), open_count(session)
    if not total:
        return
    click.echo(f"{total} row(s) in quarantine:")
    for row in rows:
        click.echo(f"  {row.entity} {row.source_key}: {row.reason}")
    if total > len(rows):
        click.echo(f"  ... and {total - len(rows)} more (see the console)")
