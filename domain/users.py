"""Staff accounts for the console and the CLI. Passwords are scrypt-hashed."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets

from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime, utcnow
from domain.errors import ValidationError
from domain.passwords import weakness

ROLES = ("admin", "manager", "support")
# Sign-in lock-out, the same for the console and the API's staff tokens: the fifth wrong password in a
# row locks the account for LOCK_MINUTES.
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_N, _R, _P = 2**14, 8, 1


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Flask-Login reads these; plain attributes keep the domain free of Flask.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def can(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(stored: str, password: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def validate_password(password: str, email: str | None = None) -> None:
    """Refuse a weak staff password (see ``domain.passwords``)."""
    reason = weakness(password, email)
    if reason is not None:
        raise ValidationError(reason)


def set_password(user: StaffUser, password: str) -> None:
    """A new password for ``user``; the caller ends the account's other sessions (``staff_sessions.revoke_all``)."""
    validate_password(password, user.email)
    user.password_hash = hash_password(password)


def create_user(session: Session, email: str, role: str, password: str, name: str | None = None) -> StaffUser:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise ValidationError(f"{email!r} is not an email address")
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}")
    validate_password(password, email)
    if find_user(session, email) is not None:
        raise ValidationError(f"a staff account for {email} already exists")
    user = StaffUser(
        email=email, name=name, role=role, password_hash=hash_password(password), active=True, failed_logins=0
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, email: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email.strip().lower()))


def is_locked(user: StaffUser, now: dt.datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def record_failure(user: StaffUser, now: dt.datetime) -> None:
    """Count a wrong password; the fifth in a row locks the account for a while."""
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
        user.failed_logins = 0


def record_success(user: StaffUser, now: dt.datetime) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
