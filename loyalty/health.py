"""GET /health: the database, the scheduler's heartbeat, the last ERP sync, the business's WhatsApp number."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select, text
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

from bot import business_number
from domain.system import last_beat
from erp.models import SyncRun
from erp.reader import public_reason
from runtime import services

log = logging.getLogger(__name__)
SCHEDULER_STALE_SECONDS = 180


def init_app(app: Flask) -> None:
    app.add_url_rule("/health", "health", health)


def health() -> ResponseReturnValue:
    body: dict[str, Any] = {"status": "ok"}
    db = services.database()
    now = services.now()
    try:
        with db.unit_of_work() as session:
            session.execute(text("SELECT 1"))
            beat = last_beat(session, "scheduler")
            run = session.scalar(select(SyncRun).order_by(SyncRun.started_at.desc()).limit(1))
            body["database"] = {"status": "ok", "backend": db.engine.dialect.name}
            body["scheduler"] = _scheduler(beat.beat_at if beat else None, now)
            body["erp_sync"] = _sync(run)
            body["whatsapp_number"] = _number(business_number.current(session, current_app.config))
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        log.warning("health: the database check failed: %s", type(exc).__name__)
        body["status"] = "error"
        body["database"] = {"status": "error", "error": _database_problem(exc)}
        return jsonify(body), 503
    if body["scheduler"]["status"] != "ok":
        body["status"] = "degraded"
    return jsonify(body), 200


def _scheduler(beat_at: Any, now: Any) -> dict[str, Any]:
    if beat_at is None:
        return {"status": "never_seen", "last_heartbeat": None}
    age = (now - beat_at).total_seconds()
    status = "ok" if age <= SCHEDULER_STALE_SECONDS else "stale"
    return {"status": status, "last_heartbeat": beat_at.isoformat(), "age_seconds": round(age)}


def _number(number: business_number.BusinessNumber) -> dict[str, Any]:
    """Whether share links can be handed out; in words, never the Graph API's own error."""
    if number.known:
        return {"status": "known", "source": number.source}
    return {
        "status": "unknown",
        "problem": "No WhatsApp business number is known, so the bot gives customers their code to type "
        "instead of a share link. Set WHATSAPP_DISPLAY_NUMBER, or WHATSAPP_TOKEN and WHATSAPP_PHONE_ID "
        "so that the scheduler reads it from the Graph API; details on the console's settings page.",
    }


def _sync(run: SyncRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "counts": run.counts,
        "error": public_reason(run.error) if run.error else None,
        "details": "on the console's ERP page" if run.error else None,
    }


def _database_problem(exc: Exception) -> str:
    """In words: the public page never shows the driver's message (it names hosts and logins)."""
    if isinstance(exc, ProgrammingError) or "no such table" in str(exc):
        return "the database is not migrated (run flask --app wsgi db upgrade)"
    if isinstance(exc, OperationalError | InterfaceError):
        return "the database cannot be reached"
    return "the database check failed"
