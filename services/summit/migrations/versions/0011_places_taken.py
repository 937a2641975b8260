"""Places taken, as a counter on the summit's row (issue 19): a registration takes its places with one atomic
``UPDATE summit SET places_taken = places_taken + n WHERE places_taken + n <= capacity``, instead of summing
the delegations under the summit's row lock for the whole step. Filled here from the delegations that hold
places (registered, under review, accredited, confirmed); every write that takes or frees places keeps it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("summit", sa.Column("places_taken", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        """
        UPDATE summit SET places_taken = held.members
        FROM (
            SELECT summit_id, sum(members) AS members FROM delegation
            WHERE status IN ('registered', 'under_review', 'accredited', 'confirmed')
            GROUP BY summit_id
        ) AS held
        WHERE held.summit_id = summit.id
        """
    )


def downgrade() -> None:
    op.drop_column("summit", "places_taken")
