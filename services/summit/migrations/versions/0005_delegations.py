"""Delegations: what registration and accreditation need beyond revision 0003.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # The id of the workflow change last stored on the row: a retried activity recognises its own write.
    op.add_column("delegation", sa.Column("last_change", sa.Text))
    # The change that moved this delegation up from the waiting list, so a retry can tell the promoted
    # delegations' workflows again.
    op.add_column("delegation", sa.Column("promoted_by", sa.Text, index=True))
    op.create_index("delegation_summit_status", "delegation", ["summit_id", "status"])


def downgrade() -> None:
    op.drop_index("delegation_summit_status", table_name="delegation")
    op.drop_column("delegation", "promoted_by")
    op.drop_column("delegation", "last_change")
