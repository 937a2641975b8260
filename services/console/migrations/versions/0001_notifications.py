"""The console's own database (issue 18): its inbox, the people directory, the case projection,
notifications, preferences and the email outbox.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.common.database import InboxEvent

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_NOW = sa.text("now()")


def upgrade() -> None:
    InboxEvent.__table__.to_metadata(sa.MetaData()).create(op.get_bind(), checkfirst=True)  # type: ignore[attr-defined]
    op.create_table(
        "person",
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("member_state", sa.Text),
        sa.Column("missions", postgresql.ARRAY(sa.Text)),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("email", sa.Text),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("person_role_state", "person", ["role", "member_state"])
    op.create_table(
        "case_projection",
        sa.Column("case_id", sa.Text, primary_key=True),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("mission", sa.Text, nullable=False),
        sa.Column("police_contributing_country", sa.Text, nullable=False),
        sa.Column("assigned_officer", sa.Text),
        sa.Column("case_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("person", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("facts", postgresql.JSONB, nullable=False),
        sa.Column("delivery", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.Column("digested_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("event_id", "person", name="notification_once"),
    )
    op.create_index("notification_newest", "notification", ["person", "created_at", "id"])
    op.create_index("notification_digest", "notification", ["delivery", "digested_at", "person"])
    op.create_table(
        "notification_preference",
        sa.Column("person", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("delivery", sa.Text, nullable=False),
    )
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("person", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("event_id", "person", name="email_once"),
    )
    op.create_index(
        "email_waiting", "email_outbox", ["next_attempt_at"], postgresql_where=sa.text("sent_at IS NULL")
    )


def downgrade() -> None:
    for table in ("email_outbox", "notification_preference", "notification", "case_projection", "person"):
        op.drop_table(table)
    op.drop_table("inbox")
