"""WhatsApp's limits on interactive messages, enforced on every reply the bot builds."""

from __future__ import annotations

import pytest

from bot import replies as rp
from bot.messages import Button, Reply, Row, Section


def test_a_valid_text_buttons_and_list_pass() -> None:
    assert rp.text("hello").kind == "text"
    assert len(rp.buttons("pick", [("a", "A"), ("b", "B"), ("c", "C")]).buttons) == 3
    rows = [(f"r{n}", f"Row {n}", "x" * 72) for n in range(10)]
    assert len(rp.listing("pick", "Menu", rows).sections[0].rows) == 10


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        (lambda: rp.buttons("pick", [("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")]), "4 buttons"),
        (lambda: rp.buttons("pick", []), "0 buttons"),
        (lambda: rp.buttons("pick", [("a", "x" * 21)]), "limit 20"),
        (lambda: rp.buttons("pick", [("a", "A"), ("a", "B")]), "unique"),
        (lambda: rp.buttons("x" * 1025, [("a", "A")]), "limit 1024"),
        (lambda: rp.listing("pick", "Menu", [(f"r{n}", "Row", None) for n in range(11)]), "11 list rows"),
        (lambda: rp.listing("pick", "Menu", [("r", "x" * 25, None)]), "limit 24"),
        (lambda: rp.listing("pick", "Menu", [("r", "Row", "x" * 73)]), "longer than 72"),
        (lambda: rp.listing("pick", "x" * 21, [("r", "Row", None)]), "list button"),
        (lambda: rp.listing("pick", "Menu", [("r", "Row", None)], section="x" * 25), "section title"),
        (lambda: rp.text("x" * 4097), "limit 4096"),
        (lambda: rp.text("   "), "empty body"),
        (lambda: rp.buttons("pick", [("", "A")]), "option id"),
    ],
)
def test_replies_beyond_the_limits_are_refused(build: object, problem: str) -> None:
    with pytest.raises(rp.LimitExceeded, match=problem):
        build()  # type: ignore[operator]


def test_validate_checks_hand_built_replies_too() -> None:
    bad = Reply(kind="text", body="hi", buttons=(Button("a", "A"),))
    with pytest.raises(rp.LimitExceeded, match="cannot carry"):
        rp.validate(bad)
    rows = tuple(Row(f"r{n}", "Row") for n in range(6))
    with pytest.raises(rp.LimitExceeded, match="12 list rows"):
        rp.validate(Reply(kind="list", body="b", list_button="Menu", sections=(Section("A", rows), Section("B", rows))))


def test_text_of_exactly_the_limit_passes() -> None:
    assert len(rp.text("x" * 4096).body) == 4096


def test_fit_shortens_with_an_ellipsis_and_keeps_short_text() -> None:
    assert rp.fit("Weekend spa voucher for two people", 24) == "Weekend spa voucher for…"
    assert len(rp.fit("Weekend spa voucher for two people", 24)) == 24
    assert rp.fit("Mug", 24) == "Mug"


def test_options_lists_buttons_and_rows_in_order() -> None:
    assert rp.options(rp.buttons("b", [("a", "A"), ("b", "B")])) == [("a", "A"), ("b", "B")]
    assert rp.options(rp.listing("b", "M", [("x", "X", None), ("y", "Y", "d")])) == [("x", "X"), ("y", "Y")]
    assert rp.options(rp.text("t")) == []
