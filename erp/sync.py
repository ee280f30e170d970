"""The sync: ERP rows into loyalty, in batches, resumable, one run at a time.

Per entity (customers, products, orders, returns, in that order) it reads the
rows after the stored watermark in ``(change column, key)`` order, a batch at a
time, and applies each batch in one transaction together with the new
watermark. A failure loses at most the batch in flight; the next run starts
where the last committed batch ended, and the domain's idempotency keys make
re-reading harmless. Before that it reads rows quarantined by earlier runs again
by key, so a row that was fixed, or whose customer or order has since arrived,
gets in even when its own change column did not move.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.db import Database
from erp import lock, quarantine, queries, watermarks
from erp.apply import COUNTS, Batch, Counts, Settings, apply_batch, source_key
from erp.mapping import SYNCED, Mapping, MappingError, load_mapping
from erp.models import SyncRun
from erp.reader import ErpError, MappingMismatch, Reader, ReaderFactory, Row, odbc_factory
from runtime import services
from runtime.config import country_code, privacy_key

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class SyncSummary:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    suppressed: int = 0
    duration_seconds: float = 0.0
    status: str = "running"
    error: str | None = None
    run_id: int | None = None
    by_entity: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, entity: str, counts: Counts) -> None:
        mine = self.by_entity.setdefault(entity, Counts().as_dict())
        for name, value in counts.as_dict().items():
            setattr(self, name, getattr(self, name) + value)
            mine[name] += value

    def counts(self) -> dict[str, Any]:
        totals = {n: getattr(self, n) for n in COUNTS}
        return {**totals, "by_entity": self.by_entity}


@dataclass
class _Job:
    db: Database
    reader: Reader
    mapping: Mapping
    now: Callable[[], dt.datetime]
    country_code: int
    progress: Progress
    renew: Callable[[], None]
    summary: SyncSummary
    hash_key: str = ""


def run(
    app: Flask,
    *,
    full: bool = False,
    entities: Sequence[str] | None = None,
    trigger: str = "schedule",
    progress: Progress | None = None,
) -> SyncSummary:
    """One sync run, recorded as a ``SyncRun``; never raises for an ERP or mapping problem (see ``status``)."""
    names = chosen_entities(entities)
    db = services.database(app)
    holder = lock.holder_name()
    started = time.monotonic()
    with lock.exclusive(db, holder, lambda: services.now(app)) as held:
        if held is None:
            return _skipped(app, db, names, full, trigger, started)
        summary = SyncSummary()
        summary.run_id = _start(db, services.now(app), names, full, trigger)
        try:
            _sync(app, db, names, full, progress or (lambda _e, _n: None), held.renew, summary)
            summary.status = "ok"
        except (ErpError, MappingError) as exc:
            summary.status, summary.error = "failed", str(exc)
            log.warning("ERP sync failed: %s", exc)
        except Exception as exc:
            summary.status, summary.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            log.exception("ERP sync failed unexpectedly")
            _finish(db, summary, services.now(app), started)
            raise
        _finish(db, summary, services.now(app), started)
        return summary


def chosen_entities(entities: Sequence[str] | None) -> list[str]:
    if not entities:
        return list(SYNCED)
    unknown = [e for e in entities if e not in SYNCED]
    if unknown:
        raise ValueError(f"unknown entity {', '.join(unknown)}; choose from {', '.join(SYNCED)}")
    return [e for e in SYNCED if e in entities]


def mapping_for(app: Flask) -> Mapping:
    """The mapping named by ``ERP_MAPPING_FILE``, relative to the working or the project directory."""
    path = Path(app.config.get("ERP_MAPPING_FILE") or "erp/mapping.toml")
    if not path.is_absolute() and not path.exists():
        path = ROOT / path
    return load_mapping(path)


def reader_factory(app: Flask) -> ReaderFactory:
    """Tests put a fake in ``app.extensions['erp.reader_factory']``; otherwise ODBC from the config."""
    factory: ReaderFactory | None = app.extensions.get("erp.reader_factory")
    return factory or odbc_factory(app.config)


def check_tables(reader: Reader, mapping: Mapping, names: Sequence[str]) -> dict[str, list[str]]:
    """Every table and column the mapping needs, checked against the ERP; raises ``MappingMismatch``."""
    needed = [mapping.entity(n) for n in names]
    if "orders" in names:
        needed.append(mapping.entity("order_lines"))
        needed.append(mapping.entity("products"))
    found: dict[str, list[str]] = {}
    for entity in needed:
        if entity.table not in found:
            found[entity.table] = reader.columns(entity.table)
        missing = [c for c in entity.columns() if c not in found[entity.table]]
        if missing:
            raise MappingMismatch(
                f"mapping column missing: {entity.table}.{missing[0]} (entity {entity.name}); "
                f"the table has {', '.join(found[entity.table])}"
            )
    return found


def _sync(
    app: Flask,
    db: Database,
    names: list[str],
    full: bool,
    progress: Progress,
    renew: Callable[[], None],
    summary: SyncSummary,
) -> None:
    mapping = mapping_for(app)
    reader = reader_factory(app)()
    try:
        check_tables(reader, mapping, names)
        job = _Job(
            db,
            reader,
            mapping,
            lambda: services.now(app),
            country_code(app.config),
            progress,
            renew,
            summary,
            privacy_key(app.config),
        )
        for name in names:
            _retry_quarantined(job, name)
            _sync_entity(job, name, full)
    finally:
        reader.close()


def _sync_entity(job: _Job, entity: str, full: bool) -> None:
    spec = job.mapping.entity(entity)
    with job.db.unit_of_work() as session:
        after = None if full else watermarks.load(session, entity)
    size = job.mapping.batch_size
    while True:
        rows = _beyond(job.reader.fetch(queries.next_batch(spec, after, size)), spec.changed, spec.key, after)
        if not rows:
            return
        mark = (rows[-1][spec.changed], rows[-1][spec.key])  # type: ignore[index]
        _commit(job, _batch(job, entity, rows), lambda s, m=mark: watermarks.save(s, entity, m, job.now()))  # type: ignore[misc]
        after = mark
        if len(rows) < size:
            return


def _beyond(rows: list[Row], changed: str | None, key: str, after: tuple[Any, Any] | None) -> list[Row]:
    """Drop rows at or before the watermark, in case the ERP compares with less precision than it returns."""
    if after is None or changed is None:
        return rows
    try:
        return [r for r in rows if (r[changed], r[key]) > after]
    except TypeError:
        return rows


def _batch(job: _Job, entity: str, rows: list[Row]) -> Batch:
    batch = Batch(entity, rows)
    if entity == "orders":
        batch.lines = _lines_for(job, rows)
    return batch


def _lines_for(job: _Job, orders: list[Row]) -> dict[str, list[Row]]:
    """The lines of a batch of orders, in one query, grouped by order key."""
    lines_map, products = job.mapping.entity("order_lines"), job.mapping.entity("products")
    keys = [row[job.mapping.entity("orders").key] for row in orders]
    grouped: dict[str, list[Row]] = {}
    for line in job.reader.fetch(queries.lines_of(lines_map, products, keys)):
        grouped.setdefault(str(line[lines_map.key]).strip(), []).append(line)
    return grouped


def _commit(job: _Job, batch: Batch, also: Callable[[Session], None] | None = None) -> None:
    """One transaction: the batch's effects, its quarantine entries and the watermark."""
    with job.db.unit_of_work() as session:
        counts = apply_batch(session, batch, Settings(job.mapping, job.country_code, job.now(), job.hash_key))
        if also is not None:
            also(session)
    job.summary.add(batch.entity, counts)
    job.renew()
    job.progress(batch.entity, counts.read)


def _retry_quarantined(job: _Job, entity: str) -> None:
    """Read open quarantined rows again by key; those the ERP no longer has are closed."""
    spec = job.mapping.entity(entity)
    after_id = 0
    while True:
        with job.db.unit_of_work() as session:
            pending = quarantine.open_keys(session, entity, job.mapping.batch_size, after_id)
        if not pending:
            return
        after_id = pending[-1][0]
        keys = [key for _, key in pending if key is not None]
        rows = job.reader.fetch(queries.by_keys(spec, keys)) if keys else []
        gone = {str(k).strip()[:64] for k in keys} - {source_key(job.mapping, entity, r) for r in rows}

        def resolve(session: Session, gone: set[str] = gone) -> None:
            quarantine.resolve(session, entity, gone, job.now())

        _commit(job, _batch(job, entity, rows), resolve)


def _start(db: Database, now: dt.datetime, names: list[str], full: bool, trigger: str) -> int:
    with db.unit_of_work() as session:
        row = SyncRun(
            started_at=now,
            status="running",
            full=full,
            entities=",".join(names),
            counts={},
            trigger=trigger[:16],
            host=socket.gethostname()[:100],
        )
        session.add(row)
        session.flush()
        return row.id


def _finish(db: Database, summary: SyncSummary, now: dt.datetime, started: float) -> None:
    summary.duration_seconds = round(time.monotonic() - started, 3)
    with db.unit_of_work() as session:
        row = session.get(SyncRun, summary.run_id)
        if row is None:
            return
        row.finished_at = now
        row.status = summary.status
        row.error = summary.error
        row.counts = {**summary.counts(), "duration_seconds": summary.duration_seconds}


def _skipped(app: Flask, db: Database, names: list[str], full: bool, trigger: str, started: float) -> SyncSummary:
    """Another sync holds the lock: record that this one stood aside."""
    now = services.now(app)
    summary = SyncSummary(status="skipped", error="another ERP sync is running")
    summary.run_id = _start(db, now, names, full, trigger)
    _finish(db, summary, now, started)
    log.info("ERP sync skipped: another sync is running")
    return summary


def pending_counts(app: Flask, entities: Sequence[str] | None = None, full: bool = False) -> dict[str, int]:
    """Rows each entity still has to read (for a progress bar); quarantined rows included."""
    names = chosen_entities(entities)
    mapping = mapping_for(app)
    db = services.database(app)
    reader = reader_factory(app)()
    try:
        check_tables(reader, mapping, names)
        counts = {}
        for name in names:
            with db.unit_of_work() as session:
                after = None if full else watermarks.load(session, name)
                retry = len(quarantine.open_keys(session, name, 100_000))
            rows = reader.fetch(queries.count_after(mapping.entity(name), after))
            counts[name] = int(next(iter(rows[0].values()))) + retry if rows else retry
        return counts
    finally:
        reader.close()


def recent_runs(session: Session, limit: int = 20) -> list[SyncRun]:
    """The latest runs, newest first (for the console)."""
    stmt = select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit)
    return list(session.scalars(stmt))
