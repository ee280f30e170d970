"""Lifecycle automations: each automation's settings (birthday, join anniversary, win-back, points-expiry
reminders, tier at risk) and every occasion one acted on, once per member per occasion.

No data is transformed: both tables start empty, and an automation without a row runs with its
defaults (only the points-expiry reminders, which replace the earlier expiry warning, are on).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import domain.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "automations",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("template_name", sa.String(length=512), nullable=False),
        sa.Column("template_language", sa.String(length=8), nullable=False),
        sa.Column("template_parameters", sa.JSON(), nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.Column("bonus_points", sa.Integer(), nullable=False),
        sa.Column("send_hour", sa.Integer(), nullable=False),
        sa.Column("updated_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_automations")),
    )
    op.create_table(
        "automation_occasions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("occasion", sa.String(length=40), nullable=False),
        sa.Column("bonus_points", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_automation_occasions_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_occasions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_automation_occasions_idempotency_key")),
    )
    with op.batch_alter_table("automation_occasions", schema=None) as batch_op:
        batch_op.create_index("ix_automation_occasions_kind_created", ["kind", "created_at"], unique=False)
        batch_op.create_index("ix_automation_occasions_customer_id", ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("automation_occasions", schema=None) as batch_op:
        batch_op.drop_index("ix_automation_occasions_customer_id")
        batch_op.drop_index("ix_automation_occasions_kind_created")
    op.drop_table("automation_occasions")
    op.drop_table("automations")
