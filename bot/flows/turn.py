"""One inbound message being handled: the :class:`Turn` every flow's handler gets, and the program rules."""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.keywords import Command, Keywords
from bot.messages import Incoming, Reply
from bot.models import Conversation
from bot.texts import LANGUAGES, Texts, texts_for
from domain import user_ids
from domain.customers import Customer
from domain.rules import RULES_KEY, ProgramRules, Setting, load_rules

Handler = Callable[["Turn"], list[Reply]]


class Answers(Protocol):
    """A row of the table that answers with a handler (``bot.flows.table.Command``)."""

    @property
    def handler(self) -> Handler: ...


class Table(Protocol):
    """What a flow may read of the table (``bot.flows.table.TABLE``), which imports every flow."""

    @property
    def keywords(self) -> Keywords: ...
    @property
    def commands(self) -> Mapping[str, Answers]: ...
    @property
    def states(self) -> Mapping[str, Answers]: ...
    @property
    def state_keys(self) -> tuple[str, ...]: ...


@dataclass
class Turn:
    """One inbound message being handled: the conversation, the message, and helpers.

    ``table`` is the conversation's table (``bot.flows.table``), for the few flows that hand a
    message on to another: a returning customer's first "points" gets the points.
    """

    session: Session
    conv: Conversation
    incoming: Incoming
    now: dt.datetime
    config: Mapping[str, Any]
    data: dict[str, Any]
    table: Table = field(repr=False)
    choice: str | None = None
    command: Command | None = None
    _customer: Customer | None = field(default=None, repr=False)
    _customer_known: bool = field(default=False, repr=False)

    @property
    def t(self) -> Texts:
        return texts_for(self.language, self.config, lambda: self.rules.timezone)

    @property
    def language(self) -> str:
        if self.conv.language in LANGUAGES:
            return self.conv.language
        customer = self.customer
        if customer is not None:
            return customer.language
        return str(self.config.get("DEFAULT_LOCALE") or "en").partition("_")[0]

    @property
    def customer(self) -> Customer | None:
        # Looked up once per message, also when there is no such customer (a new number):
        # each look-up by phone is a phonenumbers parse and a SELECT.
        if not self._customer_known:
            if self.conv.customer_id is not None:
                self._customer = self.session.get(Customer, self.conv.customer_id)
            elif self.conv.phone.startswith("+"):  # already E.164: no need to parse it again
                self._customer = self.session.scalar(select(Customer).where(Customer.phone == self.conv.phone))
            else:  # a username-only sender's user id (or a number stored in another form)
                self._customer = user_ids.find_member(self.session, self.conv.phone)
            self._customer_known = True
        return self._customer

    def forget_customer(self) -> None:
        """After a rolled-back savepoint the customer must be read again."""
        self._customer, self._customer_known = None, False

    def require_customer(self) -> Customer:
        customer = self.customer
        assert customer is not None, "flows after onboarding always have a customer"
        return customer

    def remember(self, customer: Customer) -> None:
        self._customer, self._customer_known = customer, True
        self.conv.customer_id = customer.id

    @functools.cached_property
    def rules(self) -> ProgramRules:
        return current_rules(self.session)

    @property
    def text(self) -> str:
        return (self.incoming.text or "").strip()

    def goto(self, state: str, **values: Any) -> None:
        """Move to ``state``; data of the previous state is dropped."""
        self.conv.state = state
        for key in self.table.state_keys:
            self.data.pop(key, None)
        self.data.update(values)


_rules_cache: dict[str, tuple[Any, ProgramRules]] = {}
_rules_lock = threading.Lock()


def current_rules(session: Session) -> ProgramRules:
    """The program rules, parsed again only when the settings row changed.

    Reading the row's ``updated_at`` is one indexed look-up of a small column; parsing
    and validating the JSON document is what costs, and it changes rarely. A console
    edit bumps ``updated_at``, so the next message already uses the new rules.
    """
    stamp = session.scalar(select(Setting.updated_at).where(Setting.key == RULES_KEY))
    key = str(session.get_bind().engine.url)
    with _rules_lock:
        cached = _rules_cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    rules = load_rules(session)
    with _rules_lock:
        _rules_cache[key] = (stamp, rules)
    return rules
