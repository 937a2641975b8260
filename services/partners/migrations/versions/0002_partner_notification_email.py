"""The partner gateway emails the partner's contact when a subscription is marked failing: each notice
keeps what its email says (the subscription's URL, the last error) and its sending (when it is due, when the
SMTP server took it, the tries and their last error).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
TABLE = "partner_notification"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("url", sa.Text))
    op.add_column(TABLE, sa.Column("failure", sa.Text))
    # Notices recorded before this revision keep next_email_at null: they were never meant to be emailed.
    op.add_column(TABLE, sa.Column("next_email_at", WHEN))
    op.add_column(TABLE, sa.Column("emailed_at", WHEN))
    op.add_column(TABLE, sa.Column("email_attempts", sa.Integer, nullable=False, server_default="0"))
    op.add_column(TABLE, sa.Column("email_error", sa.Text))
    # The sender's claim: the unsent emails by when they fall due.
    op.create_index(
        "partner_notification_unsent",
        TABLE,
        ["next_email_at"],
        postgresql_where=sa.text("emailed_at IS NULL AND next_email_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("partner_notification_unsent", TABLE)
    for column in ("email_error", "email_attempts", "emailed_at", "next_email_at", "failure", "url"):
        op.drop_column(TABLE, column)
