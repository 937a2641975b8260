"""The pledge's lifecycle: its state, reporting cadence, traffic light, deliveries and duplicate flags.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("pledge", sa.Column("next_report_due", sa.DateTime(timezone=True)))
    op.add_column("pledge", sa.Column("missed_reports", sa.Integer, nullable=False, server_default="0"))
    op.add_column("pledge", sa.Column("traffic_light", sa.Text))
    op.add_column("pledge", sa.Column("delivered", postgresql.JSONB, nullable=False, server_default="{}"))
    op.add_column(
        "pledge",
        sa.Column("possible_duplicate_of", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
    )
    op.add_column("pledge", sa.Column("state", postgresql.JSONB, nullable=False, server_default="{}"))
    op.create_index("pledge_status", "pledge", ["status"])
    op.create_index("pledge_traffic_light", "pledge", ["traffic_light"])
    op.create_index("pledge_kind_summit", "pledge", ["kind", "summit"])


def downgrade() -> None:
    op.drop_index("pledge_kind_summit", "pledge")
    op.drop_index("pledge_traffic_light", "pledge")
    op.drop_index("pledge_status", "pledge")
    for column in (
        "state",
        "possible_duplicate_of",
        "delivered",
        "traffic_light",
        "missed_reports",
        "next_report_due",
    ):
        op.drop_column("pledge", column)
