"""Affiliates: applications, commission terms, commissions by status, payouts and their CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from admin.blueprint import bp
from admin.forms import ActionForm, PayoutForm, ReasonForm, TermsForm
from admin.security import EVERYONE, MANAGERS, allow
from admin.web import actor, make_page, money, now, offset_for, page_number, unit_of_work
from domain import affiliates, exports
from domain.affiliate_models import Affiliate, Commission, Payout
from domain.customers import Customer
from domain.money import format_money
from runtime import services


@bp.route("/affiliates")
@allow(*EVERYONE)
def affiliates_list() -> ResponseReturnValue:
    status = request.args.get("status", "")
    number = page_number()
    stmt = select(Affiliate).order_by(Affiliate.applied_at.desc(), Affiliate.id.desc())
    if status in affiliates.STATUSES:
        stmt = stmt.where(Affiliate.status == status)
    with unit_of_work() as session:
        rows = list(session.scalars(stmt.limit(26).offset(offset_for(number))))
        pending = session.scalar(select(func.count(Affiliate.id)).where(Affiliate.status == "pending")) or 0
    return render_template(
        "admin/affiliates.html",
        page=make_page(rows, number),
        status=status,
        statuses=affiliates.STATUSES,
        pending=pending,
        action=ActionForm(),
    )


@bp.route("/affiliates/<int:affiliate_id>")
@allow(*EVERYONE)
def affiliate(affiliate_id: int) -> ResponseReturnValue:
    status = request.args.get("status", "")
    number = page_number()
    stmt = (
        select(Commission)
        .where(Commission.affiliate_id == affiliate_id)
        .order_by(Commission.created_at.desc(), Commission.id.desc())
    )
    if status in affiliates.COMMISSION_STATUSES:
        stmt = stmt.where(Commission.status == status)
    with unit_of_work() as session:
        partner = session.get(Affiliate, affiliate_id) or abort(404)
        totals = affiliates.totals(session, affiliate_id)
        rows = list(session.scalars(stmt.limit(26).offset(offset_for(number))))
        payouts = list(
            session.scalars(select(Payout).where(Payout.affiliate_id == affiliate_id).order_by(Payout.id.desc()))
        )
        customers = session.scalar(select(func.count(Customer.id)).where(Customer.affiliate_id == affiliate_id)) or 0
    terms = TermsForm(
        formdata=None,
        commission_type=partner.commission_type,
        percent=partner.commission_percent,
        fixed=partner.commission_fixed,
        window_days=partner.window_days,
    )
    return render_template(
        "admin/affiliate.html",
        a=partner,
        totals=totals,
        page=make_page(rows, number),
        status=status,
        statuses=affiliates.COMMISSION_STATUSES,
        payouts=payouts,
        customers=customers,
        terms=terms,
        payout_form=PayoutForm(formdata=None),
        reason_form=ReasonForm(formdata=None),
        action=ActionForm(),
    )


@bp.route("/affiliates/<int:affiliate_id>/decide/<decision>", methods=["POST"])
@allow(*MANAGERS)
def affiliate_decide(affiliate_id: int, decision: str) -> ResponseReturnValue:
    if decision not in ("approved", "rejected", "suspended"):
        abort(404)
    form = ReasonForm()
    with unit_of_work() as session:
        partner = affiliates.decide(
            session, affiliate_id, decision, actor=actor(), now=now(), reason=form.reason.data or None
        )
        name = partner.name
    flash(f"{name} is now {decision}.", "success")
    return redirect(url_for("admin.affiliate", affiliate_id=affiliate_id))


@bp.route("/affiliates/<int:affiliate_id>/terms", methods=["POST"])
@allow(*MANAGERS)
def affiliate_terms(affiliate_id: int) -> ResponseReturnValue:
    form = TermsForm()
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{getattr(form, field).label.text}: {'; '.join(errors)}", "error")
        return redirect(url_for("admin.affiliate", affiliate_id=affiliate_id))
    with unit_of_work() as session:
        affiliates.set_terms(
            session,
            affiliate_id,
            commission_type=form.commission_type.data,
            percent=form.percent.data,
            fixed=form.fixed.data,
            window_days=int(form.window_days.data or 0),
            actor=actor(),
            now=now(),
            reason=form.reason.data or None,
        )
    flash("Commission terms saved.", "success")
    return redirect(url_for("admin.affiliate", affiliate_id=affiliate_id))


@bp.route("/affiliates/<int:affiliate_id>/approve-commissions", methods=["POST"])
@allow(*MANAGERS)
def commissions_approve(affiliate_id: int) -> ResponseReturnValue:
    """Approve the ticked pending commissions, or all of them when none is ticked."""
    chosen = [int(v) for v in request.form.getlist("commission") if v.isdigit()]
    with unit_of_work() as session:
        if not chosen:
            chosen = list(
                session.scalars(
                    select(Commission.id).where(Commission.affiliate_id == affiliate_id, Commission.status == "pending")
                )
            )
        mine = list(
            session.scalars(
                select(Commission.id).where(Commission.id.in_(chosen), Commission.affiliate_id == affiliate_id)
            )
        )
        count = affiliates.approve_commissions(session, mine, actor=actor(), now=now())
    flash(f"{count} commission(s) approved.", "success" if count else "info")
    return redirect(url_for("admin.affiliate", affiliate_id=affiliate_id))


@bp.route("/affiliates/<int:affiliate_id>/pay", methods=["POST"])
@allow(*MANAGERS)
def affiliate_pay(affiliate_id: int) -> ResponseReturnValue:
    form = PayoutForm()
    if not form.validate_on_submit():
        flash("Enter the payment reference (bank transfer id, UPI reference, ...).", "error")
        return redirect(url_for("admin.affiliate", affiliate_id=affiliate_id))
    with unit_of_work() as session:
        payout = affiliates.mark_paid(session, affiliate_id, actor=actor(), now=now(), reference=form.reference.data)
        amount, currency = payout.amount, payout.currency
    flash(f"Payout of {money(amount, currency)} recorded as paid.", "success")
    return redirect(url_for("admin.affiliate", affiliate_id=affiliate_id))


@bp.route("/payouts/<int:payout_id>.csv")
@allow(*MANAGERS)
def payout_csv(payout_id: int) -> ResponseReturnValue:
    with unit_of_work() as session:
        payout = session.get(Payout, payout_id) or abort(404)
    db = services.database()
    cells = money_cells(exports.PAYOUT_HEADER, current_app.config)

    def generate() -> Iterator[str]:
        yield csv_line(exports.PAYOUT_HEADER)
        with db.unit_of_work() as session:
            for row in exports.payout_rows(session, payout_id):
                yield csv_line(cells(row))

    filename = f"payout-{payout.id}-affiliate-{payout.affiliate_id}.csv"
    return Response(
        generate(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def money_cells(header: Sequence[str], config: Mapping[str, Any]) -> Callable[[Sequence[object]], list[object]]:
    """A row's amounts (``Decimal`` cells) formatted as money, in the row's ``currency`` column if it has one.

    Made before the response streams: the rows are written after the request's app context ended.
    """
    locale, default = config.get("DEFAULT_LOCALE"), config.get("CURRENCY")
    at = header.index("currency") if "currency" in header else None

    def cells(row: Sequence[object]) -> list[object]:
        currency = str(row[at]) if at is not None and row[at] else default
        return [format_money(v, currency, locale) if isinstance(v, Decimal) else v for v in row]

    return cells


def csv_line(row: Sequence[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_safe_cell(v) for v in row])
    return buffer.getvalue()


def _safe_cell(value: object) -> object:
    """Keep spreadsheet apps from running a cell as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not value.lstrip("+-").isdigit():
        return "'" + value
    return value
