"""Points as payment over the wire: a till opens a hold through the integration API, the payment request
reaches the local Graph API, the member answers with a signed button reply, the till captures or releases.

Everything is real HTTP: ``POST /api/v1/holds`` with an API key made by the CLI, the real pywa sender
pointed at the Graph API stand-in, Meta's documented interactive ``button_reply`` posted to ``/webhook``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from domain.db import Database
from tests.bot_chat import make_customer
from tests.e2e import meta
from tests.e2e.conftest import LiveApp, WhatsAppUser
from tests.e2e.graph_api import Recorded
from tests.fakes import FrozenClock

WA_ID = "919812345678"
LOCAL_PHONE = "09812345678"


class Till:
    """A till calling the integration API with its key."""

    def __init__(self, live: LiveApp) -> None:
        made = live.app.test_cli_runner().invoke(
            args=["apikeys", "create", "till-fc-road", "--scopes", "holds:write,members:read"]
        )
        assert made.exit_code == 0, made.output
        key = made.output.strip().splitlines()[-1]
        self.live = live
        self.http = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def post(self, path: str, body: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
        response = self.http.post(path, json=body or {})
        assert response.status_code == status, response.text
        self.live.settle()  # the member's message goes out once the request committed
        found: dict[str, Any] = response.json()
        return found

    def get(self, path: str) -> dict[str, Any]:
        response = self.http.get(path)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def open_hold(self, points: int = 120) -> dict[str, Any]:
        return self.post("/api/v1/holds", {"phone": LOCAL_PHONE, "points": points, "store": "FC Road"}, status=201)

    def points(self) -> dict[str, int]:
        found: dict[str, int] = self.get(f"/api/v1/members?phone={LOCAL_PHONE}")["points"]
        return found


@pytest.fixture
def till(live_app: LiveApp) -> Iterator[Till]:
    client = Till(live_app)
    yield client
    client.http.close()


def new_replies(whatsapp: WhatsAppUser, before: int) -> list[Recorded]:
    return whatsapp.replies()[before:]


def payment_request(whatsapp: WhatsAppUser, hold_id: int) -> Recorded:
    (request,) = [r for r in whatsapp.replies() if f"hold:confirm:{hold_id}" in dict(r.options)]
    assert request.body["interactive"]["type"] == "button"
    assert request.options == [(f"hold:confirm:{hold_id}", "Confirm"), (f"hold:decline:{hold_id}", "Decline")]
    return request


def tap(whatsapp: WhatsAppUser, button_id: str, title: str) -> list[Recorded]:
    before = len(whatsapp.replies())
    whatsapp.send(meta.button_reply(WA_ID, button_id, title))
    return new_replies(whatsapp, before)


def test_the_member_confirms_on_whatsapp_and_the_till_captures(
    database: Database, whatsapp: WhatsAppUser, till: Till
) -> None:
    make_customer(database, points=500)
    whatsapp.say("hi")  # inside the 24-hour window: an interactive message
    hold = till.open_hold()
    assert (hold["status"], hold["points"], hold["value"]) == ("pending", 120, {"amount": "30.00", "currency": "INR"})
    assert "code" not in hold
    request = payment_request(whatsapp, hold["id"])
    assert "Pay 120 points (₹30) at FC Road?" in request.text
    assert re.search(r"Your payment code: \*\d{6}\*", request.text)
    assert till.points()["held"] == 120 and till.points()["available"] == 380

    (reply,) = tap(whatsapp, f"hold:confirm:{hold['id']}", "Confirm")
    assert reply.text.startswith("Confirmed: 120 points (₹30) are held for your payment.")
    seen = till.get(f"/api/v1/holds/{hold['id']}")
    assert (seen["status"], seen["verified_via"]) == ("held", "whatsapp")

    before = len(whatsapp.replies())
    captured = till.post(f"/api/v1/holds/{hold['id']}/capture")
    assert (captured["status"], captured["captured_points"]) == ("captured", 120)
    (notice,) = new_replies(whatsapp, before)
    assert notice.text == "You paid 120 points at FC Road.\nYour balance: 380 points."
    assert till.points() == {"balance": 380, "available": 380, "held": 0, "owed": 0}

    (again,) = tap(whatsapp, f"hold:confirm:{hold['id']}", "Confirm")  # a late second tap changes nothing
    assert again.text == "This payment is already complete."
    assert till.get(f"/api/v1/holds/{hold['id']}")["status"] == "captured"


def test_the_member_declines_and_the_points_are_free_at_once(
    database: Database, whatsapp: WhatsAppUser, till: Till
) -> None:
    make_customer(database, points=500)
    whatsapp.say("hi")
    hold = till.open_hold(200)
    payment_request(whatsapp, hold["id"])
    (reply,) = tap(whatsapp, f"hold:decline:{hold['id']}", "Decline")
    assert reply.text == "Declined: nothing was paid, and your 200 points stay yours."
    assert till.get(f"/api/v1/holds/{hold['id']}")["status"] == "declined"
    assert till.points()["available"] == 500
    refused = till.http.post(f"/api/v1/holds/{hold['id']}/capture", json={})
    assert refused.status_code == 409 and refused.json()["code"] == "hold_not_open"


def test_outside_the_window_the_code_comes_as_the_template_and_the_cashier_types_it(
    database: Database, whatsapp: WhatsAppUser, till: Till, clock: FrozenClock
) -> None:
    make_customer(database, points=500)
    whatsapp.say("hi")
    clock.advance(hours=25)  # the member last wrote more than 24 hours ago
    hold = till.open_hold()
    (template,) = [r for r in whatsapp.replies() if r.type == "template"]
    body = template.body["template"]
    assert body["name"] == "points_payment_code"
    (code,) = [p["text"] for c in body["components"] if c["type"] == "body" for p in c["parameters"]]
    assert re.fullmatch(r"\d{6}", code)
    assert till.get(f"/api/v1/holds/{hold['id']}")["status"] == "pending"

    verified = till.post(f"/api/v1/holds/{hold['id']}/verify", {"code": code})
    assert (verified["status"], verified["verified_via"]) == ("held", "code")
    before = len(whatsapp.replies())
    till.post(f"/api/v1/holds/{hold['id']}/capture", {"points": 100})
    (notice,) = new_replies(whatsapp, before)  # still outside the window: the notice is a template too
    assert notice.type == "template" and notice.body["template"]["name"] == "points_paid"
    assert till.points() == {"balance": 400, "available": 400, "held": 0, "owed": 0}


def test_a_release_by_the_till_tells_the_member_and_a_tap_after_it_changes_nothing(
    database: Database, whatsapp: WhatsAppUser, till: Till
) -> None:
    make_customer(database, points=500)
    whatsapp.say("hi")
    hold = till.open_hold()
    before = len(whatsapp.replies())
    released = till.post(f"/api/v1/holds/{hold['id']}/release", {"reason": "customer paid cash"})
    assert released["status"] == "released"
    (notice,) = new_replies(whatsapp, before)
    assert notice.text == (
        "The payment of 120 points at the till was cancelled, so nothing was paid.\nYour balance: 500 points."
    )
    (reply,) = tap(whatsapp, f"hold:confirm:{hold['id']}", "Confirm")
    assert reply.text == "This payment request was cancelled, so nothing was paid."
    assert till.get(f"/api/v1/holds/{hold['id']}")["status"] == "released"
    assert till.points()["available"] == 500


def test_outside_the_window_the_member_can_write_confirm_instead(
    database: Database, whatsapp: WhatsAppUser, till: Till, clock: FrozenClock
) -> None:
    make_customer(database, language="hi", points=500)
    whatsapp.say("नमस्ते")
    clock.advance(hours=30)
    hold = till.open_hold()
    (template,) = [r for r in whatsapp.replies() if r.type == "template"]
    assert template.body["template"]["language"]["code"] == "hi"
    (reply,) = whatsapp.say("पुष्टि करें")
    assert reply.text.startswith("पुष्टि हो गई: आपके भुगतान के लिए 120 अंक (₹30) रोके गए हैं।")
    assert till.get(f"/api/v1/holds/{hold['id']}")["status"] == "held"
