"""Segments, eligibility, the frequency cap and starting a campaign, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import campaigns, consents, marketing, segments
from domain.campaign_models import CampaignRecipient, MarketingMessage
from domain.campaign_settings import CampaignSettings, in_quiet_hours, quiet_until
from domain.customers import Customer
from domain.db import Database
from domain.errors import InvalidTransition, ValidationError
from domain.segments import Segment
from tests.domain_factories import NOW, give_points, make_customer, record_order

SETTINGS = CampaignSettings()


def opted_in(session: Session, name: str = "Asha", when: dt.datetime = NOW - dt.timedelta(days=10)) -> Customer:
    customer = make_customer(session, when, name=name)
    consents.record(session, customer, consents.MARKETING, True, channel="whatsapp", now=when)
    session.flush()
    return customer


def accepted(session: Session, customer: Customer, n: int, when: dt.datetime = NOW - dt.timedelta(days=1)) -> None:
    for i in range(n):
        key = f"t:{customer.id}:{i}:{when.isoformat()}"
        marketing.record_accepted(
            session, customer.id, key=key, campaign_id=None, template=("promo", "en", ()), wamid=None, now=when
        )
    session.flush()


def test_audience_counts_who_is_held_back_and_why(database: Database) -> None:
    with database.unit_of_work() as s:
        for _ in range(3):
            opted_in(s)
        make_customer(s)  # never asked: no consent
        typed_stop = opted_in(s)
        for purpose in consents.PURPOSES:  # what the bot's STOP does
            consents.record(s, typed_stop, purpose, False, channel="whatsapp", now=NOW - dt.timedelta(hours=1))
        pressed = opted_in(s)
        consents.record(
            s, pressed, consents.MARKETING, False, channel="stop_promotions", now=NOW - dt.timedelta(hours=2)
        )
        bounced = opted_in(s)
        marketing.mark_undeliverable(s, bounced.id, "131026", NOW - dt.timedelta(days=2))
        old_bounce = opted_in(s)  # 131026 long ago: tried again
        marketing.mark_undeliverable(s, old_bounce.id, "131026", NOW - dt.timedelta(days=60))
        full = opted_in(s)
        accepted(s, full, 2)
        once = opted_in(s)  # one this week, one last month: under the cap of 2
        accepted(s, once, 1)
        accepted(s, once, 1, NOW - dt.timedelta(days=30))
        tester = opted_in(s)
        tester.is_test = True
        gone = opted_in(s)
        gone.erased_at = NOW
        s.flush()
        found = segments.audience(s, Segment(), NOW, SETTINGS)
        with_tests = segments.audience(s, Segment(), NOW, SETTINGS, include_test=True)
        ids = set(s.scalars(segments.eligible_ids(Segment(), NOW, SETTINGS)))
        why = {c.id: marketing.why_held(s, c.id, NOW, SETTINGS) for c in (typed_stop, pressed, bounced, full, tester)}
    assert found.eligible == 5
    assert found.held_back == {"stop": 2, "no_consent": 1, "undeliverable": 1, "capped": 1}
    assert with_tests.eligible == 6
    assert len(ids) == 5 and full.id not in ids and old_bounce.id in ids and once.id in ids
    assert why == {
        typed_stop.id: "stop",
        pressed.id: "stop",
        bounced.id: "undeliverable",
        full.id: "capped",
        tester.id: "test",
    }


def test_the_check_before_a_send_reads_the_ledger_at_the_moment(database: Database) -> None:
    with database.unit_of_work() as s:
        customer = opted_in(s, when=NOW + dt.timedelta(hours=1))  # consents only after NOW
        before = marketing.why_held(s, customer.id, NOW, SETTINGS)
        after = marketing.why_held(s, customer.id, NOW + dt.timedelta(hours=2), SETTINGS)
        counted = segments.audience(s, Segment(), NOW + dt.timedelta(hours=2), SETTINGS)
    assert (before, after, counted.eligible) == ("no_consent", None, 1)


def test_counting_by_the_flags_agrees_with_the_ledger(database: Database) -> None:
    """The count reads the members' cached flags; the same rules read from the ledger pick the same people."""
    with database.unit_of_work() as s:
        for i in range(6):
            customer = opted_in(s)
            if i % 2:
                consents.record(s, customer, consents.MARKETING, False, channel="console", now=NOW)
            if i == 3:
                consents.record(
                    s, customer, consents.MARKETING, True, channel="till", now=NOW + dt.timedelta(seconds=1)
                )
        make_customer(s)
        later = NOW + dt.timedelta(minutes=1)
        by_flag = dict(s.execute(select(Customer.id, marketing.hold_reason(later, SETTINGS))).all())
        by_ledger = dict(s.execute(select(Customer.id, marketing.hold_reason(later, SETTINGS, exact=True))).all())
    assert by_flag == by_ledger and sorted(by_flag.values()).count("eligible") == 4


def test_segment_fields_filter_members(database: Database) -> None:
    with database.unit_of_work() as s:
        gold = opted_in(s, "Gold")
        gold.tier, gold.language = "gold", "hi"
        give_points(s, gold.id, 500, now=NOW - dt.timedelta(days=5), expires_at=NOW + dt.timedelta(days=5))
        record_order(s, gold.id, "O-1", "2500.00", when=NOW - dt.timedelta(days=3))
        lapsed = opted_in(s, "Lapsed")
        record_order(s, lapsed.id, "O-2", "400.00", when=NOW - dt.timedelta(days=200))
        lapsed.birthday = dt.date(1990, 6, 2)
        new = opted_in(s, "New")  # no orders, no points
        new.affiliate_id = None
        s.flush()

        def who(**fields: object) -> set[str | None]:
            segment = Segment.from_json(fields)
            names = set(s.scalars(select(Customer.name).where(segments.matches(segment, NOW))))
            assert segments.audience(s, segment, NOW, SETTINGS).eligible == len(names)
            return names

        assert who(tiers=["gold"]) == {"Gold"}
        assert who(languages=["hi"]) == {"Gold"}
        assert who(min_points=100) == {"Gold"}
        assert who(max_points=100) == {"Lapsed", "New"}
        assert who(expiring_within_days=7) == {"Gold"}
        assert who(expiring_within_days=3) == set()
        assert who(last_purchase_before=(NOW - dt.timedelta(days=90)).isoformat()) == {"Lapsed"}
        assert who(last_purchase_after="2026-06-01") == {"Gold"}
        assert who(spend_min="2000.00", spend_days=30) == {"Gold"}
        assert who(spend_max="1000.00", spend_days=30) == {"Lapsed", "New"}
        assert who(birthday_months=[6]) == {"Lapsed"}
        assert who(affiliate_referred=False) == {"Gold", "Lapsed", "New"}
        assert who(affiliate_referred=True) == set()
        assert who(stores=["Till 1"]) == set()


@pytest.mark.parametrize(
    "fields",
    [
        {"tiers": "x", "colour": "red"},
        {"min_points": -1},
        {"min_points": 5, "max_points": 1},
        {"languages": ["fr"]},
        {"spend_min": 10.5},
        {"birthday_months": [13]},
        {"last_purchase_after": "yesterday"},
    ],
)
def test_bad_segments_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Segment.from_json(fields)


def test_segment_round_trips_through_json() -> None:
    segment = Segment.from_json({"tiers": ["gold"], "min_points": 10, "spend_min": "99.50", "birthday_months": [3, 1]})
    assert Segment.from_json(segment.to_json()) == segment
    assert segment.to_json()["birthday_months"] == [1, 3]


def test_queue_message_is_once_per_key(database: Database) -> None:
    with database.unit_of_work() as s:
        customer = opted_in(s)
        first = marketing.queue_message(s, customer.id, "birthday", "en", ["Asha"], key="birthday:1:2026", now=NOW)
        again = marketing.queue_message(s, customer.id, "other", "hi", [], key="birthday:1:2026", now=NOW)
        total = s.scalar(select(func.count(MarketingMessage.id)))
    assert again.id == first.id and again.template_name == "birthday" and total == 1


def test_start_writes_each_eligible_member_once_and_refuses_past_the_limit(database: Database) -> None:
    with database.unit_of_work() as s:
        for _ in range(4):
            opted_in(s)
        make_customer(s)
        campaign = campaigns.create(
            s,
            name="Diwali",
            template_name="diwali_offer",
            parameters=["name"],
            segment=Segment(),
            now=NOW,
            settings=SETTINGS,
        )
        assert campaign.status == "draft" and campaign.audience == 4
        small = CampaignSettings(messaging_limit_24h=3)
        with pytest.raises(campaigns.CampaignLimitExceeded):
            campaigns.start(s, campaign, NOW, small, "staff@example.com")
        campaigns.start(s, campaign, NOW, SETTINGS, "staff@example.com")
        assert campaign.status == "sending"
        again = campaigns.materialise(s, campaign, Segment(), NOW, SETTINGS)
        keys = sorted(s.scalars(select(CampaignRecipient.idempotency_key)))
        with pytest.raises(InvalidTransition):
            campaigns.start(s, campaign, NOW, SETTINGS, None)
        campaigns.pause(s, campaign, NOW, "x", "paused by staff")
        campaigns.resume(s, campaign, NOW, "x")
        skipped = campaigns.cancel(s, campaign, NOW, "x")
        counts = campaigns.counts(s, campaign.id)
    assert again == 0 and len(keys) == 4 and keys[0].startswith(f"campaign:{campaign.id}:")
    assert skipped == 4 and counts["skipped"] == 4 and counts["pending"] == 0


def test_a_future_send_at_only_schedules(database: Database) -> None:
    with database.unit_of_work() as s:
        opted_in(s)
        campaign = campaigns.create(
            s,
            name="Later",
            template_name="t",
            segment=Segment(),
            now=NOW,
            settings=SETTINGS,
            send_at=NOW + dt.timedelta(hours=3),
        )
        campaigns.start(s, campaign, NOW, SETTINGS, None)
        written = s.scalar(select(func.count(CampaignRecipient.id)))
    assert campaign.status == "scheduled" and written == 0


def test_quiet_hours_are_kolkata_time() -> None:
    evening = dt.datetime(2026, 6, 15, 15, 45, tzinfo=dt.UTC)  # 21:15 IST
    morning = dt.datetime(2026, 6, 15, 3, 0, tzinfo=dt.UTC)  # 08:30 IST
    noon = dt.datetime(2026, 6, 15, 6, 30, tzinfo=dt.UTC)  # 12:00 IST
    assert in_quiet_hours("21-9", evening) and in_quiet_hours("21-9", morning) and not in_quiet_hours("21-9", noon)
    assert not in_quiet_hours("none", evening)
    assert quiet_until("21-9", evening) == dt.datetime(2026, 6, 16, 3, 30, tzinfo=dt.UTC)
    assert quiet_until("21-9", morning) == dt.datetime(2026, 6, 15, 3, 30, tzinfo=dt.UTC)
    assert quiet_until("21-9", noon) == noon
    with pytest.raises(ValidationError):
        CampaignSettings(quiet_hours="late").validate()
    with pytest.raises(ValidationError):
        CampaignSettings(rate_per_second=81).validate()
