"""Console sign-ins as rows, so that any worker can end one at once.

The session cookie carries a random token; only its SHA-256 is stored. A request is
signed in while its token's row is neither revoked nor past ``expires_at`` and the
account is active. Signing out revokes the row; a password change, an unlock, a role
change or an admin's "sign out everywhere" revokes every row of the account, so an
old cookie opens nothing, on whichever worker it arrives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import ForeignKey, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime
from domain.users import StaffUser

KEEP_ENDED = dt.timedelta(days=30)


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    session: Session, user: StaffUser, *, now: dt.datetime, lifetime: dt.timedelta, address: str | None = None
) -> str:
    """A new signed-in session for ``user``; returns the token for the cookie (stored only hashed)."""
    token = secrets.token_urlsafe(32)
    # Rows past their expiry only say who was signed in; a month of them is plenty.
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now - KEEP_ENDED))
    session.add(
        StaffSession(
            token_hash=_digest(token),
            user_id=user.id,
            address=(address or "")[:64] or None,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


def signed_in_user(session: Session, token: str | None, user_id: int, now: dt.datetime) -> StaffUser | None:
    """The active account behind a live session ``token`` of ``user_id``, else None (one query)."""
    if not token:
        return None
    stmt = (
        select(StaffUser)
        .join(StaffSession, StaffSession.user_id == StaffUser.id)
        .where(
            StaffSession.token_hash == _digest(token),
            StaffSession.user_id == user_id,
            StaffSession.revoked_at.is_(None),
            StaffSession.expires_at > now,
            StaffUser.active.is_(True),
        )
    )
    return session.scalar(stmt)


def revoke(session: Session, token: str | None, *, now: dt.datetime, reason: str = "sign_out") -> None:
    """End one session (signing out)."""
    if token:
        session.execute(
            update(StaffSession)
            .where(StaffSession.token_hash == _digest(token), StaffSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )


def revoke_all(session: Session, user_id: int, *, now: dt.datetime, reason: str, keep_token: str | None = None) -> int:
    """End every live session of an account (but ``keep_token``'s); how many were ended."""
    stmt = update(StaffSession).where(
        StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None), StaffSession.expires_at > now
    )
    if keep_token:
        stmt = stmt.where(StaffSession.token_hash != _digest(keep_token))
    result = session.execute(stmt.values(revoked_at=now, revoked_reason=reason))
    return int(getattr(result, "rowcount", 0) or 0)


def live_count(session: Session, user_id: int, now: dt.datetime) -> int:
    """How many sessions of the account are open right now (shown on the staff page)."""
    stmt = select(func.count(StaffSession.id)).where(
        StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None), StaffSession.expires_at > now
    )
    return int(session.scalar(stmt) or 0)
