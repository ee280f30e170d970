"""API keys of the integration API: a name, scopes, an optional rate, and only a hash of the secret.

Invariants:
- The secret is shown once, when the key is made; only its SHA-256 is stored. A key carries 240 bits
  of randomness, so a fast hash is as safe as a slow one and the look-up stays one indexed equality.
- A key works while ``revoked_at`` is NULL. Revoking is final and counts from the next request on:
  every request looks its key up again, nothing caches it.
- At most one unrevoked key has a given name (the audit log names a key ``apikey:NAME``); a revoked
  key's name may be given to its replacement.
- Scopes are a subset of ``SCOPES``; ``rate_limit`` is ``N/second|minute|hour|day`` or NULL (the
  server's default applies).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable

from sqlalchemy import Index, String, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain import audit
from domain.db import Base, UTCDateTime
from domain.errors import NotFound, ValidationError

SCOPES = (
    "members:read",
    "members:write",
    "transactions:write",
    "vouchers:write",
    "holds:write",
    "points:adjust",
    "erp:run",
    "campaigns:write",
)
KEY_PREFIX = "lk_"
SHOWN_PREFIX = 11  # "lk_" and 8 characters of the secret: enough to tell keys apart in a list
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,79}$")
_RATE = re.compile(r"^([1-9][0-9]{0,8})\s*(?:/|per\s+)\s*(second|minute|hour|day)s?$")
# A key used more often than this is not written again: one UPDATE a minute, not one per request.
TOUCH_EVERY = dt.timedelta(minutes=1)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Space-separated, sorted.
    scopes: Mapped[str] = mapped_column(String(300))
    rate_limit: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index(
            "ix_api_keys_live_name",
            "name",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
            sqlite_where=text("revoked_at IS NULL"),
        ),
    )

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def actor(self) -> str:
        """How the audit log names this key."""
        return actor_for(self.name)


def actor_for(name: str) -> str:
    return f"apikey:{name}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(raw: str | Iterable[str]) -> tuple[str, ...]:
    """``members:read,holds:write`` (or a list) as sorted known scopes; refuses unknown ones."""
    items = raw.replace(",", " ").split() if isinstance(raw, str) else [s.strip() for s in raw]
    unknown = sorted({s for s in items if s not in SCOPES})
    if unknown:
        raise ValidationError(f"unknown scope {', '.join(unknown)}; choose from {', '.join(SCOPES)}")
    if not items:
        raise ValidationError("a key needs at least one scope")
    return tuple(sorted(set(items)))


def normalise_rate(raw: str | None) -> str | None:
    """``100/minute`` (also ``100 per minute``, ``100/minutes``) as ``100/minute``; None keeps the default."""
    if raw is None or not raw.strip():
        return None
    match = _RATE.match(raw.strip().lower())
    if match is None:
        raise ValidationError(f"rate {raw!r} is not N/second, N/minute, N/hour or N/day")
    return f"{match.group(1)}/{match.group(2)}"


def create_key(
    session: Session,
    name: str,
    scopes: str | Iterable[str],
    *,
    actor: str,
    now: dt.datetime,
    rate: str | None = None,
) -> tuple[ApiKey, str]:
    """Make a key; returns it and its secret, which is never stored and cannot be shown again."""
    name = name.strip()
    if not _NAME.match(name):
        raise ValidationError("a key name is 1-80 letters, digits or . _ : @ - and starts with a letter or digit")
    chosen, limit = parse_scopes(scopes), normalise_rate(rate)
    if find_live(session, name) is not None:
        raise ValidationError(f"a key named {name} already exists; revoke it first or choose another name")
    secret = KEY_PREFIX + secrets.token_urlsafe(30)
    key = ApiKey(
        name=name,
        prefix=secret[:SHOWN_PREFIX],
        secret_hash=hash_secret(secret),
        scopes=" ".join(chosen),
        rate_limit=limit,
        created_at=now,
        created_by=actor,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="apikey.create",
        entity_type="api_key",
        entity_id=key.id,
        now=now,
        details={"name": name, "scopes": list(chosen), "rate": limit, "prefix": key.prefix},
    )
    return key, secret


def find_live(session: Session, name: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.name == name.strip(), ApiKey.revoked_at.is_(None)))


def authenticate(session: Session, secret: str) -> ApiKey | None:
    """The unrevoked key with this secret, or None."""
    if not secret.startswith(KEY_PREFIX):
        return None
    return session.scalar(select(ApiKey).where(ApiKey.secret_hash == hash_secret(secret), ApiKey.revoked_at.is_(None)))


def touch(session: Session, key_id: int, now: dt.datetime) -> None:
    """Record use, at most once per ``TOUCH_EVERY`` (the condition is in the UPDATE, so it is race-free)."""
    stale = (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < now - TOUCH_EVERY)
    session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, stale)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke(session: Session, name: str, *, actor: str, now: dt.datetime) -> ApiKey:
    key = find_live(session, name)
    if key is None:
        raise NotFound(f"no active API key named {name.strip()}")
    key.revoked_at, key.revoked_by = now, actor
    audit.record(
        session,
        actor=actor,
        action="apikey.revoke",
        entity_type="api_key",
        entity_id=key.id,
        now=now,
        details={"name": key.name, "prefix": key.prefix},
    )
    return key


def revoke_by_id(session: Session, key_id: int, *, actor: str, now: dt.datetime) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound(f"no active API key {key_id}")
    return revoke(session, key.name, actor=actor, now=now)


def list_keys(session: Session, *, include_revoked: bool = True) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.name, ApiKey.id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(stmt))
