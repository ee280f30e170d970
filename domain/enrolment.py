"""Enrolment outside the chat: a till or a script signs a member up by phone.

Invariants:
- One member per phone: enrolling a known phone answers that member and changes nothing about them
  except filling a blank name, and recording marketing consent when it is given now.
- A referral code applies only to a member enrolled by this request (as in the chat, only new members
  can be referred); a refused code refuses the whole enrolment, so the till can retry without it.
- Marketing consent given at a till is a row in the consent ledger (channel ``till``, the key or
  person as actor), never a flag set directly. Enrolling does not give consent to service messages:
  that is the member's own answer in the chat.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from domain import consents, ledger, referrals
from domain.customers import Customer, NewCustomer, enrol
from domain.rules import ProgramRules


@dataclass(frozen=True)
class Enrolled:
    customer: Customer
    created: bool


def enrol_member(
    session: Session,
    phone: str,
    *,
    rules: ProgramRules,
    now: dt.datetime,
    actor: str,
    country_code: int,
    name: str | None = None,
    language: str | None = None,
    referral_code: str | None = None,
    marketing_opt_in: bool | None = None,
) -> Enrolled:
    new = NewCustomer(phone=phone, name=name, language=language or "en", source="api")
    customer, created = enrol(session, new, now, country_code)
    if created and referral_code:
        referrals.apply_code(session, customer, referral_code, rules, now)
    if marketing_opt_in:
        customer = ledger.lock_customer(session, customer.id)
        consents.record(session, customer, consents.MARKETING, True, channel="till", now=now, actor=actor)
    return Enrolled(customer, created)
