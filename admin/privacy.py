"""The privacy queue: every data request with its due date and who handled it; erasure and export.

Support staff see the queue; managers handle requests (erase, export, close); what the chat
answered itself is in the queue too, closed by ``automatic``. Requests made on the phone or at
the counter are entered from the customer page.
"""

from __future__ import annotations

import json

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from admin.blueprint import bp
from admin.forms import ActionForm
from admin.privacy_forms import CloseRequestForm, MarketingConsentForm, NewRequestForm
from admin.security import EVERYONE, MANAGERS, allow
from admin.web import actor, make_page, now, offset_for, page_number, unit_of_work
from domain import access_log, audit, consents, data_export, data_requests, erasure, ledger, privacy_settings
from domain.customers import Customer
from domain.data_requests import KINDS, DataRequest
from domain.errors import InvalidTransition
from runtime.config import privacy_key

PER_PAGE = 50


@bp.route("/privacy")
@allow(*EVERYONE)
def privacy_queue() -> ResponseReturnValue:
    show = "all" if request.args.get("show") == "all" else "open"
    kind = request.args.get("kind", "") if request.args.get("kind") in KINDS else ""
    number = page_number()
    moment = now()
    with unit_of_work() as session:
        rows = data_requests.queue(session, show=show, kind=kind, limit=PER_PAGE + 1, offset=offset_for(number, 50))
        open_count, overdue = data_requests.counts(session, moment)
        settings = privacy_settings.load(session)
    return render_template(
        "admin/privacy_queue.html",
        page=make_page(rows, number, PER_PAGE),
        show=show,
        kind=kind,
        kinds=KINDS,
        open_count=open_count,
        overdue=overdue,
        settings=settings,
        now=moment,
    )


def _request_or_404(session: Session, request_id: int) -> DataRequest:
    return session.get(DataRequest, request_id) or abort(404)


@bp.route("/privacy/requests/<int:request_id>")
@allow(*EVERYONE)
def privacy_request(request_id: int) -> ResponseReturnValue:
    with unit_of_work() as session:
        found = _request_or_404(session, request_id)
        customer = session.get(Customer, found.customer_id)
        balance = customer.points_balance if customer else 0
        summary = data_export.summary(session, customer) if customer and not customer.is_erased else None
    return render_template(
        "admin/privacy_request.html",
        r=found,
        c=customer,
        balance=balance,
        summary=summary,
        action=ActionForm(),
        close_form=CloseRequestForm(formdata=None),
        now=now(),
    )


@bp.route("/privacy/requests/<int:request_id>/erase", methods=["POST"])
@allow(*MANAGERS)
def privacy_request_erase(request_id: int) -> ResponseReturnValue:
    """Carry out an erasure request now (whatever cooling-off it was waiting out)."""
    moment = now()
    with unit_of_work() as session:
        found = _request_or_404(session, request_id)
        if found.kind != "erasure":
            raise InvalidTransition(f"{found.reference} is a {found.kind} request, not an erasure")
        outcome = erasure.erase_for(session, found, now=moment, actor=actor(), hash_key=privacy_key(current_app.config))
        access_log.record(session, staff=actor(), customer_id=found.customer_id, action="erase", now=moment)
    flash(f"{outcome.summary().capitalize()}. Request {found.reference} is done.", "success")
    return redirect(url_for("admin.privacy_request", request_id=found.id))


@bp.route("/privacy/requests/<int:request_id>/close", methods=["POST"])
@allow(*MANAGERS)
def privacy_request_close(request_id: int) -> ResponseReturnValue:
    form = CloseRequestForm()
    if not form.validate_on_submit():
        flash("Choose an outcome and say what happened.", "error")
        return redirect(url_for("admin.privacy_request", request_id=request_id))
    with unit_of_work() as session:
        found = _request_or_404(session, request_id)
        data_requests.close(found, form.status.data, actor=actor(), now=now(), outcome=form.note.data)
    flash(f"Request {found.reference} is {found.status}.", "success")
    return redirect(url_for("admin.privacy_request", request_id=found.id))


@bp.route("/privacy/requests/<int:request_id>/export")
@allow(*MANAGERS)
def privacy_request_export(request_id: int) -> ResponseReturnValue:
    """The member's export as a JSON download, for answering a request made outside the chat."""
    moment = now()
    with unit_of_work() as session:
        found = _request_or_404(session, request_id)
        customer = session.get(Customer, found.customer_id)
        if customer is None or customer.is_erased:
            abort(410)
        document = data_export.export(session, customer, moment)
        access_log.record(session, staff=actor(), customer_id=customer.id, action="export", now=moment)
    body = json.dumps(document, ensure_ascii=False, indent=2)
    headers = {"Content-Disposition": f'attachment; filename="member-data-{found.reference}.json"'}
    return Response(body, mimetype="application/json", headers={**headers, "Cache-Control": "no-store"})


@bp.route("/customers/<int:customer_id>/privacy-requests", methods=["POST"])
@allow(*EVERYONE)
def customer_privacy_request(customer_id: int) -> ResponseReturnValue:
    """Staff enter a request the member made on the phone or at the counter."""
    form = NewRequestForm()
    if not form.validate_on_submit():
        abort(400)
    with unit_of_work() as session:
        customer = session.get(Customer, customer_id) or abort(404)
        if customer.is_erased:
            raise InvalidTransition("this member was erased; there is nothing left to ask about")
        details = {"note": form.note.data} if form.note.data else {}
        found = data_requests.open_request(
            session,
            customer,
            form.kind.data,
            channel="console",
            now=now(),
            settings=privacy_settings.load(session),
            details=details,
        )
        audit.record(
            session,
            actor=actor(),
            action="privacy.request",
            entity_type="customer",
            entity_id=customer.id,
            now=now(),
            details={"request": found.reference, "kind": found.kind},
        )
    flash(f"Request {found.reference} opened, due {found.due_at:%Y-%m-%d}.", "success")
    return redirect(url_for("admin.privacy_request", request_id=found.id))


@bp.route("/customers/<int:customer_id>/marketing-consent", methods=["POST"])
@allow(*EVERYONE)
def customer_marketing_consent(customer_id: int) -> ResponseReturnValue:
    """Consent to offers given (or withdrawn) on paper or at the counter; a parent's for a minor."""
    form = MarketingConsentForm()
    if not form.validate_on_submit():
        abort(400)
    granted, moment = form.granted.data == "yes", now()
    with unit_of_work() as session:
        customer = ledger.lock_customer(session, customer_id)
        if form.parent.data:
            consents.record(session, customer, consents.GUARDIAN, granted, channel="console", now=moment, actor=actor())
        consents.record(session, customer, consents.MARKETING, granted, channel="console", now=moment, actor=actor())
        access_log.record(session, staff=actor(), customer_id=customer_id, action="consent", now=moment)
    flash("Marketing consent recorded." if granted else "Marketing consent withdrawn.", "success")
    return redirect(url_for("admin.customer", customer_id=customer_id))
