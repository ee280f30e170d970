"""The campaign sender with a scripted in-process Graph API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from bot.campaign_sender import CampaignSender
from bot.messages import Reply, Template
from bot.pace import DatabasePace
from bot.sender import SendError
from domain import campaign_outcomes, campaign_results, campaign_test_send, campaigns, consents, marketing
from domain.campaign_models import CampaignEvent, CampaignRecipient, MarketingMessage, MessageCampaign, Undeliverable
from domain.campaign_sending import claim
from domain.campaign_settings import CampaignSettings
from domain.customers import Customer
from domain.db import Database
from domain.segments import Segment
from tests.conftest import app_config
from tests.domain_factories import make_customer
from tests.fakes import FrozenClock

FAST = CampaignSettings(rate_per_second=80, failure_min=1000)


class ScriptedGraph:
    """Answers like the Graph API: a wamid, or the error scripted for a phone (once, or every time)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Template]] = []
        self.script: dict[str, list[SendError]] = {}
        self.lock = threading.Lock()

    def fail(self, phone: str, code: str, *, transient: bool = False, times: int = 1) -> None:
        self.script[phone] = [SendError(f"error {code}", code=code, transient=transient)] * times

    def send(self, phone: str, message: Reply | Template) -> str:
        assert isinstance(message, Template)
        with self.lock:
            errors = self.script.get(phone)
            if errors:
                raise errors.pop(0)
            self.sent.append((phone, message))
            return f"wamid.T{len(self.sent):06d}"

    def to(self, phone: str) -> list[Template]:
        return [m for p, m in self.sent if p == phone]


@pytest.fixture
def graph(app: Flask) -> ScriptedGraph:
    fake = ScriptedGraph()
    app.extensions["bot.sender"] = fake
    return fake


def members(db: Database, clock: FrozenClock, n: int, *, consent: bool = True) -> list[Customer]:
    with db.unit_of_work() as s:
        made = [make_customer(s, clock.now() - dt.timedelta(days=30), name=f"M{i}") for i in range(n)]
        for customer in made:
            if consent:
                when = clock.now() - dt.timedelta(days=20)
                consents.record(s, customer, consents.MARKETING, True, channel="whatsapp", now=when)
    return made


def started(db: Database, clock: FrozenClock, settings: CampaignSettings = FAST, **kw: object) -> int:
    with db.unit_of_work() as s:
        campaign = campaigns.create(
            s,
            name="Offer",
            template_name="weekend_offer",
            parameters=["name", "points", "Diwali"],
            segment=Segment(),
            now=clock.now(),
            settings=settings,
            **kw,  # type: ignore[arg-type]
        )
        campaigns.start(s, campaign, clock.now(), settings, "staff@example.com")
        return campaign.id


def save(db: Database, settings: CampaignSettings) -> None:
    from domain import campaign_settings

    with db.unit_of_work() as s:
        campaign_settings.save(s, settings, "test")


def run(app: Flask, **kw: object) -> Counter[str]:
    return CampaignSender(app, **kw).run()  # type: ignore[arg-type]


def status_of(db: Database, campaign_id: int) -> tuple[str, str | None]:
    with db.unit_of_work() as s:
        campaign = s.get(MessageCampaign, campaign_id)
        assert campaign is not None
        return campaign.status, campaign.pause_reason


def test_each_eligible_member_gets_the_filled_template_once(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    save(database, FAST)
    people = members(database, clock, 12)
    members(database, clock, 3, consent=False)
    with database.unit_of_work() as s:
        stopper = s.get(Customer, people[0].id)
        assert stopper is not None
        consents.record(s, stopper, consents.MARKETING, False, channel="stop_promotions", now=clock.now())
    campaign_id = started(database, clock)
    results = run(app)
    assert results["sent"] == 11
    phones = [p for p, _ in graph.sent]
    assert sorted(phones) == sorted(c.phone for c in people[1:])
    first = graph.to(people[1].phone)[0]
    assert first.name == "weekend_offer" and first.params == ("M1", "0", "Diwali")
    assert first.extra["tracker"] == f"campaign:{campaign_id}:{people[1].id}"
    assert run(app) == Counter()  # nothing twice
    assert status_of(database, campaign_id) == ("done", None)
    with database.unit_of_work() as s:
        counts = campaigns.counts(s, campaign_id)
        accepted = s.scalars(select(MarketingMessage.accepted_at).where(MarketingMessage.campaign_id == campaign_id))
        assert all(a is not None for a in accepted)
    assert counts["sent"] == 11 and counts["pending"] == 0


def test_a_member_who_says_stop_after_the_start_is_skipped_with_the_reason(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    save(database, FAST)
    people = members(database, clock, 3)
    campaign_id = started(database, clock)
    with database.unit_of_work() as s:
        customer = s.get(Customer, people[2].id)
        assert customer is not None
        for purpose in consents.PURPOSES:
            consents.record(s, customer, purpose, False, channel="whatsapp", now=clock.now())
    results = run(app)
    assert results["sent"] == 2 and results["skipped:stop"] == 1
    with database.unit_of_work() as s:
        assert campaigns.counts(s, campaign_id)["skipped"] == 1


def test_errors_are_handled_by_code(app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph) -> None:
    save(database, FAST)
    people = members(database, clock, 5)
    bounced, old_app, throttled, capped, fine = (c.phone for c in people)
    graph.fail(bounced, "131026")
    graph.fail(old_app, "131047")
    graph.fail(throttled, "130429", transient=True, times=2)
    graph.fail(capped, "131049")
    campaign_id = started(database, clock)
    first = run(app)
    assert first["sent"] == 1 and first["failed:131026"] == 1 and first["failed:131047"] == 1
    assert first["retry"] == 2
    clock.advance(seconds=30)
    assert run(app)["retry"] == 1  # the throttled one, refused a second time; 131049 waits a day
    clock.advance(minutes=5)
    assert run(app)["sent"] == 1
    assert status_of(database, campaign_id)[0] == "sending"  # 131049 still to come
    clock.advance(days=1, seconds=1)
    assert run(app)["sent"] == 1
    assert status_of(database, campaign_id)[0] == "done"
    assert len(graph.to(fine)) == len(graph.to(throttled)) == len(graph.to(capped)) == 1
    with database.unit_of_work() as s:
        result = campaign_results.results(s, campaign_id, FAST)
        marked = s.scalar(select(Undeliverable.customer_id))
    assert result.failed_by_reason == {"131026": 1, "131047": 1}
    assert result.counts["sent"] == 3 and marked == people[0].id


def test_a_refused_template_pauses_the_campaign_with_the_reason(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    save(database, CampaignSettings(rate_per_second=5, failure_min=1000))
    people = members(database, clock, 3)
    for customer in people:
        graph.fail(customer.phone, "132001")
    campaign_id = started(database, clock)
    run(app)
    status, reason = status_of(database, campaign_id)
    assert status == "paused" and reason is not None and "132001" in reason


def test_the_failure_rate_threshold_pauses(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    save(database, CampaignSettings(rate_per_second=10, failure_min=4, failure_pause_percent=50))
    people = members(database, clock, 30)
    for customer in people[:20]:
        graph.fail(customer.phone, "131026")
    campaign_id = started(database, clock)
    results = run(app)
    status, reason = status_of(database, campaign_id)
    assert status == "paused" and reason is not None and reason.startswith("failure rate")
    assert results["skipped:not_ours"] > 0 and results["sent"] == 0  # the rest of the batch stopped


def test_quiet_hours_hold_marketing_until_morning(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    save(database, FAST)
    members(database, clock, 2)
    clock.set(dt.datetime(2026, 6, 15, 17, 0, tzinfo=dt.UTC))  # 22:30 in Kolkata
    started(database, clock)
    assert run(app)["sent"] == 0 and graph.sent == []
    clock.set(dt.datetime(2026, 6, 16, 3, 31, tzinfo=dt.UTC))  # 09:01
    assert run(app)["sent"] == 2


def test_the_weekly_cap_counts_campaigns_and_automations_together(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    save(database, FAST)
    (person,) = members(database, clock, 1)
    with database.unit_of_work() as s:
        marketing.queue_message(s, person.id, "birthday", "en", ["M0"], key="birthday:2026", now=clock.now())
    assert run(app)["sent"] == 1
    clock.advance(seconds=10)
    started(database, clock)  # the second of the week: still under the cap of 2
    assert run(app)["sent"] == 1
    clock.advance(seconds=10)
    with database.unit_of_work() as s:
        marketing.queue_message(s, person.id, "birthday", "en", ["M0"], key="birthday:2026", now=clock.now())
        marketing.queue_message(s, person.id, "winback", "en", [], key="winback:1", now=clock.now())
    assert run(app)["skipped:capped"] == 1
    assert [m.name for _, m in graph.sent] == ["birthday", "weekend_offer"]


def test_one_message_per_member_per_six_seconds(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    save(database, FAST)
    (person,) = members(database, clock, 1)
    with database.unit_of_work() as s:
        marketing.queue_message(s, person.id, "a", "en", [], key="a", now=clock.now())
        marketing.queue_message(s, person.id, "b", "en", [], key="b", now=clock.now())
    assert run(app)["sent"] == 1
    clock.advance(seconds=3)
    assert run(app)["sent"] == 0
    clock.advance(seconds=4)
    assert run(app)["sent"] == 1


def test_past_the_messaging_limit_the_campaign_pauses_saying_why(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    save(database, CampaignSettings(rate_per_second=80, messaging_limit_24h=5))
    members(database, clock, 5)
    campaign_id = started(database, clock, CampaignSettings(rate_per_second=80, messaging_limit_24h=5))
    members(database, clock, 2)  # joined after the start: not recipients
    assert run(app)["sent"] == 5
    with database.unit_of_work() as s:
        campaign = s.get(MessageCampaign, campaign_id)
        assert campaign is not None
        campaign.status = "draft"
        second = campaigns.create(s, name="More", template_name="t", segment=Segment(), now=clock.now(), settings=FAST)
        with pytest.raises(campaigns.CampaignLimitExceeded):
            campaigns.start(s, second, clock.now(), CampaignSettings(messaging_limit_24h=5), None)


def test_a_sender_killed_mid_request_never_sends_twice_and_one_killed_before_never_skips(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    save(database, FAST)
    people = members(database, clock, 3)
    campaign_id = started(database, clock)
    with database.unit_of_work() as s:
        batch, _ = claim(s, clock.now(), FAST, "dead-host", 10)
    mid_request, before_request = batch[0], batch[1]
    with database.unit_of_work() as s:
        assert campaign_outcomes.begin_send(s, mid_request, "dead-host", clock.now())
    # ... and the process dies: no answer recorded, leases run out.
    clock.advance(minutes=3)
    results = run(app)
    assert results["sent"] == 2
    sent_to = sorted(p for p, _ in graph.sent)
    assert sent_to == sorted(c.phone for c in people if c.id != mid_request.customer_id)
    assert before_request.customer_id in {c.id for c in people}
    with database.unit_of_work() as s:
        row = s.get(CampaignRecipient, mid_request.id)
        assert row is not None and row.status == "sent" and row.unconfirmed
        # Its status webhook, matched by the key we sent as biz_opaque_callback_data, confirms it.
        assert campaign_results.apply_status(s, "wamid.LATE", "delivered", clock.now(), tracker=mid_request.key)
    with database.unit_of_work() as s:
        row = s.get(CampaignRecipient, mid_request.id)
        assert row is not None and row.status == "delivered" and not row.unconfirmed and row.wamid == "wamid.LATE"
        assert campaigns.counts(s, campaign_id)["sent"] == 3


def test_status_webhooks_move_recipients_forward_only(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    save(database, FAST)
    people = members(database, clock, 3)
    campaign_id = started(database, clock)
    run(app)
    with database.unit_of_work() as s:
        wamids = {cid: str(w) for cid, w in s.execute(select(CampaignRecipient.customer_id, CampaignRecipient.wamid))}
    now = clock.now()
    with database.unit_of_work() as s:
        a, b, c = (wamids[p.id] for p in people)
        for wamid, status in ((a, "read"), (a, "delivered"), (b, "delivered"), (b, "failed"), (c, "failed")):
            campaign_results.apply_status(s, wamid, status, now, error_code="131026" if status == "failed" else None)
        campaign_results.note_reply(s, people[0].id, now + dt.timedelta(hours=1))
        result = campaign_results.results(s, campaign_id, FAST)
        undeliverable = s.scalar(select(Undeliverable.customer_id))
    assert result.counts == {"sent": 2, "delivered": 2, "read": 1, "failed": 1, "skipped": 0, "pending": 0}
    assert result.replied == 1 and undeliverable == people[2].id


def test_quality_and_template_webhooks_pause_with_the_reason(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    from domain import campaign_health

    members(database, clock, 2)
    first = started(database, clock, FAST)
    with database.unit_of_work() as s:
        assert campaign_health.on_template(s, "other_template", "en", "PAUSED", clock.now()) == []
        assert campaign_health.on_template(s, "weekend_offer", "en", "PAUSED", clock.now(), "low quality") == [first]
        reason = s.scalar(select(CampaignEvent.reason).where(CampaignEvent.action == "pause"))
    assert reason == "template weekend_offer is PAUSED: low quality"
    with database.unit_of_work() as s:
        campaign = s.get(MessageCampaign, first)
        assert campaign is not None
        campaigns.resume(s, campaign, clock.now(), "staff")
        assert campaign_health.on_quality(s, "FLAGGED", clock.now()) == [first]
        draft = campaigns.create(s, name="x", template_name="y", segment=Segment(), now=clock.now(), settings=FAST)
        with pytest.raises(campaigns.CampaignBlocked):
            campaigns.start(s, draft, clock.now(), FAST, None)


def test_retargeting_those_who_did_not_read(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    save(database, FAST)
    people = members(database, clock, 3)
    campaign_id = started(database, clock)
    run(app)
    with database.unit_of_work() as s:
        wamid = s.scalar(select(CampaignRecipient.wamid).where(CampaignRecipient.customer_id == people[0].id))
        assert wamid is not None
        campaign_results.apply_status(s, wamid, "read", clock.now())
    clock.advance(days=8)  # the weekly cap lets them hear from us again
    with database.unit_of_work() as s:
        again = campaign_results.retarget_unread(s, campaign_id, clock.now(), FAST, "staff")
        rows = list(campaign_results.recipients_rows(s, campaign_id))
    assert again.status == "draft" and again.audience == 2 and again.retarget_of_id == campaign_id
    assert len(rows) == 3 and {r[4] for r in rows} == {"read", "sent"}


def test_the_database_pace_hands_out_consecutive_slots(database: Database) -> None:
    one, two = DatabasePace(database), DatabasePace(database)
    a = one.reserve(10, 20.0)
    b = two.reserve(10, 20.0)
    assert b - a == pytest.approx(0.5, abs=0.05)
    two.hold(2.0)
    c = one.reserve(1, 20.0)
    assert c - time.time() > 1.8  # held: the next slot is two seconds out, for both
    one.hold(0.1)  # a shorter hold never brings the next slot closer
    assert two.reserve(1, 20.0) > c


def _two_senders(app: Flask, make: Callable[[str], CampaignSender]) -> list[Counter[str]]:
    out: list[Counter[str]] = []
    threads = [threading.Thread(target=lambda o=owner: out.append(make(o).run())) for owner in ("host-a", "host-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


@pytest.fixture
def pg_app(pg_database: Database, clock: FrozenClock) -> Iterator[Flask]:
    from loyalty import create_app

    application = create_app(app_config(pg_database.url))
    application.extensions["loyalty.clock"] = clock
    yield application
    application.extensions["loyalty.db"].dispose()


def test_two_senders_share_the_work_and_never_double_send(
    pg_app: Flask, pg_database: Database, clock: FrozenClock
) -> None:
    graph = ScriptedGraph()
    pg_app.extensions["bot.sender"] = graph
    save(pg_database, CampaignSettings(rate_per_second=20))  # batches of 40: both hosts get some
    people = members(pg_database, clock, 120)
    started(pg_database, clock, CampaignSettings(rate_per_second=20))
    results = _two_senders(pg_app, lambda owner: CampaignSender(pg_app, owner=owner))
    assert sum(r["sent"] for r in results) == 120
    assert all(r["sent"] > 0 for r in results)  # both hosts took a share
    assert sorted(p for p, _ in graph.sent) == sorted(c.phone for c in people)


def test_a_report_that_overtakes_the_answer_is_applied_once_the_id_is_written(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    from bot.models import EarlyStatus

    save(database, FAST)
    members(database, clock, 1)
    campaign_id = started(database, clock)
    with database.unit_of_work() as s:  # what bot.status keeps for an id nobody has yet
        s.add(EarlyStatus(wa_message_id="wamid.T000001", status="delivered", at=clock.now(), received_at=clock.now()))
    run(app)
    with database.unit_of_work() as s:
        assert campaigns.counts(s, campaign_id)["delivered"] == 1
        assert s.scalar(select(EarlyStatus.id)) is None


def test_a_test_send_goes_to_staff_test_members_only(
    app: Flask, database: Database, clock: FrozenClock, graph: ScriptedGraph
) -> None:
    from domain.errors import ValidationError

    save(database, FAST)
    (member,) = members(database, clock, 1)
    with database.unit_of_work() as s:
        staff = make_customer(s, clock.now(), name="Staff")
        staff.is_test = True
        consents.record(s, staff, consents.MARKETING, True, channel="console", now=clock.now())
        campaign = campaigns.create(
            s, name="Try", template_name="offer", parameters=["name"], segment=Segment(), now=clock.now(), settings=FAST
        )
        assert campaign.audience == 1  # the test member is not in the audience
        assert member.phone is not None and staff.phone is not None
        with pytest.raises(ValidationError):  # a real customer's number is never a test number
            campaign_test_send.send_test(
                s, campaign, [member.phone], nonce="n1", now=clock.now(), settings=FAST, actor="admin@example.com"
            )
        (queued,) = campaign_test_send.send_test(
            s, campaign, [staff.phone], nonce="n1", now=clock.now(), settings=FAST, actor="admin@example.com"
        )
        assert queued.campaign_id == campaign.id and queued.origin == "test"
        staff_phone = staff.phone
    assert run(app)["sent"] == 1
    assert [(p, m.params) for p, m in graph.sent] == [(staff_phone, ("Staff",))]
