"""Calendar feeds: a person's secret feed URL, stored as the SHA-256 of its token with the scope it was made
with (services/summit/domain/calendars.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_feed",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("token_sha256", sa.String(), nullable=False, unique=True),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("member_state", sa.String(), nullable=True),
        sa.Column("label", sa.String(), nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("subject", "idempotency_key"),
    )
    op.create_index("ix_calendar_feed_subject", "calendar_feed", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_calendar_feed_subject", table_name="calendar_feed")
    op.drop_table("calendar_feed")
