"""Webhook hardening: WhatsApp senders known by their business-scoped user id only.

- ``inbound_messages.phone``, ``outbox.phone``, ``conversations.phone`` hold the chat's address: an
  E.164 number as before, or, for a sender with a WhatsApp username and no phone number, Meta's
  business-scoped user id (``IN.1234567890123456``: two letters, a dot, up to 128 characters), so
  they grow from 20 to 140 characters; ``inbound_messages.wa_user_id`` and ``customers.wa_user_id``
  from 128 to 140, room for a parent id's ``XX.ENT.`` prefix before its 128 characters.
- ``customers.phone`` may be empty: such a member is known by ``customers.wa_user_id``, which is now
  unique (one member per user id; linking moves it to the member who proved the phone is theirs).

Existing rows are unchanged.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADDRESS_TABLES = ("inbound_messages", "outbox", "conversations")


def upgrade() -> None:
    for table in ADDRESS_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "phone", existing_type=sa.String(length=20), type_=sa.String(length=140), existing_nullable=False
            )
            if table == "inbound_messages":
                batch_op.alter_column("wa_user_id", existing_type=sa.String(length=128), type_=sa.String(length=140))
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column("phone", existing_type=sa.String(length=20), nullable=True)
        batch_op.alter_column("wa_user_id", existing_type=sa.String(length=128), type_=sa.String(length=140))
        batch_op.drop_index(batch_op.f("ix_customers_wa_user_id"))
        batch_op.create_index(batch_op.f("ix_customers_wa_user_id"), ["wa_user_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_wa_user_id"))
        batch_op.create_index(batch_op.f("ix_customers_wa_user_id"), ["wa_user_id"], unique=False)
        batch_op.alter_column("wa_user_id", existing_type=sa.String(length=140), type_=sa.String(length=128))
        batch_op.alter_column("phone", existing_type=sa.String(length=20), nullable=False)
    for table in ADDRESS_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "inbound_messages":
                batch_op.alter_column("wa_user_id", existing_type=sa.String(length=140), type_=sa.String(length=128))
            batch_op.alter_column(
                "phone", existing_type=sa.String(length=140), type_=sa.String(length=20), existing_nullable=False
            )
