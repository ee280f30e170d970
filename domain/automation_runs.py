"""Running the automations: the scheduler's job, and acting on one member's occasion exactly once.

Invariants:
- An occasion (``AutomationSettings.key``: ``auto:<kind>:<customer>:<occasion>``) is acted on
  at most once, for ever, across reruns, restarts and hosts: ``fire`` first inserts its
  ``automation_occasions`` row under a savepoint, and only the unit of work whose insert succeeds
  goes on. On PostgreSQL a second host's insert waits for the first one's transaction and then
  fails on the unique key; if the first rolled back, the second does the work instead.
- In that same unit of work: the bonus points (a ``bonus`` ledger entry with the same key, so
  the ledger's own idempotency also holds), and the message: queued once per key through
  ``domain.marketing.queue_message`` (the campaign sender re-checks consent, STOP, the weekly cap
  and quiet hours before sending, and the cap counts it once accepted), or for the expiry
  reminders a service notification, once per key (``domain.notifications``).
- An automation acts on local day D (``ProgramRules.timezone``) once the local hour reaches its
  ``send_hour``; a run earlier that day does nothing for it, a later run finds the day's occasions.
- Nothing here commits: each batch runs in a unit of work the caller hands in.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import automation_dates as dates
from domain import automations, ledger, marketing, template_fields
from domain.automation_finders import FINDERS, Context, Occasion
from domain.automation_models import AutomationOccasion
from domain.automations import MARKETING, OCCASION_FIELDS, AutomationSettings
from domain.customers import Customer
from domain.notifications import notify
from domain.rules import ProgramRules, load_rules
from domain.timeutil import add_months

BATCH = 500
Units = Callable[[], AbstractContextManager[Session]]


def due(settings: AutomationSettings, now: dt.datetime, rules: ProgramRules) -> bool:
    """On, and the local hour has reached its hour."""
    return settings.enabled and dates.local_now(now, rules.timezone).hour >= settings.send_hour


def steps(settings: AutomationSettings) -> list[int | None]:
    """The walks one run makes: one per reminder day for expiry reminders, else one."""
    return list(settings.days) if settings.kind == "expiry" else [None]


def run_automations(units: Units, now: dt.datetime, *, batch: int = BATCH) -> Counter[str]:
    """Every automation that is due, each in batches of members, each batch its own unit of work.

    ``units`` makes a unit of work (``Database.unit_of_work``); returns occasions acted on per kind.
    Safe to run at any time and as often as wanted, on any number of hosts at once.
    """
    with units() as session:
        rules = load_rules(session)
        settings = automations.load_all(session)
    done: Counter[str] = Counter()
    for automation in settings:
        if not due(automation, now, rules):
            continue
        for step in steps(automation):
            done[automation.kind] += _walk(units, automation, Context(now, _today(now, rules), rules, step), batch)
    return +done  # only the kinds that acted


def _today(now: dt.datetime, rules: ProgramRules) -> dt.date:
    return dates.local_now(now, rules.timezone).date()


def _walk(units: Units, automation: AutomationSettings, ctx: Context, batch: int) -> int:
    after, fired = 0, 0
    while True:
        with units() as session:
            last, count = run_batch(session, automation, ctx, after_id=after, batch=batch)
        fired += count
        if last == after:
            return fired
        after = last


def run_batch(
    session: Session, automation: AutomationSettings, ctx: Context, *, after_id: int = 0, batch: int = BATCH
) -> tuple[int, int]:
    """One batch of one automation: ``(last customer id looked at, occasions acted on)``."""
    last, occasions = FINDERS[automation.kind](session, automation, ctx, after_id, batch)
    return last, sum(fire(session, automation, occasion, ctx) for occasion in occasions)


def channel_of(automation: AutomationSettings, occasion: Occasion) -> str:
    if automation.category != MARKETING:
        return "notification"
    return "marketing" if occasion.consented else "none"


def fire(session: Session, automation: AutomationSettings, occasion: Occasion, ctx: Context) -> bool:
    """Act on one occasion unless it was acted on already (here, earlier, or by another host now)."""
    key = automation.key(occasion.customer_id, occasion.occasion)
    channel = channel_of(automation, occasion)
    bonus = automation.bonus_points if automation.info.takes_bonus else 0
    record = AutomationOccasion(
        kind=automation.kind,
        customer_id=occasion.customer_id,
        idempotency_key=key,
        occasion=occasion.occasion,
        bonus_points=bonus,
        channel=channel,
        created_at=ctx.now,
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return False
    if bonus > 0:
        _give_bonus(session, automation, occasion.customer_id, bonus, key, ctx)
    if channel == "marketing":
        _queue(session, automation, occasion, key, ctx)
    elif channel == "notification" and occasion.payload is not None:
        notify(session, occasion.customer_id, "points_expiring", key, dict(occasion.payload), ctx.now)
    return True


def _give_bonus(
    session: Session, automation: AutomationSettings, customer_id: int, points: int, key: str, ctx: Context
) -> None:
    customer = ledger.lock_customer(session, customer_id)
    ledger.credit(
        session,
        customer,
        kind="bonus",
        points=points,
        key=key,
        now=ctx.now,
        expires_at=add_months(ctx.now, ctx.rules.expiry_months),
        description=automation.info.title.lower(),
        actor=f"automation:{automation.kind}",
    )


def _queue(session: Session, automation: AutomationSettings, occasion: Occasion, key: str, ctx: Context) -> None:
    customer = session.get(Customer, occasion.customer_id)
    assert customer is not None  # the finder just read it
    names = automation.template_parameters
    values = template_fields.fill(session, customer, names, ctx.now)
    extra = {"bonus_points": str(automation.bonus_points), **occasion.fields}
    params = [
        (extra.get(name) or "-") if name in OCCASION_FIELDS else value
        for name, value in zip(names, values, strict=True)
    ]
    language = template_fields.template_language(automation.template_language, customer)
    marketing.queue_message(
        session, customer.id, automation.template_name, language, params, key=key, now=ctx.now, origin="automation"
    )
