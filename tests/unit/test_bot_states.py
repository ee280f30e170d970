"""The conversation table: every state, command and button id the flows use is declared."""

from __future__ import annotations

import re
from pathlib import Path

from bot import business_number
from bot.flows import referral
from bot.flows.table import COMMANDS, STATES, TABLE, Reach

FLOWS = Path(referral.__file__).resolve().parent
SOURCE = "\n".join(path.read_text() for path in sorted(FLOWS.glob("*.py")) if path.name != "table.py")  # the flows


def test_onboarding_states_are_all_handled() -> None:
    assert set(STATES) >= TABLE.onboarding
    assert TABLE.onboarding == {"start", "language", "consent", "marketing", "referral_question", "referral_code"}


def test_every_state_a_flow_moves_to_is_in_the_table() -> None:
    targets = set(re.findall(r'goto\("(\w+)"', SOURCE))
    assert targets and targets <= set(STATES)


def test_every_command_button_has_a_handler() -> None:
    ids = set(re.findall(r'"cmd:(\w+)"', SOURCE))
    assert ids and ids <= set(COMMANDS)


def test_every_other_button_offered_is_declared_with_the_state_that_answers_it() -> None:
    # ("consent:yes", t._(...)) and (f"reward:{r.id}", ...): the ids of offered buttons and rows
    offered = {re.sub(r"\{.*", "", i) for i in re.findall(r'\(f?"([a-z_]+:[a-z_]*(?:\{[^}]*\})?)",', SOURCE)}
    declared = {button for state in STATES.values() for button in state.buttons}
    assert {i for i in offered if not i.startswith("cmd:")} == declared


def test_every_command_can_be_typed() -> None:
    assert all(command.words or command.code_words for command in COMMANDS.values())
    assert "join" in COMMANDS and COMMANDS["join"].code_words


def test_only_stop_and_agent_interrupt_onboarding_and_only_withdrawals_start_and_payments_reach_staff() -> None:
    """A cashier waiting on a points payment is not held up by staff having the conversation, nor is a withdrawal."""
    assert {name for name, c in COMMANDS.items() if c.reach is Reach.ANYONE} == {"stop", "agent"}
    assert {name for name, c in COMMANDS.items() if c.reach is Reach.CONSENTED} == {"start"}
    assert {name for name, c in COMMANDS.items() if c.while_handed_off} == {
        "stop",
        "start",
        "offers_off",
        "hold_confirm",
        "hold_decline",
    }


def test_handlers_are_functions_of_a_turn() -> None:
    for row in [*STATES.values(), *COMMANDS.values()]:
        handler = row.handler
        assert callable(handler) and handler.__code__.co_varnames[0] == "turn"


def test_wa_me_links_with_and_without_a_business_number() -> None:
    known = business_number.BusinessNumber("919800012345", "+91 98000-12345", None, "setting", None, None)
    unknown = business_number.BusinessNumber(None, None, None, "none", None, "not read yet")
    assert business_number.wa_link(known, "ABC123") == "https://wa.me/919800012345?text=JOIN%20ABC123"
    assert business_number.wa_link(unknown, "ABC123") is None  # never https://wa.me/?text=...


def test_business_numbers_are_digits_with_the_country_code_for_wa_me() -> None:
    assert business_number.digits_of("+1 555-096-7852") == "15550967852"
    assert business_number.digits_of("15550967852") == "15550967852"
    assert business_number.digits_of("098000 12345", 91) == "919800012345"
    assert business_number.digits_of("+91 98000-12345") == "919800012345"
    for junk in (None, "", "   ", "not a number", "123", 919800012345):
        assert business_number.digits_of(junk) is None


def test_every_referral_refusal_the_domain_can_give_has_its_own_answer() -> None:
    from bot.texts import texts_for
    from domain.errors import ReferralRefused

    domain = FLOWS.parents[1] / "domain"
    reasons = []
    for name in ("referrals.py", "affiliates.py"):
        reasons += re.findall(r'ReferralRefused\(f?"([^"]+)"', (domain / name).read_text())
    assert len(reasons) >= 7
    for reason in reasons:
        for lang in ("en", "hi"):
            t = texts_for(lang, {})
            assert referral.refusal_text(t, ReferralRefused(reason)) != t._("That code cannot be used."), reason
