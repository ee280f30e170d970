"""The member's rights in chat through ``bot.engine.handle``: my data, the full copy, a corrected name, erasure
with its confirmation and cooling-off, and the consent question's link to the privacy notice."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from bot import export_links, notice
from bot.models import Conversation
from domain import consents, data_requests, ledger, notices, privacy_settings, rewards
from domain.customers import Customer
from domain.data_requests import DataRequest
from domain.db import Database
from domain.rules import ProgramRules
from tests.bot_chat import LANGS, NOW, PHONE, SEE, Chat, load_customer, make_customer

SAY = {
    "en": {
        "my_data": "my data",
        "delete": "delete my data",
        "summary": "Here is what we hold about you",
        "copy": "Send full copy",
        "name": "Correct my name",
        "yes": "Yes, delete",
        "keep": "Keep my data",
        "erased": "Your data has been erased",
        "lose": "You will lose 150 points and 1 open voucher.",
    },
    "hi": {
        "my_data": "मेरा डेटा",
        "delete": "मेरा डेटा मिटाएँ",
        "summary": "आपके बारे में हमारे पास यह जानकारी है",
        "copy": "पूरी कॉपी भेजें",
        "name": "मेरा नाम सुधारें",
        "yes": "हाँ, मिटाएँ",
        "keep": "मेरा डेटा रखें",
        "erased": "आपका डेटा मिटा दिया गया है",
        "lose": "आपके 150 अंक और 1 खुला वाउचर ख़त्म हो जाएँगे।",
    },
}


def member_with_a_voucher(database: Database, lang: str) -> int:
    cid = make_customer(database, language=lang, points=250)
    with database.unit_of_work() as s:
        mug = rewards.add_reward(s, name="Mug", points_cost=100)
        rewards.redeem(s, cid, mug.id, ProgramRules(), NOW)
    return cid


def references(text: str) -> list[str]:
    return re.findall(r"DR-[0-9A-Z]{8}", text)


@pytest.mark.parametrize("lang", LANGS)
def test_my_data_sends_a_summary_and_the_full_copy_on_request(database: Database, lang: str) -> None:
    cid = member_with_a_voucher(database, lang)
    chat = Chat(database)
    chat.send("hi")
    chat.send(SAY[lang]["my_data"])
    summary = chat.text()
    assert SAY[lang]["summary"] in summary and "Asha Verma" in summary and PHONE in summary
    assert "150" in summary and "/privacy?lang=" + lang in summary
    (ref,) = references(summary)
    chat.pick(SAY[lang]["copy"])
    links = re.findall(r"https?://\S+/privacy/export/(\S+?)(?:\?format=csv)?(?=\s|$)", chat.text())
    assert len(links) == 2 and links[0] == links[1]
    found = export_links.read_token(chat.config, links[0], 3600)
    assert found is not None and found[0] == cid
    with database.unit_of_work() as s:
        done = [(r.kind, r.status, r.handled_by, r.channel) for r in data_requests.of_customer(s, cid)]
        assert done == [("export", "done", "automatic", "whatsapp"), ("access", "done", "automatic", "whatsapp")]
        assert s.scalar(select(DataRequest.reference).where(DataRequest.kind == "access")) == ref


def test_correct_my_name(database: Database) -> None:
    cid = make_customer(database)
    chat = Chat(database)
    chat.send("hi")
    chat.send("correct my name")
    assert "Please type your name" in chat.text()
    chat.send("  Asha   Kumari Verma ")
    assert "Thank you, Asha Kumari Verma" in chat.text() and references(chat.text())
    assert load_customer(database).name == "Asha Kumari Verma"
    chat.send("correct my name")
    chat.send("12345")
    assert "nothing was changed" in chat.text() and load_customer(database).name == "Asha Kumari Verma"
    with database.unit_of_work() as s:
        kinds = [(r.kind, r.details) for r in data_requests.of_customer(s, cid)]
        assert kinds == [("correction", {"field": "name"})]


@pytest.mark.parametrize("lang", LANGS)
def test_delete_my_data_asks_says_what_is_lost_and_erases_on_yes(database: Database, lang: str) -> None:
    cid = member_with_a_voucher(database, lang)
    chat = Chat(database)
    chat.send("hi")
    chat.send(SAY[lang]["delete"])
    assert SAY[lang]["lose"] in chat.text()
    assert chat.titles() == [SAY[lang]["yes"], SAY[lang]["keep"]]
    chat.pick(SAY[lang]["keep"])
    assert load_customer(database).points_balance == 150  # nothing happened
    chat.send(SAY[lang]["delete"])
    (ref,) = references(chat.text())
    chat.pick(SAY[lang]["yes"])
    assert SAY[lang]["erased"] in chat.text() and ref in chat.text()
    with database.unit_of_work() as s:
        c = s.get(Customer, cid)
        assert c is not None and c.is_erased and c.phone == f"erased-{cid}" and c.name is None
        assert s.get(Conversation, PHONE) is None
        assert ledger.verify(s) == [] and consents.mismatches(s) == []
        statuses = sorted((r.kind, r.status) for r in data_requests.of_customer(s, cid))
        assert statuses == [("erasure", "cancelled"), ("erasure", "done")]
    chat.send("hi")  # the number writes again: a stranger now
    assert "Which language do you prefer?" in chat.text()


def test_a_typed_yes_confirms_too(database: Database) -> None:
    make_customer(database, points=10)
    chat = Chat(database)
    chat.send("hi")
    chat.send("DELETE MY DATA")
    chat.send("yes")
    assert "Your data has been erased" in chat.text()


def test_with_a_cooling_off_period_the_erasure_waits_and_can_be_cancelled(database: Database) -> None:
    from loyalty import privacy_jobs

    cid = make_customer(database, points=10)
    with database.unit_of_work() as s:
        privacy_settings.save(s, privacy_settings.PrivacySettings(erasure_cooling_off_hours=48), "admin")
    chat = Chat(database)
    chat.send("hi")
    chat.send("delete my data")
    assert "48 hours after you confirm" in chat.text()
    chat.pick("Yes, delete")
    assert "will be erased on 17 Jun 2026" in chat.text()
    chat.send("delete my data")  # asking again only says when
    assert "will be erased on" in chat.text() and not load_customer(database).is_erased
    chat.send("keep my data")
    assert "nothing was deleted" in chat.text()
    chat.send("delete my data")
    chat.send("yes")
    with database.unit_of_work() as s:
        request = data_requests.open_erasure(s, cid)
        assert request is not None and request.status == "scheduled"
    app = _job_app(database, NOW + dt.timedelta(hours=47))
    assert privacy_jobs.run_due_erasures(app) == 0
    app = _job_app(database, NOW + dt.timedelta(hours=49))
    assert privacy_jobs.run_due_erasures(app) == 1
    with database.unit_of_work() as s:
        assert s.get(Customer, cid).is_erased  # type: ignore[union-attr]
        assert [r.handled_by for r in data_requests.of_customer(s, cid) if r.status == "done"] == ["automatic"]


def _job_app(database: Database, now: dt.datetime) -> object:
    from loyalty import create_app
    from tests.conftest import app_config
    from tests.fakes import FrozenClock

    app = create_app(app_config(database.url))
    app.extensions["loyalty.clock"] = FrozenClock(now)
    return app


@pytest.mark.parametrize("lang", LANGS)
def test_the_consent_question_links_the_notice_and_records_the_version_shown(database: Database, lang: str) -> None:
    chat = Chat(database)
    chat.send("hi")
    chat.pick(SEE[lang]["lang_button"])
    assert f"/privacy?lang={lang}" in chat.text()
    chat.pick(SEE[lang]["yes_consent"])
    with database.unit_of_work() as s:
        customer = s.scalars(select(Customer)).one()
        (row,) = consents.history(s, customer.id)
        assert (row.purpose, row.granted, row.notice_version, row.language) == (
            "service",
            True,
            notice.default_label(),
            lang,
        )
        notices.publish(s, {"en": "## A\nB", "hi": "## क\nख"}, languages=("en", "hi"), actor="admin", now=NOW)
    chat.send("stop")
    chat.send("start")
    other = Chat(database, "+919876543210")
    other.send("hi")
    other.pick(SEE[lang]["lang_button"])
    other.pick(SEE[lang]["no_consent"])
    with database.unit_of_work() as s:
        newcomer = s.scalar(select(Customer).where(Customer.phone == "+919876543210"))
        assert newcomer is not None
        assert [(r.granted, r.notice_version) for r in consents.history(s, newcomer.id)] == [(False, "v1")]


def test_a_member_the_erp_enrolled_can_ask_before_onboarding(database: Database) -> None:
    make_customer(database, opted_in=None)  # known from the ERP, never wrote to us
    chat = Chat(database)
    chat.send("delete my data")
    assert "Delete all your data?" in chat.text()
    chat.pick("Keep my data")
    chat.send("my data")
    assert "Here is what we hold about you" in chat.text() and "Service messages: no" in chat.text()
    chat.send("hello")
    assert "Which language do you prefer?" in chat.text()  # onboarding still comes
