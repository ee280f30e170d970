"""Consent ledger; marketing consent apart from service messages; birthday; test members.

The single opt-in flag of 0001 becomes a view of the ledger: each member whose flag was
ever set gets one service-messages row carrying it over (channel ``migration``, the old
source as actor). Marketing starts withdrawn for everyone: the old question was not a
separate, specific consent to marketing.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import domain.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("notice_version", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_consents_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index("ix_consents_customer_purpose", ["customer_id", "purpose", "recorded_at"], unique=False)

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("marketing_opt_in", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("marketing_changed_at", domain.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("birthday", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("is_test", sa.Boolean(), server_default=sa.false(), nullable=False))

    customers = sa.table(
        "customers",
        sa.column("id", sa.Integer),
        sa.column("opted_in", sa.Boolean),
        sa.column("opt_in_changed_at", domain.db.UTCDateTime),
        sa.column("opt_in_source", sa.String),
    )
    consents = sa.table(
        "consents",
        sa.column("customer_id", sa.Integer),
        sa.column("purpose", sa.String),
        sa.column("granted", sa.Boolean),
        sa.column("channel", sa.String),
        sa.column("actor", sa.String),
        sa.column("recorded_at", domain.db.UTCDateTime),
    )
    carried = sa.select(
        customers.c.id,
        sa.literal("service"),
        customers.c.opted_in,
        sa.literal("migration"),
        customers.c.opt_in_source,
        customers.c.opt_in_changed_at,
    ).where(customers.c.opt_in_changed_at.is_not(None))
    op.execute(
        consents.insert().from_select(
            ["customer_id", "purpose", "granted", "channel", "actor", "recorded_at"], carried
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("is_test")
        batch_op.drop_column("birthday")
        batch_op.drop_column("marketing_changed_at")
        batch_op.drop_column("marketing_opt_in")

    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_customer_purpose")

    op.drop_table("consents")
