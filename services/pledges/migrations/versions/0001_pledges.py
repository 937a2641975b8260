"""Pledges, with the outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.common.schema import create_messaging_tables, drop_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "pledge",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("member_state", sa.String(3), nullable=False),
        sa.Column("co_sponsors", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("summit", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("indicator", sa.Text),
        sa.Column("baseline", sa.Numeric(20, 4)),
        sa.Column("target", sa.Numeric(20, 4)),
        sa.Column("unit", sa.Text),
        sa.Column("target_date", sa.Date),
        sa.Column("resources", sa.Text),
        sa.Column("amount", sa.Numeric(20, 2)),
        sa.Column("currency", sa.String(3)),
        sa.Column("supports_summit", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("submitted_by", sa.Text, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("request_fingerprint", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("member_state", "idempotency_key", name="pledge_idempotency"),
    )
    op.create_index("pledge_state_kind", "pledge", ["member_state", "kind"])
    op.create_index("pledge_submitted_keyset", "pledge", ["submitted_at", "id"])


def downgrade() -> None:
    op.drop_table("pledge")
    drop_messaging_tables()
