"""Refresh tokens of staff signed in to the API: rotating, revocable, stored only as a hash.

Invariants:
- A sign-in starts a *family*; each refresh uses up the presented token and issues the next one of the
  same family, so at most one token of a family is unused at any time.
- Presenting a token that was already used (a copy stolen and used by someone else, or by us) revokes
  the whole family: both holders must sign in again. Access tokens name their family, so they stop
  working at once too (the API checks the family on every request).
- A family dies with its user: a deactivated account's tokens refresh no more.
- Only SHA-256 hashes of tokens are stored (256 random bits each: a fast hash is enough).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import ForeignKey, Index, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime
from domain.users import StaffUser

TOKEN_PREFIX = "lr_"


class RefreshToken(Base):
    __tablename__ = "staff_refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    family: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_staff_refresh_tokens_family", "family"),)


@dataclass(frozen=True)
class Issued:
    user: StaffUser
    family: str
    token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_family(session: Session, user: StaffUser, now: dt.datetime, lifetime: dt.timedelta) -> Issued:
    """A fresh sign-in: a new family and its first refresh token."""
    return _issue(session, user, uuid.uuid4().hex, now, lifetime)


def _issue(session: Session, user: StaffUser, family: str, now: dt.datetime, lifetime: dt.timedelta) -> Issued:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        RefreshToken(user_id=user.id, family=family, token_hash=_hash(token), created_at=now, expires_at=now + lifetime)
    )
    session.flush()
    return Issued(user, family, token)


def rotate(session: Session, token: str, now: dt.datetime, lifetime: dt.timedelta) -> Issued | None:
    """Use up ``token`` and issue the next of its family; None when it is unknown, expired or revoked.

    A token used before revokes its family (see the module's invariants); the caller must commit even
    then, so that the revocation sticks.
    """
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash(token)).with_for_update())
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.used_at is not None:
        revoke_family(session, row.family, now)
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        revoke_family(session, row.family, now)
        return None
    row.used_at = now
    return _issue(session, user, row.family, now, lifetime)


def revoke_family(session: Session, family: str, now: dt.datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke_token(session: Session, token: str, now: dt.datetime) -> None:
    """Sign out the family of ``token`` (an unknown token is ignored: signing out twice is fine)."""
    family = session.scalar(select(RefreshToken.family).where(RefreshToken.token_hash == _hash(token)))
    if family is not None:
        revoke_family(session, family, now)


def revoke_user(session: Session, user_id: int, now: dt.datetime) -> None:
    """Sign a person out of the API everywhere."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


def family_alive(session: Session, user_id: int, family: str) -> StaffUser | None:
    """The active user of a family that has not been revoked (for each request with an access token)."""
    alive = (
        select(RefreshToken.id)
        .where(RefreshToken.family == family, RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .limit(1)
    )
    if session.scalar(alive) is None:
        return None
    user = session.get(StaffUser, user_id)
    return user if user is not None and user.active else None
