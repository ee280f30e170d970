"""Staff sign-in: the password check, the account lock-out and the per-address throttle.

Every refusal looks the same from outside (:data:`REFUSED`): an unknown email, a wrong
password, a locked and an inactive account all get one answer after one password hash,
so neither the text nor the time tells which emails are accounts.

Two counters, both in the database so that every worker and host sees them:

* per account (``StaffUser.failed_logins``, ``domain.users.record_failure``, shared with the
  API's staff tokens): the fifth wrong password in a row locks it for ``LOCK_MINUTES``;
* per client address (``SignInFailure`` rows): ``ADDRESS_MAX_FAILURES`` failures in
  ``ADDRESS_WINDOW`` block the address. A success clears only the failures of that
  address *on that account*, so signing in to one's own account does not reset the count
  of guesses at everyone else's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain import audit
from domain.db import Base, UTCDateTime
from domain.users import (
    LOCK_MINUTES,
    MAX_FAILED_LOGINS,
    StaffUser,
    check_password,
    find_user,
    hash_password,
    is_locked,
    record_failure,
    record_success,
)

ADDRESS_WINDOW = dt.timedelta(minutes=15)
ADDRESS_MAX_FAILURES = 30
REFUSED = (
    f"Wrong email or password. After {MAX_FAILED_LOGINS} failed attempts "
    f"an account is locked for {LOCK_MINUTES} minutes."
)
THROTTLED = "Too many failed sign-ins from this address. Wait a few minutes and try again."

# Checked when the email is unknown, so that answering takes as long as for a real account.
_DUMMY_HASH = hash_password("not-a-real-password")


class SignInFailure(Base):
    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(254))
    failed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (Index("ix_sign_in_failures_address", "address", "failed_at"),)


def address_blocked(session: Session, address: str, now: dt.datetime) -> bool:
    stmt = select(func.count(SignInFailure.id)).where(
        SignInFailure.address == address[:64], SignInFailure.failed_at > now - ADDRESS_WINDOW
    )
    return int(session.scalar(stmt) or 0) >= ADDRESS_MAX_FAILURES


def record_address_failure(session: Session, address: str, email: str, now: dt.datetime) -> None:
    session.execute(delete(SignInFailure).where(SignInFailure.failed_at <= now - ADDRESS_WINDOW))
    session.add(SignInFailure(address=address[:64], email=_email(email), failed_at=now))


def clear_address_failures(session: Session, address: str, email: str) -> None:
    """After a success: forget this address's failures on this account only."""
    session.execute(
        delete(SignInFailure).where(SignInFailure.address == address[:64], SignInFailure.email == _email(email))
    )


def _email(email: str) -> str:
    return email.strip().lower()[:254]


def authenticate(session: Session, email: str, password: str, address: str, now: dt.datetime) -> StaffUser | None:
    """The account when the password is right and it may sign in; None otherwise, whatever the reason.

    The caller checks :func:`address_blocked` first. A wrong password while the account is
    locked is not counted again (the lock would never end under a steady guesser).
    """
    user = find_user(session, email)
    right = check_password(user.password_hash if user is not None else _DUMMY_HASH, password)
    if user is None or not right or not user.active or is_locked(user, now):
        if user is not None and not right and not is_locked(user, now):
            record_failure(user, now)
            if is_locked(user, now):
                audit.record(
                    session,
                    actor=user.email,
                    action="user.locked",
                    entity_type="staff_user",
                    entity_id=user.id,
                    now=now,
                )
        record_address_failure(session, address, email, now)
        return None
    record_success(user, now)
    clear_address_failures(session, address, email)
    return user
