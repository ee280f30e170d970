"""``/api/v1/erp``: how the ERP sync is doing, and "sync now".

"Sync now" is a request row (``domain.sync_runs``) that the scheduler's job picks up within seconds;
the run itself takes the sync's lock, so there is never more than one at a time across hosts. Asking
again while a request waits answers the waiting one. This package never imports ``erp``.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from api.fields import Bool, UtcDateTime
from api.idempotency import writes
from api.parsing import Blueprint
from api.schemas import Strict
from api.security import current, requires
from api.web import now, reading, unit_of_work
from domain import sync_runs
from domain.sync_runs import ENTITIES, SyncRequest, SyncRun

blp = Blueprint("erp", __name__, url_prefix="/api/v1/erp", description="The ERP sync.")


class RunOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"description": "running, ok, failed or skipped"})
    trigger = ma.fields.String(required=True, metadata={"example": "schedule"})
    full = ma.fields.Boolean(required=True)
    entities = ma.fields.List(ma.fields.String(), required=True)
    started_at = UtcDateTime(required=True)
    finished_at = UtcDateTime(allow_none=True, required=True)
    counts = ma.fields.Dict(required=True)
    error = ma.fields.String(allow_none=True, required=True)


class RequestOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"description": "queued, running or done"})
    full = ma.fields.Boolean(required=True)
    entities = ma.fields.List(ma.fields.String(), required=True)
    requested_by = ma.fields.String(required=True)
    requested_at = UtcDateTime(required=True)
    started_at = UtcDateTime(allow_none=True, required=True)
    finished_at = UtcDateTime(allow_none=True, required=True)
    run_id = ma.fields.Integer(allow_none=True, required=True)
    outcome = ma.fields.String(allow_none=True, required=True)


class StatusOut(ma.Schema):
    entities = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(RunOut, allow_none=True),
        required=True,
        metadata={"description": "The last finished run that covered each entity (null: never)."},
    )
    runs = ma.fields.List(ma.fields.Nested(RunOut), required=True, metadata={"description": "Newest first."})
    requests = ma.fields.List(ma.fields.Nested(RequestOut), required=True, metadata={"description": "Still open."})


class SyncIn(Strict):
    full = Bool(load_default=False, metadata={"description": "Read everything again, not just what changed."})
    entities = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(ENTITIES)),
        validate=ma.validate.Length(1, len(ENTITIES)),
        metadata={"description": "Default: all of them.", "example": ["orders", "returns"]},
    )


def run_view(run: SyncRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "trigger": run.trigger,
        "full": run.full,
        "entities": [e for e in run.entities.split(",") if e],
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "counts": run.counts or {},
        "error": run.error,
    }


def request_view(request: SyncRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "status": request.status,
        "full": request.full,
        "entities": request.entities.split(","),
        "requested_by": request.requested_by,
        "requested_at": request.requested_at,
        "started_at": request.started_at,
        "finished_at": request.finished_at,
        "run_id": request.run_id,
        "outcome": request.outcome,
    }


@blp.route("/status", methods=["GET"])
@requires("erp:run")
@blp.response(200, StatusOut)
def status() -> dict[str, Any]:
    """The last runs, per entity and overall, and any sync asked for and not yet done."""
    with reading() as session:
        last = sync_runs.last_run_per_entity(session)
        return {
            "entities": {e: run_view(last[e]) if e in last else None for e in ENTITIES},
            "runs": [run_view(r) for r in sync_runs.recent_runs(session, limit=10)],
            "requests": [request_view(r) for r in sync_runs.open_requests(session)],
        }


@blp.route("/sync", methods=["POST"])
@requires("erp:run")
@blp.arguments(SyncIn, required=False, example={"entities": ["orders", "returns"]})
@writes
@blp.response(202, RequestOut, description="Queued for the scheduler (or the request already waiting).")
def sync_now(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Start a sync now: queued to the scheduler, one run at a time across hosts."""
    with unit_of_work() as session:
        request, _new = sync_runs.request_sync(
            session, actor=current().actor, now=now(), full=data["full"], entities=tuple(data.get("entities") or ())
        )
        return request_view(request), 202
