"""The audit log, filterable by actor, action, entity and dates, newest first."""

from __future__ import annotations

import datetime as dt

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from admin.blueprint import bp
from admin.security import EVERYONE, allow
from admin.web import day_start, make_page, offset_for, page_number, parse_date, unit_of_work
from domain.audit import AuditEntry


@bp.route("/audit")
@allow(*EVERYONE)
def audit_log() -> ResponseReturnValue:
    args = {k: request.args.get(k, "").strip()[:200] for k in ("actor", "action", "entity_type", "entity_id")}
    start, end = parse_date(request.args.get("start")), parse_date(request.args.get("end"))
    stmt = select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    if args["actor"]:
        stmt = stmt.where(AuditEntry.actor.icontains(args["actor"], autoescape=True))
    if args["action"]:
        stmt = stmt.where(AuditEntry.action.istartswith(args["action"], autoescape=True))
    if args["entity_type"]:
        stmt = stmt.where(AuditEntry.entity_type == args["entity_type"])
    if args["entity_id"]:
        stmt = stmt.where(AuditEntry.entity_id == args["entity_id"])
    if start:
        stmt = stmt.where(AuditEntry.created_at >= day_start(start))
    if end:
        stmt = stmt.where(AuditEntry.created_at < day_start(end + dt.timedelta(days=1)))
    number = page_number()
    with unit_of_work() as session:
        rows = list(session.scalars(stmt.limit(51).offset(offset_for(number, 50))))
    return render_template(
        "admin/audit.html", page=make_page(rows, number, 50), args=args, start=start or "", end=end or ""
    )
