"""Outbound messages with their delivery status, and the CSV reports (streamed)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from flask import Response, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from admin import bp
from admin.affiliates import csv_line
from admin.forms import ReportForm
from admin.security import EVERYONE, MANAGERS, allow
from admin.web import cc, day_start, make_page, now, offset_for, page_number, unit_of_work
from bot.models import OutboxMessage
from domain import reports
from domain.errors import InvalidPhone
from domain.phones import normalize_phone
from loyalty import services

log = logging.getLogger(__name__)
OUTBOX_STATUSES = ("queued", "sent", "delivered", "read", "failed")


@bp.route("/messages")
@allow(*EVERYONE)
def messages() -> ResponseReturnValue:
    status = request.args.get("status", "")
    phone = request.args.get("phone", "").strip()
    origin = request.args.get("origin", "")
    stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if status in OUTBOX_STATUSES:
        stmt = stmt.where(OutboxMessage.status == status)
    if origin:
        stmt = stmt.where(OutboxMessage.origin == origin[:16])
    if phone:
        try:
            stmt = stmt.where(OutboxMessage.phone == normalize_phone(phone, cc()))
        except InvalidPhone:
            stmt = stmt.where(OutboxMessage.id == -1)
    number = page_number()
    with unit_of_work() as session:
        rows = list(session.scalars(stmt.limit(51).offset(offset_for(number, 50))))
    return render_template(
        "admin/messages.html",
        page=make_page(rows, number, 50),
        status=status,
        phone=phone,
        origin=origin,
        statuses=OUTBOX_STATUSES,
    )


def message_text(message: OutboxMessage) -> str:
    """A short preview of what was sent, whatever its kind."""
    payload = message.payload or {}
    text = payload.get("body") or payload.get("text") or payload.get("name") or ""
    return str(text)[:140]


@bp.app_template_filter("message_text")
def _message_text_filter(message: OutboxMessage) -> str:
    return message_text(message)


@bp.route("/reports")
@allow(*MANAGERS)
def reports_page() -> ResponseReturnValue:
    form = ReportForm(request.args if request.args else None)
    if request.args and form.validate():
        return _report_csv(form.kind.data, form.start.data, form.end.data)
    return render_template("admin/reports.html", form=form, today=now().date()), 400 if form.errors else 200


def _report_csv(kind: str, start: dt.date | None, end: dt.date | None) -> ResponseReturnValue:
    """Stream the report row by row: memory stays flat however large the range."""
    if kind not in reports.REPORTS:
        abort(404)
    since = day_start(start) if start else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    until = day_start(end + dt.timedelta(days=1)) if end else now() + dt.timedelta(days=1)
    db = services.database(current_app._get_current_object())  # type: ignore[attr-defined]

    def generate() -> Iterator[str]:
        yield csv_line(reports.report_header(kind))
        with db.unit_of_work() as session:
            for row in reports.report_rows(session, kind, since, until):
                yield csv_line(row)

    label = f"{kind}-{start or 'start'}-to-{end or 'today'}.csv"
    return Response(
        generate(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{label}"'},
    )
