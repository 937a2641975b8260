"""Tables of the console (issue 18, notifications to people): the people who signed in, what the console
keeps of each case to know who is responsible for it, each person's notifications and choices, and the
emails waiting to be sent. The inbox (services/common/database.py InboxEvent) makes each event count once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


class PersonRow(SQLModel, table=True):
    """A person as they last signed in: the directory notifications are addressed from."""

    __tablename__ = "person"
    __table_args__ = (Index("person_role_state", "role", "member_state"),)

    subject: str = Field(primary_key=True)
    name: str = ""
    role: str
    member_state: str | None = None
    # The missions the person serves (the token's claim); None: every mission.
    missions: list[str] | None = Field(default=None, sa_column=Column(ARRAY(Text)))
    language: str = "en"
    email: str | None = None
    signed_in_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class CaseProjectionRow(SQLModel, table=True):
    """Who is responsible for a case, from its case_changed events (the deadline events do not say)."""

    __tablename__ = "case_projection"

    case_id: str = Field(primary_key=True)
    reference: str
    mission: str
    police_contributing_country: str
    assigned_officer: str | None = None
    case_version: int = 0


class NotificationRow(SQLModel, table=True):
    """One event told to one person; ``delivery`` is how its email goes (chosen when it came)."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("event_id", "person", name="notification_once"),
        Index("notification_newest", "person", "created_at", "id"),
        Index("notification_digest", "delivery", "digested_at", "person"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    event_id: str
    person: str
    kind: str
    link: str
    facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    delivery: str
    created_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    read_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    digested_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class PreferenceRow(SQLModel, table=True):
    """How a person wants to be emailed about one kind of event: immediate, digest or off."""

    __tablename__ = "notification_preference"

    person: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    delivery: str


class EmailRow(SQLModel, table=True):
    """An email to send, written in the transaction that decided it; one per event (or day's digest) and
    person. The sender claims rows with FOR UPDATE SKIP LOCKED, sends, and marks them sent."""

    __tablename__ = "email_outbox"
    __table_args__ = (
        UniqueConstraint("event_id", "person", name="email_once"),
        Index("email_waiting", "next_attempt_at", postgresql_where="sent_at IS NULL"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    event_id: str
    person: str
    address: str
    language: str
    message_id: str
    subject: str
    body: str
    created_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    next_attempt_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
