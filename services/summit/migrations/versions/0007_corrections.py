"""Corrections: rooms and spending carry a version (edited with If-Match), a receipt can be reversed by a
reversing entry (money records are append-only), and every correction is kept in summit_audit.

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("room", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    op.add_column("expenditure", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    # A reversing entry names the receipt it reverses (once: unique) and why; its amount is the negative.
    op.add_column(
        "funding_receipt",
        sa.Column("reverses", sa.Text, sa.ForeignKey("funding_receipt.id"), unique=True, nullable=True),
    )
    op.add_column("funding_receipt", sa.Column("reason", sa.Text, nullable=True))
    op.add_column("funding_receipt", sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "summit_audit",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("summit_id", sa.Text, sa.ForeignKey("summit.id"), nullable=False, index=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False, index=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", JSONB, nullable=True),
        sa.Column("after", JSONB, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("summit_audit")
    op.drop_column("funding_receipt", "recorded_at")
    op.drop_column("funding_receipt", "reason")
    op.drop_column("funding_receipt", "reverses")
    op.drop_column("expenditure", "version")
    op.drop_column("room", "version")
