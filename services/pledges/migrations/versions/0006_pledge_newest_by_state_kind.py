"""The duplicate lookup reads the newest titles of a State and kind from an index in that order and stops at
the newest it compares with; RapidFuzz compares them in the service. The GIN index of letter pairs (0005)
found every title sharing a pair (all of them, for look-alike titles), to be sorted before the newest were
taken, and the pairs themselves are no longer read.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from services.pledges.domain import title_grams

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # (member_state, kind) is the new index's prefix: its lookups (lists, summaries) use the new one.
    op.create_index("pledge_state_kind_newest", "pledge", ["member_state", "kind", "submitted_at", "id"])
    op.drop_index("pledge_state_kind", "pledge")
    op.drop_index("pledge_title_grams", "pledge")
    op.drop_column("pledge", "title_grams")


def downgrade() -> None:
    op.add_column(
        "pledge", sa.Column("title_grams", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'"))
    )
    pledge = sa.table(
        "pledge", sa.column("id", sa.Text), sa.column("title_normal", sa.Text), sa.column("title_grams")
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(pledge.c.id, pledge.c.title_normal)).all()
    if rows:
        bind.execute(
            pledge.update()
            .where(pledge.c.id == sa.bindparam("pledge_id"))
            .values(title_grams=sa.bindparam("grams", type_=ARRAY(sa.Text))),
            [{"pledge_id": pledge_id, "grams": title_grams(normal)} for pledge_id, normal in rows],
        )
    op.alter_column("pledge", "title_grams", server_default=None)
    op.create_index("pledge_title_grams", "pledge", ["title_grams"], postgresql_using="gin")
    op.create_index("pledge_state_kind", "pledge", ["member_state", "kind"])
    op.drop_index("pledge_state_kind_newest", "pledge")
