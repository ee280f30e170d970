"""Lifecycle automations on SQLite and PostgreSQL: who each one reaches on which day, and only once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
import threading
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from domain import automation_runs, automations, consents, ledger
from domain.automation_models import AutomationOccasion
from domain.automations import AutomationSettings
from domain.campaign_models import MarketingMessage
from domain.customers import Customer
from domain.db import Database
from domain.erasure import erase
from domain.ledger import LedgerEntry
from tests.domain_factories import give_points, make_customer, notifications, record_order

DAY = dt.timedelta(days=1)
# 15 June 2026, 15:30 in Kolkata: past every automation's default hour (10:00).
NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


def member(db: Database, *, marketing: bool = True, joined: dt.datetime = NOW - 400 * DAY, **values: object) -> int:
    with db.unit_of_work() as s:
        customer = make_customer(s, joined, name=str(values.pop("name", "Asha")))
        consents.record(s, customer, consents.SERVICE, True, channel="whatsapp", now=joined)
        if marketing:
            consents.record(s, customer, consents.MARKETING, True, channel="whatsapp", now=joined)
        for name, value in values.items():
            setattr(customer, name, value)
        return customer.id


def turn_on(db: Database, kind: str, **changes: object) -> AutomationSettings:
    with db.unit_of_work() as s:
        settings = dataclasses.replace(automations.load(s, kind), enabled=True, **changes)  # type: ignore[arg-type]
        automations.save(s, settings, actor="admin@example.com", now=NOW)
    return settings


def run(db: Database, now: dt.datetime = NOW) -> Counter[str]:
    return automation_runs.run_automations(db.unit_of_work, now)


def queued(db: Database, kind: str | None = None) -> dict[int, MarketingMessage]:
    stmt = select(MarketingMessage).where(MarketingMessage.idempotency_key.like(f"auto:{kind or ''}%"))
    with db.unit_of_work() as s:
        return {m.customer_id: m for m in s.scalars(stmt)}


def bonuses(db: Database, customer_id: int) -> list[LedgerEntry]:
    with db.unit_of_work() as s:
        stmt = select(LedgerEntry).where(LedgerEntry.customer_id == customer_id, LedgerEntry.kind == "bonus")
        return list(s.scalars(stmt))


def test_a_birthday_gives_points_and_queues_the_message_once_on_the_local_day(database: Database) -> None:
    asha = member(database, birthday=dt.date(1990, 6, 15))
    yearless = member(database, name="Ravi", birthday=dt.date(4, 6, 15))  # told us only day and month
    tomorrow = member(database, birthday=dt.date(1990, 6, 16))
    no_offers = member(database, marketing=False, birthday=dt.date(1985, 6, 15))
    nobody = member(database)
    turn_on(database, "birthday", bonus_points=150)

    assert run(database) == Counter(birthday=3)
    messages = queued(database, "birthday")
    assert set(messages) == {asha, yearless}
    assert messages[asha].idempotency_key == f"auto:birthday:{asha}:2026"
    assert messages[asha].template_name == "birthday_bonus" and messages[asha].origin == "automation"
    assert messages[asha].template_parameters == ["Asha", "150"] and messages[yearless].template_parameters[0] == "Ravi"
    for cid in (asha, yearless, no_offers):
        (entry,) = bonuses(database, cid)
        assert entry.delta == 150 and entry.idempotency_key == f"auto:birthday:{cid}:2026"
    assert bonuses(database, tomorrow) == [] and bonuses(database, nobody) == []

    assert run(database) == Counter()
    assert run(database, NOW + dt.timedelta(hours=8)) == Counter()  # still the 15th in Kolkata (23:30)
    restarted = Database(database.url)  # a new process: nothing remembered but the database
    try:
        assert run(restarted) == Counter()
    finally:
        restarted.dispose()
    assert len(queued(database)) == 2 and len(bonuses(database, asha)) == 1
    assert run(database, NOW + DAY) == Counter(birthday=1)  # the 16th: the next member's turn
    with database.unit_of_work() as s:
        assert ledger.verify(s) == []
    assert run(database, NOW + 365 * DAY)["birthday"] == 3  # next year again


def test_nothing_before_the_automations_hour_and_nothing_while_it_is_off(database: Database) -> None:
    member(database, birthday=dt.date(1990, 6, 15))
    morning = dt.datetime(2026, 6, 15, 3, 0, tzinfo=dt.UTC)  # 08:30 in Kolkata
    assert run(database, morning) == Counter()  # off by default
    turn_on(database, "birthday", send_hour=9)
    assert run(database, morning) == Counter()
    assert run(database, morning + dt.timedelta(hours=1)) == Counter(birthday=1)  # 09:30


def test_a_29_february_birthday_is_kept_on_28_february_in_other_years(database: Database) -> None:
    leapling = member(database, birthday=dt.date(2000, 2, 29))
    turn_on(database, "birthday")
    assert run(database, dt.datetime(2027, 2, 28, 6, 0, tzinfo=dt.UTC)) == Counter(birthday=1)
    assert run(database, dt.datetime(2027, 3, 1, 6, 0, tzinfo=dt.UTC)) == Counter()
    assert run(database, dt.datetime(2028, 2, 28, 6, 0, tzinfo=dt.UTC)) == Counter()  # 2028 has its own 29th
    assert run(database, dt.datetime(2028, 2, 29, 6, 0, tzinfo=dt.UTC)) == Counter(birthday=1)
    assert len(bonuses(database, leapling)) == 2


def test_the_join_anniversary_counts_the_years_in_local_days(database: Database) -> None:
    # 14 June 2024 20:00 UTC is already 15 June in Kolkata.
    two_years = member(database, joined=dt.datetime(2024, 6, 14, 20, 0, tzinfo=dt.UTC))
    other_day = member(database, joined=dt.datetime(2024, 6, 14, 17, 0, tzinfo=dt.UTC))  # 22:30 on the 14th
    this_year = member(database, joined=dt.datetime(2026, 6, 15, 4, 0, tzinfo=dt.UTC))
    turn_on(database, "anniversary")
    assert run(database) == Counter(anniversary=1)
    (message,) = queued(database, "anniversary").values()
    assert message.customer_id == two_years and message.template_parameters[:2] == ["Asha", "2"]
    assert run(database) == Counter()
    assert {other_day, this_year}.isdisjoint(queued(database))


def test_win_back_once_per_lapse(database: Database) -> None:
    lapsed = member(database)
    long_gone = member(database)
    recent = member(database)
    with database.unit_of_work() as s:
        record_order(s, lapsed, "L-1", "900", when=NOW - 90 * DAY)
        record_order(s, long_gone, "G-1", "900", when=NOW - 200 * DAY)  # lapsed long before: not a blast
        record_order(s, recent, "R-1", "900", when=NOW - 95 * DAY)
        record_order(s, recent, "R-2", "900", when=NOW - 10 * DAY)
    turn_on(database, "winback", days=(90,))
    assert run(database) == Counter(winback=1)
    assert set(queued(database, "winback")) == {lapsed}
    assert run(database, NOW + 3 * DAY) == Counter()  # the same lapse, days later
    with database.unit_of_work() as s:
        record_order(s, lapsed, "L-2", "500", when=NOW + 5 * DAY)
    assert run(database, NOW + 95 * DAY) == Counter(winback=1)  # lapsed again after buying: a new lapse
    with database.unit_of_work() as s:
        keys = sorted(s.scalars(select(AutomationOccasion.idempotency_key).where(AutomationOccasion.kind == "winback")))
    assert keys == [f"auto:winback:{lapsed}:2026-03-17", f"auto:winback:{lapsed}:2026-06-20"]


def test_expiry_reminders_30_7_and_1_days_before_as_service_notifications(database: Database) -> None:
    rich = member(database, marketing=False)  # service messages only: reminders are utility
    other = member(database)
    stopped = member(database)
    with database.unit_of_work() as s:
        give_points(s, rich, 40, now=NOW - 300 * DAY, expires_at=NOW + 30 * DAY)
        give_points(s, rich, 25, now=NOW - 300 * DAY, expires_at=NOW + 7 * DAY + dt.timedelta(hours=2))
        give_points(s, other, 10, now=NOW - 300 * DAY, expires_at=NOW + 10 * DAY)  # no reminder day
        give_points(s, stopped, 10, now=NOW - 300 * DAY, expires_at=NOW + 7 * DAY)
        person = s.get(Customer, stopped)
        assert person is not None
        consents.record(s, person, consents.SERVICE, False, channel="whatsapp", now=NOW - DAY)
    assert run(database) == Counter(expiry=2)  # on by default: it replaces the earlier warning
    assert run(database) == Counter()
    with database.unit_of_work() as s:
        notes = notifications(s, rich, "points_expiring")
        assert [n.payload["points"] for n in notes] == [40, 25]
        assert notes[0].idempotency_key == f"auto:expiry:{rich}:2026-07-15:30"
        assert notifications(s, other, "points_expiring") == notifications(s, stopped, "points_expiring") == []
    assert queued(database) == {}  # never a marketing message
    assert run(database, NOW + 6 * DAY) == Counter(expiry=1)  # the 25 points, one day before
    assert run(database, NOW + 23 * DAY) == Counter(expiry=1)  # the 40 points, 7 days before
    with database.unit_of_work() as s:
        assert [n.payload["points"] for n in notifications(s, rich, "points_expiring")] == [40, 25, 25, 40]


def test_tier_at_risk_a_week_before_the_review_only_for_those_who_would_drop(database: Database) -> None:
    now = dt.datetime(2026, 6, 24, 6, 0, tzinfo=dt.UTC)  # the review is on 1 July, 7 days away in Kolkata
    at_risk, safe, silver = member(database), member(database), member(database)
    with database.unit_of_work() as s:
        record_order(s, at_risk, "A-1", "26000", when=dt.datetime(2025, 6, 28, tzinfo=dt.UTC), now=now)
        record_order(s, safe, "S-1", "26000", when=now - 30 * DAY, now=now)
        record_order(s, silver, "V-1", "900", when=now - 30 * DAY, now=now)
        for cid in (at_risk, safe):
            customer = s.get(Customer, cid)
            assert customer is not None and customer.tier == "gold"
    turn_on(database, "tier_risk", days=(7,))
    assert run(database, now - DAY) == Counter()  # 8 days before
    assert run(database, now) == Counter(tier_risk=1)
    (message,) = queued(database, "tier_risk").values()
    assert message.customer_id == at_risk
    assert message.template_parameters == ["Asha", "Gold", "₹25,000", "01 Jul 2026"]
    assert run(database, now + dt.timedelta(hours=3)) == Counter()


def test_erased_and_test_members_are_left_out(database: Database) -> None:
    gone = member(database, birthday=dt.date(1990, 6, 15))
    tester = member(database, birthday=dt.date(1990, 6, 15), is_test=True)
    with database.unit_of_work() as s:
        erase(s, gone, now=NOW - DAY, actor="test", hash_key="k")
    turn_on(database, "birthday")
    assert run(database) == Counter()
    assert bonuses(database, gone) == bonuses(database, tester) == []


def test_two_hosts_at_once_act_on_each_occasion_once(pg_database: Database) -> None:
    ids = [member(pg_database, name=f"M{i}", birthday=dt.date(1990, 6, 15)) for i in range(40)]
    turn_on(pg_database, "birthday", bonus_points=50)
    hosts = [Database(pg_database.url) for _ in range(4)]
    start = threading.Barrier(len(hosts))
    results: list[Counter[str]] = []

    def host(db: Database) -> None:
        start.wait()
        results.append(automation_runs.run_automations(db.unit_of_work, NOW, batch=7))

    threads = [threading.Thread(target=host, args=(db,)) for db in hosts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for db in hosts:
        db.dispose()
    assert sum(r["birthday"] for r in results) == 40
    assert set(queued(pg_database)) == set(ids) and len(queued(pg_database)) == 40
    with pg_database.unit_of_work() as s:
        assert s.scalar(select(func.count()).where(LedgerEntry.kind == "bonus")) == 40
        assert s.scalar(select(func.sum(Customer.points_balance))) == 40 * 50
        assert ledger.verify(s) == []


def test_my_data_lists_what_the_automations_did(database: Database) -> None:
    from domain import automation_privacy, data_export

    automation_privacy.register()
    asha = member(database, birthday=dt.date(1990, 6, 15))
    turn_on(database, "birthday", bonus_points=30)
    run(database)
    with database.unit_of_work() as s:
        customer = s.get(Customer, asha)
        assert customer is not None
        document = data_export.export(s, customer, NOW)
    (occasion,) = document["automations"]
    assert occasion == {
        "automation": "birthday",
        "occasion": "2026",
        "bonus_points": 30,
        "told_by": "marketing",
        "at": NOW.isoformat(),
    }


def _host_process(url: str, results: Any) -> None:
    """One scheduler host: its own process, its own connections."""
    import domain.models  # noqa: F401  (every table, as the scheduler process has them)

    db = Database(url)
    try:
        results.put(dict(automation_runs.run_automations(db.unit_of_work, NOW, batch=5)))
    finally:
        db.dispose()


def test_two_scheduler_processes_at_once_act_on_each_occasion_once(pg_database: Database) -> None:
    ids = [member(pg_database, name=f"P{i}", birthday=dt.date(1990, 6, 15)) for i in range(25)]
    turn_on(pg_database, "birthday", bonus_points=10)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    hosts = [context.Process(target=_host_process, args=(pg_database.url, results)) for _ in range(2)]
    for process in hosts:
        process.start()
    counts = [results.get(timeout=120) for _ in hosts]
    for process in hosts:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert sum(c.get("birthday", 0) for c in counts) == 25
    assert set(queued(pg_database)) == set(ids)
    with pg_database.unit_of_work() as s:
        assert s.scalar(select(func.count()).where(LedgerEntry.kind == "bonus")) == 25
        assert ledger.verify(s) == []


def test_the_chat_history_names_the_bonus_in_both_languages(database: Database) -> None:
    from bot.flows.balance import history_line
    from bot.texts import texts_for

    asha = member(database, birthday=dt.date(1990, 6, 15))
    turn_on(database, "birthday", bonus_points=75)
    run(database)
    (entry,) = bonuses(database, asha)
    assert "Bonus · +75" in history_line(texts_for("en", {}), entry)
    assert "बोनस · +" in history_line(texts_for("hi", {}), entry)


def test_an_automation_switched_off_sends_nothing(database: Database) -> None:
    rich = member(database)
    with database.unit_of_work() as s:
        give_points(s, rich, 40, now=NOW - 300 * DAY, expires_at=NOW + 7 * DAY)
        settings = dataclasses.replace(automations.load(s, "expiry"), enabled=False)
        automations.save(s, settings, actor="admin@example.com", now=NOW)
    assert run(database) == Counter()
    with database.unit_of_work() as s:
        assert notifications(s, rich, "points_expiring") == []
        assert s.scalar(select(func.count()).select_from(AutomationOccasion)) == 0
