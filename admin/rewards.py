"""The reward catalog and the redemptions staff mark used or cancel."""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from admin.blueprint import bp
from admin.forms import ActionForm, RequiredReasonForm, RewardForm
from admin.security import EVERYONE, MANAGERS, allow
from admin.web import PER_PAGE, actor, day_start, make_page, now, offset_for, page_number, unit_of_work
from domain import audit, rewards, vouchers
from domain.customers import Customer
from domain.rewards import Redemption, Reward


@bp.route("/rewards")
@allow(*EVERYONE)
def rewards_list() -> ResponseReturnValue:
    number = page_number()
    stmt = select(Reward).order_by(Reward.active.desc(), Reward.points_cost, Reward.id)
    with unit_of_work() as session:
        rows = list(session.scalars(stmt.limit(PER_PAGE + 1).offset(offset_for(number))))
    return render_template("admin/rewards.html", page=make_page(rows, number), now=now())


def _window(form: RewardForm) -> tuple[dt.datetime | None, dt.datetime | None]:
    starts = day_start(form.starts_on.data) if form.starts_on.data else None
    ends = day_start(form.ends_on.data) if form.ends_on.data else None
    return starts, ends


@bp.route("/rewards/new", methods=["GET", "POST"])
@allow(*MANAGERS)
def reward_new() -> ResponseReturnValue:
    form = RewardForm()
    if request.method == "GET":
        form.active.data = True
    if not form.validate_on_submit():
        return render_template("admin/reward_form.html", form=form, reward=None), 400 if form.errors else 200
    starts, ends = _window(form)
    with unit_of_work() as session:
        reward = rewards.add_reward(
            session,
            name=form.name.data or "",
            points_cost=int(form.points_cost.data or 0),
            stock=form.stock.data,
            per_customer_limit=form.per_customer_limit.data,
            description=form.description.data or None,
            starts_at=starts,
            ends_at=ends,
        )
        reward.active = bool(form.active.data)
        audit.record(
            session,
            actor=actor(),
            action="reward.create",
            entity_type="reward",
            entity_id=reward.id,
            now=now(),
            details={"name": reward.name, "cost": reward.points_cost, "stock": reward.stock},
        )
    flash(f"Reward “{reward.name}” created.", "success")
    return redirect(url_for("admin.rewards_list"))


@bp.route("/rewards/<int:reward_id>", methods=["GET", "POST"])
@allow(*MANAGERS)
def reward_edit(reward_id: int) -> ResponseReturnValue:
    with unit_of_work() as session:
        reward = session.get(Reward, reward_id) or abort(404)
    form = RewardForm(obj=reward)
    if request.method == "GET":
        form.starts_on.data = reward.starts_at.date() if reward.starts_at else None
        form.ends_on.data = reward.ends_at.date() if reward.ends_at else None
    if not form.validate_on_submit():
        return render_template("admin/reward_form.html", form=form, reward=reward), 400 if form.errors else 200
    starts, ends = _window(form)
    with unit_of_work() as session:
        reward, changes = rewards.update_reward(
            session,
            reward_id,
            name=form.name.data or "",
            points_cost=int(form.points_cost.data or 0),
            stock=form.stock.data,
            per_customer_limit=form.per_customer_limit.data,
            description=form.description.data or None,
            starts_at=starts,
            ends_at=ends,
            active=bool(form.active.data),
        )
        if changes:
            audit.record(
                session,
                actor=actor(),
                action="reward.update",
                entity_type="reward",
                entity_id=reward.id,
                now=now(),
                details=changes,
            )
    flash(f"Reward “{reward.name}” saved." if changes else "Nothing changed.", "success")
    return redirect(url_for("admin.rewards_list"))


@bp.route("/rewards/<int:reward_id>/toggle", methods=["POST"])
@allow(*MANAGERS)
def reward_toggle(reward_id: int) -> ResponseReturnValue:
    """Deactivate (or reactivate) without touching anything else."""
    with unit_of_work() as session:
        reward = session.get(Reward, reward_id, with_for_update=True) or abort(404)
        reward.active = not reward.active
        audit.record(
            session,
            actor=actor(),
            action="reward.activate" if reward.active else "reward.deactivate",
            entity_type="reward",
            entity_id=reward.id,
            now=now(),
        )
    flash(f"“{reward.name}” is now {'active' if reward.active else 'inactive'}.", "success")
    return redirect(url_for("admin.rewards_list"))


@bp.route("/redemptions")
@allow(*EVERYONE)
def redemptions() -> ResponseReturnValue:
    status = request.args.get("status", "issued")
    code = request.args.get("code", "").strip()
    number = page_number()
    stmt = (
        select(Redemption, Customer)
        .join(Customer, Customer.id == Redemption.customer_id)
        .order_by(Redemption.issued_at.desc(), Redemption.id.desc())
    )
    if status in rewards.STATUSES:
        stmt = stmt.where(Redemption.status == status)
    with unit_of_work() as session:
        if code:
            found = rewards.find_voucher(session, code)
            stmt = stmt.where(Redemption.id == (found.id if found else -1))
        rows = list(session.execute(stmt.limit(26).offset(offset_for(number))))
    return render_template(
        "admin/redemptions.html",
        page=make_page(rows, number),
        status=status,
        code=code,
        statuses=rewards.STATUSES,
        action=ActionForm(),
        cancel_form=RequiredReasonForm(),
        now=now(),
    )


@bp.route("/redemptions/<int:redemption_id>/fulfil", methods=["POST"])
@allow(*MANAGERS)
def redemption_fulfil(redemption_id: int) -> ResponseReturnValue:
    """The voucher was used in store (staff mark it; a till does it through the API)."""
    with unit_of_work() as session:
        code = vouchers.use(session, redemption_id, actor=actor(), now=now(), store="console").voucher.voucher_code
    flash(f"Voucher {code} marked used.", "success")
    return redirect(url_for("admin.redemptions", status=request.args.get("status", "issued")))


@bp.route("/redemptions/<int:redemption_id>/cancel", methods=["POST"])
@allow(*MANAGERS)
def redemption_cancel(redemption_id: int) -> ResponseReturnValue:
    form = RequiredReasonForm()
    if not form.validate_on_submit():
        flash("Give a reason to cancel a voucher.", "error")
        return redirect(url_for("admin.redemptions"))
    with unit_of_work() as session:
        redemption = rewards.cancel(session, redemption_id, actor=actor(), now=now(), reason=form.reason.data or "")
        code, points = redemption.voucher_code, redemption.points_cost
    flash(f"Voucher {code} cancelled; {points} points refunded.", "success")
    return redirect(url_for("admin.redemptions"))
