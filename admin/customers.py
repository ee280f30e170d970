"""Customer search and the customer page: balance, tier, ledger, redemptions, referrals, adjustments."""

from __future__ import annotations

import contextlib
import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin.blueprint import bp
from admin.forms import ActionForm, AdjustForm, new_nonce
from admin.privacy_forms import MarketingConsentForm, NewRequestForm
from admin.security import EVERYONE, MANAGERS, allow
from admin.web import actor, cc, make_page, now, offset_for, page_number, unit_of_work
from domain import access_log, audit, birthdays, consents, customers, data_requests, ledger, tiers
from domain.affiliate_models import Affiliate
from domain.customers import Customer
from domain.errors import InvalidPhone
from domain.rewards import Redemption
from domain.rules import load_rules
from domain.timeutil import add_months

log = logging.getLogger(__name__)
LEDGER_PER_PAGE = 20


@bp.route("/customers")
@allow(*EVERYONE)
def customers_search() -> ResponseReturnValue:
    query = request.args.get("q", "").strip()[:100]
    number = page_number()
    with unit_of_work() as session:
        exact = exact_match(session, query, cc()) if number == 1 else None
        rows = [exact] if exact else customers.search(session, query, cc(), limit=26, offset=offset_for(number))
    # A search that finds no one is not shown back: it may be an erased person's number or name,
    # and those appear nowhere, not even as typed into the search.
    return render_template(
        "admin/customers.html", q=query if rows else "", searched=bool(query), page=make_page(rows, number)
    )


def exact_match(session: Session, query: str, country_code: int) -> Customer | None:
    """A phone in any format, a referral code or an ERP id names one customer: found by a unique index.

    Staff mostly search for the one customer at the counter; this answers that
    without the broader (scanning) name search.
    """
    if not query:
        return None
    with contextlib.suppress(InvalidPhone):
        found = customers.find_by_phone(session, query, country_code)
        if found is not None:
            return found
    return customers.find_by_referral_code(session, query) or session.scalar(
        select(Customer).where(Customer.erp_customer_id == query)
    )


def _customer_context(customer_id: int, form: AdjustForm | None = None) -> dict[str, object]:
    number = page_number()
    moment = now()
    with unit_of_work() as session:
        customer = session.get(Customer, customer_id) or abort(404)
        rules = load_rules(session)
        spend = tiers.rolling_spend(session, customer.id, moment, rules.tier_window_days)
        entries = ledger.history(session, customer.id, limit=LEDGER_PER_PAGE + 1, offset=offset_for(number, 20))
        redemptions = list(
            session.scalars(
                select(Redemption)
                .where(Redemption.customer_id == customer.id)
                .order_by(Redemption.issued_at.desc())
                .limit(20)
            )
        )
        referred = list(
            session.scalars(
                select(Customer).where(Customer.referred_by_id == customer.id).order_by(Customer.id.desc()).limit(50)
            )
        )
        referrer = session.get(Customer, customer.referred_by_id) if customer.referred_by_id else None
        affiliate = session.get(Affiliate, customer.affiliate_id) if customer.affiliate_id else None
        consent_rows = consents.history(session, customer.id)[-20:][::-1]
        requests = data_requests.of_customer(session, customer.id)[:20]
        needs_guardian = consents.needs_guardian(session, customer, moment)
        access_log.record(session, staff=actor(), customer_id=customer.id, action="view", now=moment)
    if form is None:
        form = AdjustForm(formdata=None, nonce=new_nonce())
    return {
        "c": customer,
        "progress": tiers.progress(customer.tier, spend, rules.tier_thresholds),
        "thresholds": rules.tier_thresholds,
        "ledger_page": make_page(entries, number, LEDGER_PER_PAGE),
        "redemptions": redemptions,
        "referred": referred,
        "referrer": referrer,
        "affiliate": affiliate,
        "form": form,
        "action": ActionForm(),
        "consent_rows": consent_rows,
        "requests": requests,
        "needs_guardian": needs_guardian,
        "birthday": birthdays.iso(customer.birthday) if customer.birthday else None,
        "request_form": NewRequestForm(formdata=None),
        "consent_form": MarketingConsentForm(formdata=None),
        "now": moment,
    }


@bp.route("/customers/<int:customer_id>")
@allow(*EVERYONE)
def customer(customer_id: int) -> ResponseReturnValue:
    return render_template("admin/customer.html", **_customer_context(customer_id))


@bp.route("/customers/<int:customer_id>/adjust", methods=["POST"])
@allow(*MANAGERS)
def customer_adjust(customer_id: int) -> ResponseReturnValue:
    """A manual adjustment (``ledger.adjust`` writes its audit entry).

    The form's nonce is the ledger key, so a double-submitted form adjusts once.
    """
    form = AdjustForm()
    if not form.validate_on_submit():
        return render_template("admin/customer.html", **_customer_context(customer_id, form)), 400
    points, reason, moment = int(form.points.data or 0), (form.reason.data or "").strip(), now()
    with unit_of_work() as session:
        rules = load_rules(session)
        posting = ledger.adjust(
            session,
            customer_id,
            points,
            reason=reason,
            actor=actor(),
            key=f"admin:adjust:{customer_id}:{form.nonce.data}",
            now=moment,
            expires_at=add_months(moment, rules.expiry_months),
        )
    if posting.created:
        flash(f"{points:+d} points recorded.", "success")
    else:
        flash("That adjustment was already recorded (the form was sent twice).", "info")
    return redirect(url_for("admin.customer", customer_id=customer_id))


@bp.route("/customers/<int:customer_id>/opt-out", methods=["POST"])
@allow(*EVERYONE)
def customer_opt_out(customer_id: int) -> ResponseReturnValue:
    """Staff record that the customer asked for no more messages (e.g. on the phone)."""
    moment = now()
    with unit_of_work() as session:
        customer = ledger.lock_customer(session, customer_id)
        withdrawn = [
            consents.record(session, customer, purpose, False, channel="console", now=moment, actor=actor())
            for purpose in consents.PURPOSES
        ]
        if any(withdrawn):
            audit.record(
                session,
                actor=actor(),
                action="customer.opt_out",
                entity_type="customer",
                entity_id=customer_id,
                now=moment,
                reason=request.form.get("reason") or None,
            )
    flash("Opt-out recorded: no more messages to this customer.", "success")
    return redirect(url_for("admin.customer", customer_id=customer_id))
