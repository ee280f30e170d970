"""The ERP page: recent sync runs, "sync now" in the background, quarantined rows, the mapping."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from flask import Flask, current_app, flash, jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from admin.blueprint import bp
from admin.forms import ActionForm
from admin.security import EVERYONE, MANAGERS, allow
from admin.web import actor, unit_of_work

log = logging.getLogger(__name__)
SUMMARY_FIELDS = (
    "read",
    "created",
    "updated",
    "unchanged",
    "quarantined",
    "suppressed",
    "duration_seconds",
    "status",
    "error",
)


@dataclass
class SyncProgress:
    """What the background sync started from the console is doing, for the status poll."""

    running: bool = False
    started_by: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    entity: str | None = None
    count: int = 0
    status: str | None = None
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


_progress = SyncProgress()
_lock = threading.Lock()


def progress_snapshot() -> dict[str, Any]:
    with _lock:
        return asdict(_progress)


def start_sync(app: Flask, who: str) -> bool:
    """Run ``erp.sync.run`` in a thread; False when a console sync is already running."""
    global _progress
    with _lock:
        if _progress.running:
            return False
        _progress = SyncProgress(running=True, started_by=who, started_at=_stamp(), status="running")
    threading.Thread(target=_run_sync, args=(app,), name="console-erp-sync", daemon=True).start()
    return True


def _run_sync(app: Flask) -> None:
    from erp import sync

    def report(entity: str, count: int) -> None:
        with _lock:
            _progress.entity, _progress.count = entity, count

    try:
        with app.app_context():
            summary = sync.run(app, trigger="console", progress=report)
        outcome = {name: _plain(getattr(summary, name, None)) for name in SUMMARY_FIELDS}
        with _lock:
            _progress.summary = outcome
            _progress.status = str(outcome["status"] or "ok")
            _progress.error = outcome["error"]
    except Exception as exc:
        log.exception("console ERP sync failed")
        with _lock:
            _progress.status, _progress.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
    finally:
        with _lock:
            _progress.running = False
            _progress.finished_at = _stamp()


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _plain(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool | type(None)) else str(value)


def _erp_views() -> dict[str, Any]:
    """Runs, quarantine and mapping, each tolerating an ERP package that is not configured."""
    out: dict[str, Any] = {"runs": [], "quarantine": [], "mapping": [], "problems": []}
    try:
        from erp import quarantine, sync
    except ImportError as exc:
        out["problems"].append(f"ERP sync is not installed: {exc}")
        return out
    with unit_of_work() as session:
        out["runs"] = sync.recent_runs(session, limit=20)
        out["quarantine"] = quarantine.open_rows(session, limit=100)
    out["mapping"] = _mapping_rows(out["problems"])
    return out


def _mapping_rows(problems: list[str]) -> list[dict[str, Any]]:
    try:
        from erp import mapping, sync

        return list(mapping.describe(sync.mapping_for(current_app._get_current_object())))  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001  (a broken mapping file is shown, not a 500)
        problems.append(f"Mapping could not be read: {exc}")
        return []


@bp.route("/erp")
@allow(*EVERYONE)
def erp_page() -> ResponseReturnValue:
    return render_template("admin/erp.html", progress=progress_snapshot(), action=ActionForm(), **_erp_views())


@bp.route("/erp/sync", methods=["POST"])
@allow(*MANAGERS)
def erp_sync() -> ResponseReturnValue:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if start_sync(app, actor()):
        flash("Sync started. This page shows its progress.", "success")
    else:
        flash("A sync started from the console is already running.", "info")
    return redirect(url_for("admin.erp_page"))


@bp.route("/erp/status")
@allow(*EVERYONE)
def erp_status() -> ResponseReturnValue:
    return jsonify(progress_snapshot())


@bp.app_template_filter("mapping_cell")
def mapping_cell(value: Any) -> str:
    """A mapping value as staff read it: code maps as ``a → b``, blanks as a dash."""
    if isinstance(value, dict):
        return ", ".join(f"{k} → {v}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else ""
    return "—" if value is None or value == "" else str(value)
