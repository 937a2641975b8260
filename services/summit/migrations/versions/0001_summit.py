"""Summits, milestones and the pledges learned from events, with the outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.schema import create_messaging_tables, drop_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "summit",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("venue", sa.Text, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("host_support", sa.Text),
    )
    op.create_table(
        "milestone",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("summit_id", sa.Text, sa.ForeignKey("summit.id"), nullable=False, index=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("completed_by", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "summit_pledge",
        sa.Column("pledge_id", sa.Text, primary_key=True),
        sa.Column("member_state", sa.String(3), nullable=False),
        sa.Column("summit", sa.Text, nullable=False, index=True),
        sa.Column("supports_summit", sa.Text, index=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("amount", sa.Numeric(20, 2)),
        sa.Column("currency", sa.String(3)),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("summit_pledge")
    op.drop_table("milestone")
    op.drop_table("summit")
    drop_messaging_tables()
