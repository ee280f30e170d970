"""``flask --app wsgi campaigns list|create|send|pause|resume|cancel|results|csv``.

``send ID`` starts the campaign (or carries on with one already sending, after a crash or on a
second host) and sends in this process until nothing is left that is due within 15 minutes;
the scheduler's ``send_campaigns`` job does the same in the background, and both can run at
once: they share the pace and never send one member a campaign twice.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import click
from flask.cli import AppGroup

from bot import campaign_sender
from domain import campaign_results, campaign_settings, campaigns
from domain.campaign_models import MessageCampaign
from domain.campaign_settings import CampaignSettings
from domain.segments import Segment
from loyalty.cli import _config, one_line_errors
from runtime import services

campaigns_group = AppGroup("campaigns", help="WhatsApp campaigns: list, create, send, pause, resume, cancel.")


def init_app(app: Any) -> None:
    app.cli.add_command(campaigns_group)


def _settings(session: Any) -> CampaignSettings:
    return campaign_settings.load(session, campaign_settings.defaults_from(_config()))


def _line(session: Any, campaign: MessageCampaign) -> str:
    counts = campaigns.counts(session, campaign.id)
    figures = " ".join(f"{k}={v}" for k, v in counts.items())
    reason = f" ({campaign.pause_reason})" if campaign.pause_reason else ""
    return f"{campaign.id}\t{campaign.status}{reason}\t{campaign.name}\taudience={campaign.audience} {figures}"


@campaigns_group.command("list")
@one_line_errors
def list_command() -> None:
    """Every campaign, newest first, with its status and counts."""
    with services.database().unit_of_work() as session:
        for campaign in campaigns.listing(session, limit=1000):
            click.echo(_line(session, campaign))


@campaigns_group.command("create")
@click.argument("name")
@click.option("--template", "template_name", required=True, help="The approved template's name.")
@click.option("--language", default="en", show_default=True, help="en, hi or member (each member's own).")
@click.option("--param", "params", multiple=True, help="{{1}}, {{2}}...: name, points, tier, ... or literal text.")
@click.option("--segment", "segment_json", default="{}", help='JSON, e.g. {"tiers": ["gold"], "min_points": 100}.')
@click.option("--ignore-quiet-hours", is_flag=True, help="Send between 21:00 and 09:00 too.")
@one_line_errors
def create_command(
    name: str, template_name: str, language: str, params: tuple[str, ...], segment_json: str, ignore_quiet_hours: bool
) -> None:
    """A draft campaign; prints its id (the last line) after its audience."""
    try:
        segment = Segment.from_json(json.loads(segment_json))
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"--segment is not JSON: {exc.msg}") from None
    with services.database().unit_of_work() as session:
        campaign = campaigns.create(
            session,
            name=name,
            template_name=template_name,
            language=language,
            parameters=params,
            segment=segment,
            now=services.now(),
            settings=_settings(session),
            ignore_quiet_hours=ignore_quiet_hours,
            actor="cli",
        )
        click.echo(f"audience {campaign.audience}")
        click.echo(str(campaign.id))


@campaigns_group.command("send")
@click.argument("campaign_id", type=int)
@click.option("--no-wait", is_flag=True, help="Only start it; the scheduler sends.")
@one_line_errors
def send_command(campaign_id: int, no_wait: bool) -> None:
    """Start campaign ID (or carry on sending it) and send it from this process."""
    db = services.database()
    with db.unit_of_work() as session:
        campaign = campaigns.get(session, campaign_id, lock=True)
        if campaign.status in ("draft", "scheduled"):
            campaigns.start(session, campaign, services.now(), _settings(session), "cli")
        elif campaign.status != "sending":
            raise click.ClickException(f"campaign {campaign_id} is {campaign.status}: nothing to send")
        status = campaign.status
    if status == "scheduled":
        click.echo(f"campaign {campaign_id} is scheduled; the scheduler sends it at its time")
        return
    if not no_wait:
        from flask import current_app

        results = campaign_sender.send_until_done(current_app._get_current_object())  # type: ignore[attr-defined]
        mine = " ".join(f"{k}={v}" for k, v in sorted(results.items()) if k != "sent")
        click.echo(f"this process: took={results['sent']} {mine}".rstrip())
    with db.unit_of_work() as session:
        click.echo(_line(session, campaigns.get(session, campaign_id)))


def _act(campaign_id: int, action: str, reason: str | None = None) -> None:
    with services.database().unit_of_work() as session:
        campaign = campaigns.get(session, campaign_id, lock=True)
        now = services.now()
        if action == "pause":
            campaigns.pause(session, campaign, now, "cli", reason or "paused from the command line")
        elif action == "resume":
            campaigns.resume(session, campaign, now, "cli")
        else:
            campaigns.cancel(session, campaign, now, "cli")
        click.echo(_line(session, campaign))


@campaigns_group.command("pause")
@click.argument("campaign_id", type=int)
@click.option("--reason", default=None, help="Shown in the console.")
@one_line_errors
def pause_command(campaign_id: int, reason: str | None) -> None:
    """Pause campaign ID: sending stops within a couple of seconds."""
    _act(campaign_id, "pause", reason)


@campaigns_group.command("resume")
@click.argument("campaign_id", type=int)
@one_line_errors
def resume_command(campaign_id: int) -> None:
    """Resume a paused campaign (the scheduler, or `send ID`, sends the rest)."""
    _act(campaign_id, "resume")


@campaigns_group.command("cancel")
@click.argument("campaign_id", type=int)
@one_line_errors
def cancel_command(campaign_id: int) -> None:
    """Cancel campaign ID: members not yet sent to are skipped."""
    _act(campaign_id, "cancel")


@campaigns_group.command("results")
@click.argument("campaign_id", type=int)
@one_line_errors
def results_command(campaign_id: int) -> None:
    """The campaign's results as one JSON object."""
    with services.database().unit_of_work() as session:
        campaigns.get(session, campaign_id)
        found = campaign_results.results(session, campaign_id, _settings(session))
    click.echo(json.dumps({**found.__dict__, "revenue": f"{found.revenue:.2f}"}))


@campaigns_group.command("csv")
@click.argument("campaign_id", type=int)
@one_line_errors
def csv_command(campaign_id: int) -> None:
    """Every recipient of campaign ID with status and times, as CSV on standard output."""
    writer = csv.writer(sys.stdout)
    with services.database().unit_of_work() as session:
        campaigns.get(session, campaign_id)
        writer.writerow(campaign_results.CSV_HEADER)
        writer.writerows(campaign_results.recipients_rows(session, campaign_id))
