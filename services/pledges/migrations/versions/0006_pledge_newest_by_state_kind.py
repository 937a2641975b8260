"""The duplicate lookup reads the newest titles of a State and kind from an index in that order and stops at
the newest it compares with; RapidFuzz compares them in the service. The GIN index of letter pairs (0005)
found every title sharing a pair (all of them, for look-alike titles), to be sorted before the newest were
taken, and the pairs themselves are no longer read or written.

``title_grams`` stays for this release with an empty default, so the previous release's replicas can still
write it during a rolling deploy; a later migration drops it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
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
    op.alter_column("pledge", "title_grams", server_default=sa.text("'{}'"))


def downgrade() -> None:
    # Rows stored meanwhile have no letter pairs: the previous release's lookup then finds them only by
    # their length and edit distance when it has no probe, so refill before downgrading if that matters.
    op.alter_column("pledge", "title_grams", server_default=None)
    op.create_index("pledge_title_grams", "pledge", ["title_grams"], postgresql_using="gin")
    op.create_index("pledge_state_kind", "pledge", ["member_state", "kind"])
    op.drop_index("pledge_state_kind_newest", "pledge")
