"""Indexes for reading pledges back: the overdue filter, per supported summit, and a focal point's
co-sponsored pledges.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

LIVE = sa.text("status IN ('accepted', 'in_progress')")


def upgrade() -> None:
    # overdue=true: a live pledge with a report missed or past due (only live pledges are indexed).
    op.create_index(
        "pledge_live_report_due", "pledge", ["next_report_due", "missed_reports"], postgresql_where=LIVE
    )
    # Financial pledges per supported summit (GET /pledges/financial, ?supports_summit=).
    op.create_index(
        "pledge_supports_summit",
        "pledge",
        ["supports_summit"],
        postgresql_where=sa.text("supports_summit IS NOT NULL"),
    )
    # A focal point's scope: co_sponsors @> ARRAY[its State].
    op.create_index("pledge_co_sponsors", "pledge", ["co_sponsors"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("pledge_co_sponsors", "pledge")
    op.drop_index("pledge_supports_summit", "pledge")
    op.drop_index("pledge_live_report_due", "pledge")
