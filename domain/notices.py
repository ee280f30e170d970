"""The privacy notice (DPDP Act s.5): versioned, one text per language, published by admins.

Invariants:
- A version is published once, with a text for every language, and never edited afterwards:
  a consent row's ``notice_version`` names exactly what the member was shown.
- The newest published version is the current notice. Before the first one, the text shipped
  with the software is shown, named ``default-<digest>`` by whoever renders it (``bot``), so a
  changed shipped text is a different version too.
- The text is itemised: a line ``## Title`` starts an item, lines ``- ...`` are its points,
  other lines its paragraphs (``parse``). Nothing else is markup, so an admin cannot inject HTML.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.db import Base, UTCDateTime
from domain.errors import ValidationError

MAX_BODY = 20000


class PrivacyNotice(Base):
    __tablename__ = "privacy_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int]
    language: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("version", "language"),)


@dataclass(frozen=True)
class Item:
    """One numbered item of the notice: a title, its paragraphs and its points."""

    title: str
    paragraphs: tuple[str, ...] = ()
    points: tuple[str, ...] = ()


@dataclass
class _Building:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    points: list[str] = field(default_factory=list)


def parse(body: str) -> list[Item]:
    """The items of a notice text (see the module docstring for the format)."""
    items: list[_Building] = []
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("## "):
            items.append(_Building(line[3:].strip()))
            continue
        if not items:
            items.append(_Building(""))
        if line.startswith("- "):
            items[-1].points.append(line[2:].strip())
        else:
            items[-1].paragraphs.append(line)
    return [Item(i.title, tuple(i.paragraphs), tuple(i.points)) for i in items]


def label(version: int) -> str:
    """How a published version is named in the consent ledger and on the page."""
    return f"v{version}"


def current_version(session: Session) -> int | None:
    return session.scalar(select(func.max(PrivacyNotice.version)))


def current(session: Session, language: str) -> PrivacyNotice | None:
    """The current notice in ``language``, or None (nothing published yet, or not in that language)."""
    version = current_version(session)
    if version is None:
        return None
    return session.scalar(
        select(PrivacyNotice).where(PrivacyNotice.version == version, PrivacyNotice.language == language)
    )


def texts(session: Session, version: int) -> dict[str, str]:
    rows = session.scalars(select(PrivacyNotice).where(PrivacyNotice.version == version))
    return {row.language: row.body for row in rows}


def publish(
    session: Session, bodies: Mapping[str, str], *, languages: tuple[str, ...], actor: str, now: dt.datetime
) -> int:
    """Publish a new version with a text for every one of ``languages``; returns its number."""
    for language in languages:
        body = (bodies.get(language) or "").strip()
        if not body:
            raise ValidationError(f"the notice needs a text in every language ({language} is empty)")
        if len(body) > MAX_BODY:
            raise ValidationError(f"the {language} text is longer than {MAX_BODY} characters")
        if not any(item.title for item in parse(body)):
            raise ValidationError(f"the {language} text needs items: start each with a line '## Title'")
    version = (current_version(session) or 0) + 1
    for language in languages:
        session.add(
            PrivacyNotice(
                version=version,
                language=language,
                body=bodies[language].strip(),
                published_at=now,
                published_by=actor,
            )
        )
    session.flush()
    return version


@dataclass(frozen=True)
class VersionInfo:
    version: int
    published_at: dt.datetime
    published_by: str
    languages: tuple[str, ...]


def versions(session: Session) -> list[VersionInfo]:
    """Every published version, newest first."""
    rows = session.scalars(select(PrivacyNotice).order_by(PrivacyNotice.version.desc(), PrivacyNotice.language))
    found: dict[int, VersionInfo] = {}
    for row in rows:
        seen = found.get(row.version)
        languages = (*seen.languages, row.language) if seen else (row.language,)
        found[row.version] = VersionInfo(row.version, row.published_at, row.published_by, languages)
    return list(found.values())
