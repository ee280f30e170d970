"""``domain.holds``: the member's answer to a hold, the holds waiting for it, and the member's notices
after a capture or a release (never after their own Decline)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import holds, ledger
from domain.db import Database
from domain.errors import NotFound
from domain.holds import Answer, Verification
from domain.notifications import Notification
from tests.domain_factories import NOW, give_points, make_customer

MINUTE = dt.timedelta(minutes=1)


def member(s: Session, points: int = 500) -> int:
    customer = make_customer(s)
    give_points(s, customer.id, points)
    return customer.id


def open_hold(s: Session, cid: int, points: int = 120, store: str | None = "FC Road") -> int:
    return holds.open_hold(s, cid, points, minutes=15, now=NOW, actor="apikey:till", store=store).hold.id


def notices(s: Session) -> list[tuple[str, str, dict[str, Any]]]:
    rows = s.scalars(select(Notification).order_by(Notification.id))
    return [(n.kind, n.idempotency_key, n.payload) for n in rows]


def test_confirm_holds_and_decline_gives_back_without_a_notice(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = member(s)
        yes, no = open_hold(s, cid), open_hold(s, cid, 80)
        hold, outcome = holds.answer(s, yes, cid, True, NOW + MINUTE)
        assert outcome is Answer.CONFIRMED and (hold.status, hold.verified_via) == ("held", "whatsapp")
        hold, outcome = holds.answer(s, no, cid, False, NOW + MINUTE)
        assert outcome is Answer.DECLINED and hold.status == "declined" and hold.closed_at == NOW + MINUTE
        customer = ledger.lock_customer(s, cid)
        assert (customer.points_held, customer.points_available) == (120, 380)
        assert notices(s) == [] and holds.verify(s) == []


@pytest.mark.parametrize("then", ["confirm", "decline", "capture", "release"])
def test_an_answer_to_a_hold_that_is_not_pending_changes_nothing(database: Database, then: str) -> None:
    with database.unit_of_work() as s:
        cid = member(s)
        hold_id = open_hold(s, cid)
        if then in ("confirm", "capture"):
            holds.answer(s, hold_id, cid, True, NOW)
        if then == "capture":
            holds.capture(s, hold_id, None, NOW)
        if then == "decline":
            holds.answer(s, hold_id, cid, False, NOW)
        if then == "release":
            holds.release(s, hold_id, NOW)
        before = holds.get(s, hold_id).status, ledger.lock_customer(s, cid).points_held, len(notices(s))
        for confirmed in (True, False):
            hold, outcome = holds.answer(s, hold_id, cid, confirmed, NOW + MINUTE)
            assert outcome is Answer.NOT_PENDING
        after = hold.status, ledger.lock_customer(s, cid).points_held, len(notices(s))
        assert after == before


def test_an_answer_after_the_time_releases_the_hold_once(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = member(s)
        hold_id = open_hold(s, cid)
        late = NOW + 15 * MINUTE
        hold, outcome = holds.answer(s, hold_id, cid, True, late)
        assert outcome is Answer.EXPIRED and (hold.status, hold.status_reason, hold.closed_at) == (
            "released",
            "expired",
            late,
        )
        assert ledger.lock_customer(s, cid).points_held == 0
        assert notices(s) == []  # the chat reply tells the member
        assert holds.answer(s, hold_id, cid, False, late + MINUTE)[1] is Answer.EXPIRED
        assert holds.expire_due(s, late + MINUTE) == 0


def test_another_members_hold_is_not_found_like_one_that_does_not_exist(database: Database) -> None:
    with database.unit_of_work() as s:
        cid, other = member(s), member(s)
        theirs = open_hold(s, other)
        for hold_id in (theirs, theirs + 1000):
            with pytest.raises(NotFound):
                holds.answer(s, hold_id, cid, True, NOW)
        assert holds.get(s, theirs).status == "pending"


def test_the_holds_waiting_for_an_answer_newest_first(database: Database) -> None:
    with database.unit_of_work() as s:
        cid, other = member(s), member(s)
        first, second, confirmed = open_hold(s, cid, 50), open_hold(s, cid, 50), open_hold(s, cid, 50)
        open_hold(s, other)
        holds.answer(s, confirmed, cid, True, NOW)
        assert [h.id for h in holds.pending_for(s, cid, NOW)] == [second, first]
        assert holds.pending_for(s, cid, NOW + 15 * MINUTE) == []  # past their time, even before the expiry job


def test_a_capture_tells_the_member_what_was_paid_and_what_came_back(database: Database) -> None:
    with database.unit_of_work() as s:
        cid = member(s)
        hold_id = open_hold(s, cid)
        holds.answer(s, hold_id, cid, True, NOW)
        holds.capture(s, hold_id, 100, NOW + MINUTE)
        assert notices(s) == [
            (
                "points_paid",
                f"hold:{hold_id}:captured",
                {"points": 100, "returned": 20, "store": "FC Road", "balance": 400},
            )
        ]
        assert ledger.lock_customer(s, cid).points_held == 0 and holds.verify(s) == []


def test_releases_tell_the_member_why(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(holds, "new_code", lambda: "123456")
    with database.unit_of_work() as s:
        cid = member(s)
        by_till, by_clock, by_codes = open_hold(s, cid, 100), open_hold(s, cid, 100, store=None), open_hold(s, cid, 100)
        holds.release(s, by_till, NOW, "customer paid cash")
        holds.release(s, by_till, NOW)  # already released: no second notice
        verdicts = [holds.verify_code(s, by_codes, "654321", NOW)[1] for _ in range(holds.MAX_CODE_ATTEMPTS)]
        assert verdicts[-1] is Verification.LOCKED
        assert holds.expire_due(s, NOW + 15 * MINUTE) == 1
        found = {key: (kind, payload["why"], payload["points"], payload["store"]) for kind, key, payload in notices(s)}
        assert found == {
            f"hold:{by_till}:released": ("points_released", "till", 100, "FC Road"),
            f"hold:{by_codes}:released": ("points_released", "too many wrong codes", 100, "FC Road"),
            f"hold:{by_clock}:released": ("points_released", "expired", 100, None),
        }
        assert ledger.lock_customer(s, cid).points_held == 0 and holds.verify(s) == []
