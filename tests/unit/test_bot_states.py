"""The conversation table: every state, command and button id the flows use is declared."""

from __future__ import annotations

import re
from pathlib import Path

from bot import flows
from bot.keywords import KEYWORDS

SOURCE = (Path(flows.__file__)).read_text()


def test_onboarding_states_are_all_handled() -> None:
    assert set(flows.STATES) >= flows.ONBOARDING


def test_every_state_a_flow_moves_to_is_in_the_table() -> None:
    targets = set(re.findall(r'goto\("(\w+)"', SOURCE))
    assert targets and targets <= set(flows.STATES)


def test_every_command_button_has_a_handler() -> None:
    ids = set(re.findall(r'"cmd:(\w+)"', SOURCE))
    assert ids and ids <= set(flows.COMMANDS)


def test_every_keyword_leads_to_a_command() -> None:
    assert set(KEYWORDS) <= set(flows.COMMANDS)
    assert "join" in flows.COMMANDS


def test_handlers_are_functions_of_a_turn() -> None:
    for handler in [*flows.STATES.values(), *flows.COMMANDS.values()]:
        assert callable(handler) and handler.__code__.co_varnames[0] == "turn"


def test_wa_me_links_with_and_without_a_business_number() -> None:
    assert flows.wa_link({"WHATSAPP_DISPLAY_NUMBER": "+91 98000-12345"}, "ABC123") == (
        "https://wa.me/919800012345?text=JOIN%20ABC123"
    )
    assert flows.wa_link({}, "ABC123") == "https://wa.me/?text=JOIN%20ABC123"


def test_every_referral_refusal_the_domain_can_give_has_its_own_answer() -> None:
    from bot.texts import texts_for
    from domain.errors import ReferralRefused

    domain = Path(flows.__file__).resolve().parents[1] / "domain"
    reasons = []
    for name in ("referrals.py", "affiliates.py"):
        reasons += re.findall(r'ReferralRefused\(f?"([^"]+)"', (domain / name).read_text())
    assert len(reasons) >= 7
    for reason in reasons:
        for lang in ("en", "hi"):
            t = texts_for(lang, {})
            assert flows.refusal_text(t, ReferralRefused(reason)) != t._("That code cannot be used."), reason
