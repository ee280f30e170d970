"""WhatsApp campaigns: campaigns, their recipients, every marketing message (the frequency cap's
record, shared with automations), numbers that answered 131026, the shared send pace without Redis,
and each campaign's history of state changes.

No data is transformed: every table starts empty. The campaign settings live in ``settings``
(key ``campaigns``), which needs no schema change.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import domain.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("template_name", sa.String(length=512), nullable=False),
        sa.Column("template_language", sa.String(length=8), nullable=False),
        sa.Column("template_parameters", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("segment", sa.JSON(), nullable=False),
        sa.Column("send_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pause_reason", sa.String(length=300), nullable=True),
        sa.Column("paused_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ignore_quiet_hours", sa.Boolean(), nullable=False),
        sa.Column("audience", sa.Integer(), nullable=False),
        sa.Column("retarget_of_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["retarget_of_id"],
            ["message_campaigns.id"],
            name=op.f("fk_message_campaigns_retarget_of_id_message_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_campaigns")),
    )
    with op.batch_alter_table("message_campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_campaigns_status"), ["status"], unique=False)

    op.create_table(
        "send_paces",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_paces")),
    )
    op.create_table(
        "campaign_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["message_campaigns.id"], name=op.f("fk_campaign_events_campaign_id_message_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_events")),
    )
    with op.batch_alter_table("campaign_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_events_campaign_id"), ["campaign_id"], unique=False)

    op.create_table(
        "campaign_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("wamid", sa.String(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("unconfirmed", sa.Boolean(), nullable=False),
        sa.Column("sent_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("read_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replied_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("opted_out_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["message_campaigns.id"], name=op.f("fk_campaign_recipients_campaign_id_message_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_campaign_recipients_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint("campaign_id", "customer_id", name=op.f("uq_campaign_recipients_campaign_id_customer_id")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_campaign_recipients_idempotency_key")),
    )
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaign_recipients_claim", ["campaign_id", "status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_campaign_recipients_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaign_recipients_wamid"), ["wamid"], unique=False)

    op.create_table(
        "marketing_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("template_name", sa.String(length=512), nullable=False),
        sa.Column("template_language", sa.String(length=8), nullable=False),
        sa.Column("template_parameters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("wamid", sa.String(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("created_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", domain.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["message_campaigns.id"], name=op.f("fk_marketing_messages_campaign_id_message_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_marketing_messages_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_messages")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_marketing_messages_idempotency_key")),
    )
    with op.batch_alter_table("marketing_messages", schema=None) as batch_op:
        batch_op.create_index("ix_marketing_messages_accepted_at", ["accepted_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_marketing_messages_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index("ix_marketing_messages_customer_accepted", ["customer_id", "accepted_at"], unique=False)
        batch_op.create_index("ix_marketing_messages_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_marketing_messages_customer_attempt", ["customer_id", "last_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_marketing_messages_wamid"), ["wamid"], unique=False)

    op.create_table(
        "undeliverable_numbers",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("marked_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_undeliverable_numbers_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_undeliverable_numbers")),
    )
    with op.batch_alter_table("undeliverable_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_undeliverable_numbers_marked_at"), ["marked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("undeliverable_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_undeliverable_numbers_marked_at"))

    op.drop_table("undeliverable_numbers")
    with op.batch_alter_table("marketing_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_marketing_messages_wamid"))
        batch_op.drop_index("ix_marketing_messages_customer_attempt")
        batch_op.drop_index("ix_marketing_messages_due")
        batch_op.drop_index("ix_marketing_messages_customer_accepted")
        batch_op.drop_index(batch_op.f("ix_marketing_messages_campaign_id"))
        batch_op.drop_index("ix_marketing_messages_accepted_at")

    op.drop_table("marketing_messages")
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_recipients_wamid"))
        batch_op.drop_index(batch_op.f("ix_campaign_recipients_customer_id"))
        batch_op.drop_index("ix_campaign_recipients_claim")

    op.drop_table("campaign_recipients")
    with op.batch_alter_table("campaign_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_events_campaign_id"))

    op.drop_table("campaign_events")
    op.drop_table("send_paces")
    with op.batch_alter_table("message_campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_campaigns_status"))

    op.drop_table("message_campaigns")
