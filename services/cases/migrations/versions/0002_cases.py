"""Case files, victims' encrypted identity, the audit chain, reference counters and 2272 review flags.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_file",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("reference", sa.Text, nullable=False, unique=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False, index=True),
        sa.Column("mission", sa.Text, nullable=False),
        sa.Column("personnel_category", sa.Text, nullable=False),
        sa.Column("police_contributing_country", sa.String(3), nullable=False, index=True),
        sa.Column("unit", sa.Text),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("allegation_type", sa.Text, nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False),
        sa.Column("incident_date", sa.Date),
        sa.Column("reported_on", sa.Date, nullable=False),
        sa.Column("assigned_officer", sa.Text, index=True),
        sa.Column("investigating_entity", sa.Text),
        sa.Column("finding", sa.Text),
        sa.Column("credible", sa.Boolean, nullable=False),
        sa.Column("victims_adult", sa.Integer, nullable=False, server_default="0"),
        sa.Column("victims_minor", sa.Integer, nullable=False, server_default="0"),
        sa.Column("overdue", sa.Boolean, nullable=False, index=True),
        sa.Column("next_due_at", sa.DateTime(timezone=True)),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", postgresql.JSONB, nullable=False),
        # The audit chain's head, so that entries removed from its end are detected too.
        sa.Column("audit_length", sa.Integer, nullable=False, server_default="0"),
        sa.Column("audit_head", sa.Text, nullable=False, server_default="0" * 64),
    )
    op.create_index("case_file_keyset", "case_file", ["reported_on", "id"])
    op.create_index("case_file_mission_status", "case_file", ["mission", "status", "reported_on", "id"])
    op.create_index("case_file_country", "case_file", ["police_contributing_country", "reported_on", "id"])
    # Statistics read only these columns (an index-only scan, never the JSON state).
    op.create_index(
        "case_file_statistics",
        "case_file",
        ["reported_on", "mission", "police_contributing_country", "finding"],
        postgresql_include=[
            "personnel_category",
            "allegation_type",
            "category",
            "victims_adult",
            "victims_minor",
        ],
    )
    op.create_table(
        "victim_identity",
        sa.Column("victim_id", sa.Text, primary_key=True),
        sa.Column("case_id", sa.Text, sa.ForeignKey("case_file.id"), nullable=False, index=True),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "case_audit",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("case_id", sa.Text, nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("actor_role", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("before", postgresql.JSONB, nullable=False),
        sa.Column("after", postgresql.JSONB, nullable=False),
        sa.Column("previous_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.UniqueConstraint("case_id", "position", name="case_audit_position"),
    )
    # Append-only in the database itself: changing or removing an entry needs its owner to disable this
    # first, and the hash chain still shows what was done.
    op.execute(
        """
        CREATE OR REPLACE FUNCTION case_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'case_audit is append-only'; END $$
        """
    )
    op.execute(
        "CREATE TRIGGER case_audit_append_only BEFORE UPDATE OR DELETE ON case_audit "
        "FOR EACH ROW EXECUTE FUNCTION case_audit_append_only()"
    )
    op.execute(
        "CREATE TRIGGER case_audit_no_truncate BEFORE TRUNCATE ON case_audit "
        "FOR EACH STATEMENT EXECUTE FUNCTION case_audit_append_only()"
    )
    op.create_table(
        "case_reference_counter",
        sa.Column("mission", sa.Text, primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    op.create_table(
        "review_flag",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("police_contributing_country", sa.String(3), nullable=False),
        sa.Column("unit", sa.Text),
        sa.Column("case_ids", postgresql.JSONB, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("review_flag_subject", "review_flag", ["kind", "police_contributing_country", "unit"])


def downgrade() -> None:
    op.drop_table("review_flag")
    op.drop_table("case_reference_counter")
    op.drop_table("case_audit")
    op.execute("DROP FUNCTION IF EXISTS case_audit_append_only()")
    op.drop_table("victim_identity")
    op.drop_table("case_file")
