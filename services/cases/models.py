"""Tables of the cases service. The workflow owns a case's state; these rows are what it stored, for
queries, plus the parts that never enter a workflow: victims' encrypted identity and the audit chain."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class CaseRow(SQLModel, table=True):
    __tablename__ = "case_file"
    __table_args__ = (
        Index("case_file_keyset", "reported_on", "id"),
        Index("case_file_mission_status", "mission", "status", "reported_on", "id"),
        Index("case_file_country", "police_contributing_country", "reported_on", "id"),
        Index("case_file_overdue_keyset", "reported_on", "id", postgresql_where=text("overdue")),
    )

    id: str = Field(primary_key=True)
    reference: str = Field(unique=True)
    version: int
    status: str = Field(index=True)
    mission: str
    personnel_category: str
    police_contributing_country: str = Field(max_length=3, index=True)
    unit: str | None = None
    category: str
    allegation_type: str
    urgent: bool = False
    incident_date: date | None = None
    reported_on: date
    assigned_officer: str | None = Field(default=None, index=True)
    investigating_entity: str | None = None
    finding: str | None = None
    credible: bool = True
    victims_adult: int = 0
    victims_minor: int = 0
    overdue: bool = False
    next_due_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    opened_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    state: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    audit_length: int = 0
    audit_head: str = "0" * 64


class VictimIdentityRow(SQLModel, table=True):
    """Identity and contact data of a victim: encrypted at rest, read only through an audited reveal."""

    __tablename__ = "victim_identity"

    victim_id: str = Field(primary_key=True)
    case_id: str = Field(foreign_key="case_file.id", index=True)
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AuditEntry(SQLModel):
    """Append-only, chained: each entry's hash covers its content and the previous entry's hash."""

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    case_id: str = Field(index=True)
    position: int
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str
    actor_role: str
    action: str
    before: dict[str, Any] = Field(
        sa_column=Column(JSONB, nullable=False),
        description="The fields of the case the step changed, as they were (a reveal: what and why)",
    )
    after: dict[str, Any] = Field(
        sa_column=Column(JSONB, nullable=False), description="The same fields, as the step left them"
    )
    previous_hash: str = Field(sa_column=Column(Text, nullable=False))
    hash: str = Field(sa_column=Column(Text, nullable=False))


class AuditEntryRow(AuditEntry, table=True):
    # The entry as GET /cases/{id}/audit shows it is AuditEntry (its schema keeps that name).
    __tablename__ = "case_audit"
    __table_args__ = (UniqueConstraint("case_id", "position", name="case_audit_position"),)


class ReferenceCounterRow(SQLModel, table=True):
    """Next number of a mission's cases in a year, for references like MINUSCA-2026-0042."""

    __tablename__ = "case_reference_counter"

    mission: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    last: int = 0


class CaseStatisticsRow(SQLModel, table=True):
    """Counts of case files per combination of every dimension the statistics offer. Written only by
    case_file's triggers (migration 0003), in the transaction of the write they count."""

    __tablename__ = "case_statistics"

    year: int = Field(primary_key=True)
    mission: str = Field(primary_key=True)
    personnel_category: str = Field(primary_key=True)
    police_contributing_country: str = Field(primary_key=True, max_length=3)
    allegation_type: str = Field(primary_key=True)
    category: str = Field(primary_key=True)
    result: str = Field(primary_key=True)  # the finding, or "pending"
    allegations: int
    victims_adult: int
    victims_minor: int


class CaseStatisticsHeadlineRow(SQLModel, table=True):
    """The same counts by year, mission, nationality and result only: a few thousand rows where the full
    grain has about one per two cases. Kept by the same triggers."""

    __tablename__ = "case_statistics_headline"

    year: int = Field(primary_key=True)
    mission: str = Field(primary_key=True)
    police_contributing_country: str = Field(primary_key=True, max_length=3)
    result: str = Field(primary_key=True)
    allegations: int
    victims_adult: int
    victims_minor: int


class ReviewFlag(SQLModel):
    # A Security Council resolution 2272 review flag as GET /cases/review-flags shows it (no docstring: the
    # schema has no description).
    id: str = Field(primary_key=True)
    kind: str
    police_contributing_country: str
    unit: str | None = None
    case_ids: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    count: int
    threshold: int
    raised_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ReviewFlagRow(ReviewFlag, table=True):
    __tablename__ = "review_flag"
    __table_args__ = (Index("review_flag_subject", "kind", "police_contributing_country", "unit"),)
