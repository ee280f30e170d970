"""Migrations build the schema on empty databases and match the models exactly."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from domain.db import Base, Database


def test_upgrade_creates_every_table(database: Database) -> None:
    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_models_and_migration_head_agree(database: Database) -> None:
    with database.engine.connect() as conn, warnings.catch_warnings():
        # Alembic cannot reflect expression indexes on every backend; it says so with a warning.
        warnings.filterwarnings("ignore", message="autogenerate skipping", category=UserWarning)
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ; add a revision (`make revision m=...`): {diff}"
