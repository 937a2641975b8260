"""Money received for a summit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "funding_receipt",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("summit_id", sa.Text, sa.ForeignKey("summit.id"), nullable=False, index=True),
        sa.Column("member_state", sa.String(3), nullable=False),
        sa.Column("pledge_id", sa.Text, index=True),
        sa.Column("amount", sa.Numeric(20, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("received_on", sa.Date, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("funding_receipt")
