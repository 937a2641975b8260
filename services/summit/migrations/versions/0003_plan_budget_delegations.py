"""The summit plan (template milestones, languages, capacity), budget and spending, follow-up material from
pledge events, public misconduct statistics, delegations and participants.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("summit", sa.Column("languages", ARRAY(sa.Text), nullable=False, server_default="{}"))
    op.add_column("summit", sa.Column("capacity", sa.Integer, nullable=False, server_default="1200"))
    op.add_column("summit", sa.Column("budget_currency", sa.String(3), nullable=False, server_default="USD"))
    op.add_column("summit", sa.Column("exchange_rates", JSONB, nullable=False, server_default="{}"))
    op.add_column("summit", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    op.add_column("milestone", sa.Column("key", sa.Text))
    op.add_column("milestone", sa.Column("owner", sa.Text))
    op.create_index("milestone_summit_key", "milestone", ["summit_id", "key"], unique=True)

    op.add_column("summit_pledge", sa.Column("status", sa.Text, nullable=False, server_default="submitted"))
    op.add_column("summit_pledge", sa.Column("traffic_light", sa.Text))
    op.add_column(
        "summit_pledge", sa.Column("pledge_version", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column("summit_pledge", sa.Column("status_changed_at", sa.DateTime(timezone=True)))

    op.create_table(
        "budget_line",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("summit_id", sa.Text, sa.ForeignKey("summit.id"), nullable=False, index=True),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("planned", sa.Numeric(20, 2), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("summit_id", "category", "title"),
    )
    op.create_table(
        "expenditure",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("summit_id", sa.Text, sa.ForeignKey("summit.id"), nullable=False, index=True),
        sa.Column("budget_line_id", sa.Text, sa.ForeignKey("budget_line.id"), nullable=False, index=True),
        sa.Column("amount", sa.Numeric(20, 2), nullable=False),
        sa.Column("spent_on", sa.Date, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
    )
    op.create_table(
        "public_allegation",
        sa.Column("allegation_id", sa.Text, primary_key=True),
        sa.Column("reported_year", sa.Integer, nullable=False, index=True),
        sa.Column("mission", sa.Text, nullable=False),
        sa.Column("personnel_category", sa.Text, nullable=False),
        sa.Column("nationality", sa.String(3), nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("allegation_type", sa.Text, nullable=False),
        sa.Column("victims_adult", sa.Integer, nullable=False),
        sa.Column("victims_minor", sa.Integer, nullable=False),
        sa.Column("investigation_status", sa.Text, nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("referred_for_criminal_accountability", sa.Boolean, nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "delegation",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("summit_id", sa.Text, sa.ForeignKey("summit.id"), nullable=False, index=True),
        sa.Column("member_state", sa.String(3), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("note_verbale", sa.Text, nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registration_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("head_of_delegation", sa.Text),
        sa.Column("languages", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("proof_document", JSONB),
        sa.Column("members", sa.Integer, nullable=False, server_default="0"),
        sa.Column("registered_at", sa.DateTime(timezone=True)),
        sa.Column("waitlisted_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("summit_id", "member_state"),
    )
    # The waiting list is read in order on every freed place.
    op.create_index(
        "delegation_waiting_list",
        "delegation",
        ["summit_id", "waitlisted_at"],
        postgresql_where=sa.text("status = 'waitlisted'"),
    )
    op.create_table(
        "participant",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("summit_id", sa.Text, sa.ForeignKey("summit.id"), nullable=False, index=True),
        sa.Column("delegation_id", sa.Text, sa.ForeignKey("delegation.id"), index=True),
        sa.Column("full_name", sa.Text, nullable=False),
        sa.Column("function", sa.Text, nullable=False),
        sa.Column("organisation", sa.Text),
        sa.Column("is_head", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("languages", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("consent_to_list", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("badge_number", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "participant_badge",
        "participant",
        ["summit_id", "badge_number"],
        unique=True,
        postgresql_where=sa.text("badge_number IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("participant")
    op.drop_table("delegation")
    op.drop_table("public_allegation")
    op.drop_table("expenditure")
    op.drop_table("budget_line")
    for column in ("status_changed_at", "pledge_version", "traffic_light", "status"):
        op.drop_column("summit_pledge", column)
    op.drop_index("milestone_summit_key", table_name="milestone")
    for column in ("owner", "key"):
        op.drop_column("milestone", column)
    for column in ("version", "exchange_rates", "budget_currency", "capacity", "languages"):
        op.drop_column("summit", column)
