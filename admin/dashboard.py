"""The dashboard: members, activity, points per month, liability, sources, as charts."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import current_app, render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from admin.blueprint import bp
from admin.charts import PALETTE, Series, bar_chart, line_chart
from admin.security import EVERYONE, allow
from admin.web import now, unit_of_work
from domain import reports, totals
from domain.rules import load_rules

CACHE_SECONDS = 60
HISTORY_SECONDS = 3600
_cache_lock = threading.Lock()


def _cache() -> dict[str, tuple[float, Any]]:
    """Per app (so per process, and fresh for each test app)."""
    cache: dict[str, tuple[float, Any]] = current_app.extensions.setdefault("admin.dashboard", {})
    return cache


def _cached(name: str, ttl: float) -> Any:
    with _cache_lock:
        hit = _cache().get(name)
    return hit[1] if hit is not None and time.monotonic() - hit[0] < ttl else None


def _keep(name: str, value: Any) -> None:
    with _cache_lock:
        _cache()[name] = (time.monotonic(), value)


def cached_dashboard() -> reports.Dashboard:
    """The figures, recomputed at most once a minute; closed months at most once an hour.

    Closed months are the expensive part (a scan of a year of ledger entries)
    and only back-dated entries change them.
    """
    return cached_figures()[0]


def cached_figures() -> tuple[reports.Dashboard, totals.Totals]:
    """The dashboard's figures and the program's totals (``loyalty totals``), cached together.

    A cached copy is used only while ``totals.freshness`` is unchanged (a few index look-ups), so
    the totals shown always agree with ``loyalty totals``, e.g. right after an erasure.
    """
    config = current_app.config
    with unit_of_work() as session:
        stamp = totals.freshness(session)
    cached = _cached("figures", float(config.get("ADMIN_DASHBOARD_CACHE_SECONDS", CACHE_SECONDS)))
    if cached is not None and cached[0] == stamp:
        return cached[1], cached[2]  # type: ignore[no-any-return]
    history = _cached("history", float(config.get("ADMIN_DASHBOARD_HISTORY_SECONDS", HISTORY_SECONDS)))
    with unit_of_work() as session:
        moment = now()
        figures = reports.dashboard(session, load_rules(session), moment, history=history)
        program = totals.program_totals(session)
    if history is None or history.current != figures.points[-1].month:
        _keep("history", reports.history_of(figures))
    _keep("figures", (stamp, figures, program))
    return figures, program


def forget_cache() -> None:
    """After a settings change (point value) the next dashboard view recomputes."""
    with _cache_lock:
        _cache().pop("figures", None)


def charts(figures: reports.Dashboard) -> dict[str, Markup]:
    labels = [p.month[2:] for p in figures.points]
    points = bar_chart(
        "Points per month",
        labels,
        [
            Series("Issued", [p.issued for p in figures.points], PALETTE[0]),
            Series("Redeemed", [p.redeemed for p in figures.points], PALETTE[1]),
            Series("Expired", [p.expired for p in figures.points], PALETTE[2]),
        ],
    )
    outstanding = line_chart(
        "Outstanding points at month end",
        labels,
        [Series("Outstanding", [v for _, v in figures.outstanding_by_month], PALETTE[4])],
    )
    sources = bar_chart(
        "New members by source",
        labels,
        [
            Series(source, [counts.get(source, 0) for _, counts in figures.new_members], PALETTE[i % len(PALETTE)])
            for i, source in enumerate(figures.sources)
        ],
        stacked=True,
    )
    return {"points": points, "outstanding": outstanding, "sources": sources}


@bp.route("/")
@allow(*EVERYONE)
def dashboard() -> ResponseReturnValue:
    figures, program = cached_figures()
    return render_template("admin/dashboard.html", f=figures, totals=program, charts=charts(figures))
