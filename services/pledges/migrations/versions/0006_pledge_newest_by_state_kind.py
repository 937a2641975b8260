"""The duplicate lookup reads a State's titles of one kind newest first, from an index in that order, and
stops at the newest it compares with: the GIN index of letter pairs it read before (0005) found every title
sharing a pair, all of them for look-alike titles, to be sorted before the newest were taken.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # (member_state, kind) is the new index's prefix: its lookups (lists, summaries) use the new one.
    op.create_index("pledge_state_kind_newest", "pledge", ["member_state", "kind", "submitted_at", "id"])
    op.drop_index("pledge_state_kind", "pledge")
    op.drop_index("pledge_title_grams", "pledge")


def downgrade() -> None:
    op.create_index("pledge_title_grams", "pledge", ["title_grams"], postgresql_using="gin")
    op.create_index("pledge_state_kind", "pledge", ["member_state", "kind"])
    op.drop_index("pledge_state_kind_newest", "pledge")
