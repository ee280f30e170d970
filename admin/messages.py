"""Outbound messages with their delivery status, and the CSV reports (streamed)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from flask import Response, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue

from admin.affiliates import csv_line, money_cells
from admin.blueprint import bp
from admin.forms import ReportForm
from admin.security import EVERYONE, MANAGERS, allow
from admin.web import cc, day_start, make_page, now, offset_for, page_number, unit_of_work
from bot import api as bot_api
from domain import exports
from domain.errors import InvalidPhone
from domain.phones import normalize_phone
from runtime import services

log = logging.getLogger(__name__)


@bp.route("/messages")
@allow(*EVERYONE)
def messages() -> ResponseReturnValue:
    status = request.args.get("status", "")
    phone = request.args.get("phone", "").strip()
    origin = request.args.get("origin", "")
    number = page_number()
    with unit_of_work() as session:
        try:
            e164 = normalize_phone(phone, cc()) if phone else None
            rows = bot_api.sent_messages(
                session, status=status, phone=e164, origin=origin, limit=51, offset=offset_for(number, 50)
            )
        except InvalidPhone:
            rows = []
    return render_template(
        "admin/messages.html",
        page=make_page(rows, number, 50),
        status=status,
        phone=phone,
        origin=origin,
        statuses=bot_api.OUTBOX_STATUSES,
    )


@bp.route("/reports")
@allow(*MANAGERS)
def reports_page() -> ResponseReturnValue:
    form = ReportForm(request.args if request.args else None)
    if request.args and form.validate():
        return _report_csv(form.kind.data, form.start.data, form.end.data)
    return render_template("admin/reports.html", form=form, today=now().date()), 400 if form.errors else 200


def _report_csv(kind: str, start: dt.date | None, end: dt.date | None) -> ResponseReturnValue:
    """Stream the report row by row: memory stays flat however large the range."""
    if kind not in exports.REPORTS:
        abort(404)
    since = day_start(start) if start else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    until = day_start(end + dt.timedelta(days=1)) if end else now() + dt.timedelta(days=1)
    db = services.database(current_app._get_current_object())  # type: ignore[attr-defined]
    header = exports.report_header(kind)
    cells = money_cells(header, current_app.config)

    def generate() -> Iterator[str]:
        yield csv_line(header)
        with db.unit_of_work() as session:
            for row in exports.report_rows(session, kind, since, until):
                yield csv_line(cells(row))

    label = f"{kind}-{start or 'start'}-to-{end or 'today'}.csv"
    return Response(
        generate(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{label}"'},
    )
