"""``/webhook``: Meta's verification handshake and signed updates, answered without waiting on Graph.

pywa's ``WhatsApp`` client checks the verify token and the ``X-Hub-Signature-256``
(its documented hooks for a custom server: ``webhook_challenge_handler`` and
``webhook_update_validator``). We do not let pywa route the POST itself
(``WhatsApp(server=app)``) because in 4.5 its handlers run inside the request and it
answers 200 even when a handler failed, so a message lost to a database outage would
never be redelivered; it also drops updates whose ``contacts[]`` lack ``user_id``,
reads only the first message of a batch, and de-duplicates per process only.
Instead: parse (``bot.inbound``), store every message (unique ``wa_message_id``) in one
transaction, answer, and hand the stored messages to the handler threads (``bot.handling``),
which run the engine and hand the queued replies to the sender threads.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pywa import utils as wa_utils
from pywa.client import WhatsApp

from bot import campaign_webhooks, inbound, intake, notice, pipeline, preferences, status
from runtime import services
from runtime.config import country_code

log = logging.getLogger(__name__)

bp = Blueprint("webhook", __name__)


def init_app(app: Flask) -> None:
    intake.check_mode(app)
    app.extensions["bot.webhook"] = _verifier(app.config)
    app.register_blueprint(bp)


def _verifier(config: Any) -> WhatsApp:
    """A pywa client used only for the handshake and the signature check (no token: it sends nothing)."""
    secret = config.get("WHATSAPP_APP_SECRET")
    if not secret:
        # Only development gets here (production refuses to boot without it); a warning on
        # every CLI command would bury the commands' own one-line answers.
        log.debug("WHATSAPP_APP_SECRET is not set: webhook signatures are NOT checked (development only)")
    return WhatsApp(
        verify_token=config.get("WHATSAPP_VERIFY_TOKEN"),
        app_secret=secret or None,
        validate_updates=bool(secret),
        webhook_endpoint="/webhook",
        filter_updates=False,
    )


def _wa() -> WhatsApp:
    client: WhatsApp = current_app.extensions["bot.webhook"]
    return client


@bp.before_app_request
def _warm_up() -> None:
    # Usually Meta's verification handshake or a health check comes first.
    intake.warm_up(current_app._get_current_object())  # type: ignore[attr-defined]


@bp.get("/webhook")
def verify() -> Response:
    if request.args.get("hub.mode", "subscribe") != "subscribe":
        return Response("Forbidden", 403, content_type="text/plain")
    body, code = _wa().webhook_challenge_handler(
        vt=request.args.get(wa_utils.HUB_VT), ch=request.args.get(wa_utils.HUB_CH)
    )
    return Response(body or "", code, content_type="text/plain")


@bp.post("/webhook")
def receive() -> tuple[Response, int]:
    body = request.get_data(cache=False)
    rejected = _wa().webhook_update_validator(body, request.headers.get(wa_utils.HUB_SIG))
    if rejected:
        return jsonify(error=rejected[0].lower()), rejected[1]
    try:
        update = inbound.parse(json.loads(body), country_code(current_app.config))
    except (ValueError, UnicodeDecodeError) as exc:
        message = str(exc) if isinstance(exc, inbound.PayloadError) else "the body is not valid JSON"
        return jsonify(error="bad request", detail=message), 400
    if update.unknown_senders:
        log.warning("webhook: %d message(s) without a usable phone number were acknowledged", update.unknown_senders)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    notice.remember_host(app, request.host_url)
    return _handle(app, update)


def _handle(app: Flask, update: inbound.Update) -> tuple[Response, int]:
    """Store every message and status report in one transaction, answer, then hand the messages over.

    Handling (flood check, engine, outbox) runs in ``bot.handling``'s threads after the
    commit, so Meta's 200 waits for one INSERT per message, not for the engine.
    """
    db, now = services.database(app), services.now(app)
    messages = [(message.incoming, message.raw) for message in update.messages]
    try:
        if update.statuses or update.preferences or update.account_events:
            with db.unit_of_work() as session:
                stored = pipeline.store_all_received(session.connection(), messages, now)
                for report in campaign_webhooks.apply(session, update, now):  # the rest are the outbox's
                    status.apply(session, report, now)
                preferences.apply_all(session, update.preferences, now)
        else:
            # The common case, messages only: a Core connection, no ORM session to build and flush.
            with db.single_statement() as conn:  # one INSERT: no BEGIN/COMMIT round trips on PostgreSQL
                stored = pipeline.store_all_received(conn, messages, now)
    except Exception:
        log.exception("webhook: could not store an update; Meta will redeliver it")
        return jsonify(error="temporarily unavailable"), 500
    intake.submit(app, stored)
    return jsonify(status="ok"), 200
