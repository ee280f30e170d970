"""What staff do to a WhatsApp campaign: start, pause, resume, cancel, retarget, test send, the recipients' CSV.

Each is one unit of work with its audit entry; a refusal from the domain (past the 24-hour
messaging limit, a wrong state, a flagged number) is a flash on the campaign page, and nothing
changes.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response, current_app, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from admin.affiliates import csv_line
from admin.blueprint import bp
from admin.campaign_forms import TestSendForm
from admin.security import MANAGERS, allow
from admin.web import actor, cc, now, unit_of_work
from admin.whatsapp_campaigns import BASE, find, load_settings, record
from domain import campaign_results, campaign_test_send, campaigns
from domain.campaign_models import MarketingMessage, MessageCampaign
from domain.errors import DomainError, InvalidTransition
from runtime import services

DONE = {
    "start": "Sending started.",
    "pause": "Paused.",
    "resume": "Resumed.",
    "cancel": "Cancelled: members not yet sent to are skipped.",
}


def _back(campaign_id: int) -> BaseResponse:
    return redirect(url_for("admin.whatsapp_campaign", campaign_id=campaign_id))


def _act(campaign_id: int, action: str) -> BaseResponse:
    try:
        campaign = _change(campaign_id, action)
    except campaigns.CampaignLimitExceeded as exc:
        _refused(campaign_id, action, exc)
        flash(f"Not started: {exc.reason}. Narrow the segment or wait for the limit to free up.", "error")
        return _back(campaign_id)
    except (campaigns.CampaignBlocked, InvalidTransition) as exc:
        _refused(campaign_id, action, exc)
        flash(exc.reason[0].upper() + exc.reason[1:] + ".", "error")
        return _back(campaign_id)
    message = "Scheduled for its send time." if campaign.status == "scheduled" and action == "start" else DONE[action]
    flash(message, "success")
    return _back(campaign_id)


def _refused(campaign_id: int, action: str, exc: DomainError) -> None:
    """A refusal is on the record too (its own unit of work: the refused one rolled back)."""
    with unit_of_work() as session:
        record(session, f"{action}_refused", campaigns.get(session, campaign_id), reason=exc.reason)


def _change(campaign_id: int, action: str) -> MessageCampaign:
    moment, who = now(), actor()
    with unit_of_work() as session:
        find(session, campaign_id)
        campaign = campaigns.get(session, campaign_id, lock=True)
        before = campaign.status
        if action == "start":
            campaigns.start(session, campaign, moment, load_settings(session), who)
        elif action == "pause":
            campaigns.pause(session, campaign, moment, who, f"paused by {who}")
        elif action == "resume":
            campaigns.resume(session, campaign, moment, who)
        else:
            campaigns.cancel(session, campaign, moment, who)
        record(session, action, campaign, before=before, after=campaign.status, audience=campaign.audience)
    return campaign


@bp.route(f"{BASE}/<int:campaign_id>/start", methods=["POST"])
@allow(*MANAGERS)
def whatsapp_campaign_start(campaign_id: int) -> ResponseReturnValue:
    return _act(campaign_id, "start")


@bp.route(f"{BASE}/<int:campaign_id>/pause", methods=["POST"])
@allow(*MANAGERS)
def whatsapp_campaign_pause(campaign_id: int) -> ResponseReturnValue:
    return _act(campaign_id, "pause")


@bp.route(f"{BASE}/<int:campaign_id>/resume", methods=["POST"])
@allow(*MANAGERS)
def whatsapp_campaign_resume(campaign_id: int) -> ResponseReturnValue:
    return _act(campaign_id, "resume")


@bp.route(f"{BASE}/<int:campaign_id>/cancel", methods=["POST"])
@allow(*MANAGERS)
def whatsapp_campaign_cancel(campaign_id: int) -> ResponseReturnValue:
    return _act(campaign_id, "cancel")


@bp.route(f"{BASE}/<int:campaign_id>/retarget", methods=["POST"])
@allow(*MANAGERS)
def whatsapp_campaign_retarget(campaign_id: int) -> ResponseReturnValue:
    """A new draft for the members who got the message and did not read it."""
    with unit_of_work() as session:
        find(session, campaign_id)
        made = campaign_results.retarget_unread(session, campaign_id, now(), load_settings(session), actor())
        record(session, "retarget", made, source=campaign_id, audience=made.audience)
    flash(f"Draft “{made.name}” made for {made.audience:,} members who did not read.", "success")
    return _back(made.id)


@bp.route(f"{BASE}/<int:campaign_id>/test", methods=["POST"])
@allow(*MANAGERS)
def whatsapp_campaign_test(campaign_id: int) -> ResponseReturnValue:
    form = TestSendForm()
    if not form.validate_on_submit():
        flash("; ".join(e for errors in form.errors.values() for e in errors), "error")
        return _back(campaign_id)
    try:
        queued = _send_test(campaign_id, form)
    except DomainError as exc:
        flash(f"No test sent: {exc.reason}.", "error")
        return _back(campaign_id)
    if not queued:
        flash("That test was queued already.", "info")
        return _back(campaign_id)
    flash(f"Test queued to {len(queued)} staff number(s); the sender sends it within seconds.", "success")
    return _back(campaign_id)


def _send_test(campaign_id: int, form: TestSendForm) -> list[MarketingMessage]:
    phones = campaign_test_send.staff_numbers(form.phones.data or "", cc())
    with unit_of_work() as session:
        campaign = find(session, campaign_id)
        settings = load_settings(session)
        nonce = form.nonce.data or ""
        queued = campaign_test_send.send_test(
            session, campaign, phones, nonce=nonce, now=now(), settings=settings, actor=actor()
        )
        if queued:
            members, messages = [m.customer_id for m in queued], [m.id for m in queued]
            record(session, "test_send", campaign, members=members, messages=messages)
    return queued


@bp.route(f"{BASE}/<int:campaign_id>/recipients.csv")
@allow(*MANAGERS)
def whatsapp_campaign_csv(campaign_id: int) -> ResponseReturnValue:
    """Every recipient with status, WhatsApp id and times, streamed (memory stays flat)."""
    with unit_of_work() as session:
        campaign = find(session, campaign_id)
        record(session, "csv", campaign)
    db = services.database(current_app._get_current_object())  # type: ignore[attr-defined]

    def generate() -> Iterator[str]:
        yield csv_line(campaign_results.CSV_HEADER)
        with db.unit_of_work() as session:
            for row in campaign_results.recipients_rows(session, campaign_id):
                yield csv_line(row)

    return Response(
        generate(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}-recipients.csv"'},
    )
