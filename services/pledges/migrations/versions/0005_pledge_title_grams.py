"""The normalised title and its letter pairs, indexed, so a submission looks up its possible duplicates
instead of reading and comparing its State's stored titles one by one; fuzzystrmatch (a trusted extension
of PostgreSQL's contrib) bounds their similarity in the database.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from services.pledges.domain.duplicates import normal_title, title_grams

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS fuzzystrmatch")
    op.add_column("pledge", sa.Column("title_normal", sa.Text, nullable=False, server_default=""))
    op.add_column(
        "pledge", sa.Column("title_grams", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'"))
    )
    pledge = sa.table(
        "pledge",
        sa.column("id", sa.Text),
        sa.column("title", sa.Text),
        sa.column("title_normal", sa.Text),
        sa.column("title_grams", ARRAY(sa.Text)),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(pledge.c.id, pledge.c.title)).all()
    if rows:
        bind.execute(
            pledge.update()
            .where(pledge.c.id == sa.bindparam("pledge_id"))
            .values(title_normal=sa.bindparam("normal"), title_grams=sa.bindparam("grams")),
            [
                {
                    "pledge_id": pledge_id,
                    "normal": normal_title(title),
                    "grams": title_grams(normal_title(title)),
                }
                for pledge_id, title in rows
            ],
        )
    op.alter_column("pledge", "title_normal", server_default=None)
    op.alter_column("pledge", "title_grams", server_default=None)
    op.create_index("pledge_title_grams", "pledge", ["title_grams"], postgresql_using="gin")


def downgrade() -> None:
    # fuzzystrmatch stays: the database may have other users of it.
    op.drop_index("pledge_title_grams", "pledge")
    op.drop_column("pledge", "title_grams")
    op.drop_column("pledge", "title_normal")
