"""The letter pairs of titles (``title_grams``, 0005) go: no release since 0006 reads or writes them, and 0006
kept the column, with an empty default, only for that release's rolling deploy. Dropping a column rewrites
no row in PostgreSQL.

Deploy it after every replica runs 0006's release or a later one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column("pledge", "title_grams")


def downgrade() -> None:
    # Back as 0006 left it: empty for every row (0006's release neither reads nor writes it).
    op.add_column(
        "pledge",
        sa.Column("title_grams", ARRAY(sa.Text()), nullable=False, server_default=sa.text("'{}'")),
    )
