"""Agenda: rooms (with UN Headquarters' rooms as data), sessions, speakers and programme releases.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import csv
from collections.abc import Sequence
from datetime import time
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# Read here rather than through the service's code, so this revision keeps working if that code changes;
# a later change to the file ships as a new revision.
ROOMS_CSV = Path(__file__).resolve().parents[2] / "data" / "un_hq_rooms.csv"


def upgrade() -> None:
    room = op.create_table(
        "room",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("summit_id", sa.Text, sa.ForeignKey("summit.id"), index=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("building", sa.Text),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("capacity_basis", sa.Text, nullable=False),
        sa.Column("opens_at", sa.Time, nullable=False),
        sa.Column("closes_at", sa.Time, nullable=False),
        sa.Column("source", sa.Text),
        sa.CheckConstraint("capacity_basis IN ('confirmed', 'illustrative')", name="room_capacity_basis"),
        sa.CheckConstraint("closes_at > opens_at", name="room_hours"),
    )
    # One name per summit, and among UN Headquarters' own rooms.
    op.create_index(
        "room_name", "room", ["summit_id", "name"], unique=True, postgresql_nulls_not_distinct=True
    )
    op.create_table(
        "agenda_session",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("summit_id", sa.Text, sa.ForeignKey("summit.id"), nullable=False, index=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("theme", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("room_id", sa.Text, sa.ForeignKey("room.id"), nullable=False, index=True),
        sa.Column("languages", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("expected_attendance", sa.Integer),
        sa.Column("description", sa.Text),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name="agenda_session_times"),
    )
    # Placing a session reads the sessions of its summit that overlap it.
    op.create_index("agenda_session_time", "agenda_session", ["summit_id", "starts_at", "ends_at"])
    op.create_table(
        "agenda_session_person",
        sa.Column(
            "session_id", sa.Text, sa.ForeignKey("agenda_session.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("participant_id", sa.Text, sa.ForeignKey("participant.id"), primary_key=True, index=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.CheckConstraint("role IN ('speaker', 'moderator')", name="agenda_session_person_role"),
    )
    op.create_table(
        "programme_release",
        sa.Column("summit_id", sa.Text, sa.ForeignKey("summit.id"), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("sessions", JSONB, nullable=False),
        sa.Column("changes", JSONB, nullable=False),
    )
    with ROOMS_CSV.open(encoding="utf-8", newline="") as rows:
        op.bulk_insert(
            room,
            [
                {
                    "id": row["id"],
                    "summit_id": None,
                    "name": row["name"],
                    "building": row["building"] or None,
                    "capacity": int(row["capacity"]),
                    "capacity_basis": row["capacity_basis"],
                    "opens_at": time.fromisoformat(row["opens_at"]),
                    "closes_at": time.fromisoformat(row["closes_at"]),
                    "source": row["source"] or None,
                }
                for row in csv.DictReader(rows)
            ],
        )


def downgrade() -> None:
    op.drop_table("programme_release")
    op.drop_table("agenda_session_person")
    op.drop_table("agenda_session")
    op.drop_table("room")
