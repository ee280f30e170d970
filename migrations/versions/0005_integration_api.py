"""Integration API: API keys, staff refresh tokens, stored idempotent answers, holds, ERP sync requests.

- ``api_keys``: a name, scopes, an optional rate and only a hash of the secret; one live key per name.
- ``staff_refresh_tokens``: rotating refresh tokens of staff signed in to the API (hashes, by family).
- ``idempotent_requests``: the first answer to each (holder, Idempotency-Key), kept 24 hours and more.
- ``holds`` and ``customers.points_held``: points reserved as payment at a till (0 for everyone).
- ``erp_sync_requests``: "sync now" asked through the API, queued for the scheduler.
- ``orders.store``: the till or web shop that posted a sale.
- ``redemptions``: voucher status ``fulfilled`` becomes ``used`` (the word tills and the API use) and
  ``fulfilled_at`` becomes ``used_at``, with where (``used_store``, ``used_order_id``) and by whom
  (``used_by``) the voucher was used; existing used vouchers keep their time, the rest is unknown.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import domain.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=300), nullable=False),
        sa.Column("rate_limit", sa.String(length=32), nullable=True),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("last_used_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_api_keys_live_name",
            ["name"],
            unique=True,
            postgresql_where=sa.text("revoked_at IS NULL"),
            sqlite_where=sa.text("revoked_at IS NULL"),
        )

    op.create_table(
        "erp_sync_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("entities", sa.String(length=100), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_sync_requests")),
    )
    with op.batch_alter_table("erp_sync_requests", schema=None) as batch_op:
        batch_op.create_index("ix_erp_sync_requests_status", ["status", "id"], unique=False)

    op.create_table(
        "idempotent_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotent_requests")),
        sa.UniqueConstraint("holder", "key", name=op.f("uq_idempotent_requests_holder_key")),
    )
    with op.batch_alter_table("idempotent_requests", schema=None) as batch_op:
        batch_op.create_index("ix_idempotent_requests_created_at", ["created_at"], unique=False)

    op.create_table(
        "staff_refresh_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_staff_refresh_tokens_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_refresh_tokens_token_hash")),
    )
    with op.batch_alter_table("staff_refresh_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_staff_refresh_tokens_family", ["family"], unique=False)

    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("captured_points", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("code_salt", sa.String(length=32), nullable=False),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("store", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verified_via", sa.String(length=16), nullable=True),
        sa.Column("closed_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_holds_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index("ix_holds_customer_status", ["customer_id", "status"], unique=False)
        batch_op.create_index("ix_holds_status_expires", ["status", "expires_at"], unique=False)

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("points_held", sa.Integer(), server_default=sa.text("0"), nullable=False))

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("store", sa.String(length=64), nullable=True))

    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.alter_column("fulfilled_at", new_column_name="used_at")
        batch_op.add_column(sa.Column("used_store", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("used_order_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("used_by", sa.String(length=200), nullable=True))
    op.execute("UPDATE redemptions SET status = 'used' WHERE status = 'fulfilled'")


def downgrade() -> None:
    op.execute("UPDATE redemptions SET status = 'fulfilled' WHERE status = 'used'")
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_column("used_by")
        batch_op.drop_column("used_order_id")
        batch_op.drop_column("used_store")
        batch_op.alter_column("used_at", new_column_name="fulfilled_at")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("store")

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("points_held")

    for table, indexes in (
        ("holds", ("ix_holds_status_expires", "ix_holds_customer_status")),
        ("staff_refresh_tokens", ("ix_staff_refresh_tokens_family",)),
        ("idempotent_requests", ("ix_idempotent_requests_created_at",)),
        ("erp_sync_requests", ("ix_erp_sync_requests_status",)),
        ("api_keys", ("ix_api_keys_live_name",)),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in indexes:
                batch_op.drop_index(index)
        op.drop_table(table)
