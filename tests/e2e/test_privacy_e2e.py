"""The member's rights over the wire: signed webhooks in, the Graph API stand-in out, the console and the
CLI checked afterwards, as the contract describes them."""

from __future__ import annotations

import json
import logging
import re
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from domain import orders
from domain.customers import Customer
from domain.db import Database
from domain.rules import load_rules
from tests.bot_chat import NOW, SEE
from tests.e2e.conftest import LiveApp, WhatsAppUser
from tests.e2e.test_flows_e2e import PHONE, WA_ID, Customer_
from tests.integration.test_admin_security import make_staff

NAME = "Asha"  # the WhatsApp profile name the payloads carry


@pytest.fixture
def asha(whatsapp: WhatsAppUser) -> Customer_:
    return Customer_(whatsapp)


def onboard(asha: Customer_, lang: str) -> None:
    asha.say("hi")
    asha.press(SEE[lang]["lang_button"])
    asha.press(SEE[lang]["yes_consent"])
    asha.press(SEE[lang]["no_offers"])
    asha.press(SEE[lang]["no_code"])
    assert SEE[lang]["menu_q"] in asha.text()


def buy(database: Database, amount: str) -> None:
    with database.unit_of_work() as session:
        customer = session.scalars(select(Customer).where(Customer.phone == PHONE)).one()
        data = orders.OrderData(
            erp_order_id="E-77", customer_id=customer.id, order_date=NOW, net_amount=Decimal(amount)
        )
        orders.record_order(session, data, load_rules(session), NOW)


def staff(live_app: LiveApp, database: Database) -> httpx.Client:
    """A signed-in admin on the live server."""
    make_staff(database, "admin@example.com", "admin")
    client = httpx.Client(base_url=live_app.url, timeout=30)
    page = client.get("/admin/login").text
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert token
    signed = client.post(
        "/admin/login", data={"email": "admin@example.com", "password": "correct horse battery", "csrf_token": token[1]}
    )
    assert signed.status_code == 302
    return client


@pytest.mark.parametrize("lang", ["en", "hi"])
def test_a_member_gets_their_data_in_chat(asha: Customer_, database: Database, lang: str) -> None:
    onboard(asha, lang)
    buy(database, "5000.00")
    asha.say("my data" if lang == "en" else "मेरा डेटा")
    summary = asha.text()
    assert PHONE in summary and NAME in summary and "50" in summary
    assert re.search(r"DR-[0-9A-Z]{8}", summary)
    asha.press("Send full copy" if lang == "en" else "पूरी कॉपी भेजें")
    link = re.search(r"(http://\S+/privacy/export/\S+)", asha.text())
    assert link, asha.text()
    document = httpx.get(link[1].split("?")[0], timeout=30).json()
    assert document["member"]["phone"] == PHONE and document["orders"][0]["erp_order_id"] == "E-77"
    assert any(m["direction"] == "from you" for m in document["messages"])
    csv = httpx.get(link[1].split("?")[0] + "?format=csv", timeout=30).text
    assert f"member,1,phone,{PHONE}" in csv


def test_after_erasure_nothing_shows_the_phone_or_name_and_the_books_add_up(
    asha: Customer_, database: Database, live_app: LiveApp, caplog: pytest.LogCaptureFixture
) -> None:
    onboard(asha, "en")
    buy(database, "5000.00")
    runner = live_app.app.test_cli_runner()
    before = json.loads(runner.invoke(args=["loyalty", "totals"]).output)
    asha.say("delete my data")
    assert "You will lose 50 points" in asha.text()
    caplog.set_level(logging.DEBUG)
    asha.press("Yes, delete")
    assert "Your data has been erased" in asha.text()
    live_app.settle()

    verify = runner.invoke(args=["loyalty", "verify"])
    assert verify.exit_code == 0, verify.output
    after = json.loads(runner.invoke(args=["loyalty", "totals"]).output)
    assert after["points_outstanding"] == before["points_outstanding"] - 50
    assert after["points_forfeited"] == before["points_forfeited"] + 50
    for kind in ("points_earned", "points_redeemed", "points_expired", "sales_amount"):
        assert after[kind] == before[kind]
    # What was logged from the confirmation on (before the checks below search for the number themselves):
    # INFO and up from anyone, as production logs; DEBUG too from our own packages. (pywa's DEBUG lines name
    # the farewell's recipient: that one message must still reach the number.)
    ours = ("bot", "domain", "erp", "admin", "loyalty", "runtime")
    shown = [r for r in caplog.records if r.levelno >= logging.INFO or r.name.split(".")[0] in ours]
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in shown)
    assert shown and WA_ID[2:] not in logged and NAME not in logged

    client = staff(live_app, database)
    with database.unit_of_work() as session:
        (cid,) = session.scalars(select(Customer.id)).all()
    for url in (
        f"/admin/customers?q={PHONE}",
        f"/admin/customers?q={NAME}",
        f"/admin/customers/{cid}",
        "/admin/messages",
        "/admin/conversations",
        "/admin/audit",
        "/admin/privacy?show=all",
        "/admin/reports?kind=members",
        "/admin/reports?kind=ledger",
        "/admin/",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        for secret in (PHONE, WA_ID, WA_ID[2:], NAME):
            assert secret not in page.text, (url, secret)
    dashboard = client.get("/admin/").text
    assert f"<strong>{after['points_outstanding']:,}</strong>" in dashboard
    export = runner.invoke(args=["members", "export", PHONE])
    assert export.exit_code == 1 and WA_ID[2:] not in export.output
    client.close()
