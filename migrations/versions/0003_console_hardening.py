"""Console hardening: server-side staff sessions, sign-in failures per address, the simulator's history.

- ``staff_sessions``: one row per console sign-in (the cookie holds a token, the row its SHA-256);
  revoking a row ends that session on every worker.
- ``sign_in_failures``: failed sign-ins per client address, so the address throttle holds across
  workers and hosts, and a success clears only that address's failures on that account.
- ``simulator_turns``: what the console's simulator showed each staff member, instead of the
  session cookie (which browsers drop past 4 KB).

No existing table or row changes.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import domain.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("failed_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_failures_address", ["address", "failed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sign_in_failures_failed_at"), ["failed_at"], unique=False)

    op.create_table(
        "simulator_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("who", sa.String(length=8), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_users.id"],
            name=op.f("fk_simulator_turns_staff_user_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_simulator_turns")),
    )
    with op.batch_alter_table("simulator_turns", schema=None) as batch_op:
        batch_op.create_index("ix_simulator_turns_staff", ["staff_user_id", "phone", "id"], unique=False)

    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_staff_sessions_user_id_staff_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_user_id"))

    op.drop_table("staff_sessions")
    with op.batch_alter_table("simulator_turns", schema=None) as batch_op:
        batch_op.drop_index("ix_simulator_turns_staff")

    op.drop_table("simulator_turns")
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_failures_failed_at"))
        batch_op.drop_index("ix_sign_in_failures_address")

    op.drop_table("sign_in_failures")
