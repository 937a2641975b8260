"""Tables of the summit service."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, DateTime, Numeric, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


class SummitRow(SQLModel, table=True):
    __tablename__ = "summit"

    id: str = Field(primary_key=True)
    name: str
    venue: str
    starts_on: date
    ends_on: date
    host_support: str | None = None
    languages: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    # Overall places for delegates; registrations beyond it wait on the waiting list.
    capacity: int = 1200
    # Places held by delegations (registered, under review, accredited, confirmed): a registration takes its
    # places with one atomic UPDATE on this counter (issue 19), and every write that frees places lowers it.
    places_taken: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Amounts of the budget and of the funding gap are in this currency.
    budget_currency: str = "USD"
    # Rates to the budget currency for pledges and receipts in other currencies (the UN operational rates
    # the planner enters); money in a currency without a rate is shown apart, never guessed.
    exchange_rates: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    version: int = 1


class MilestoneRow(SQLModel, table=True):
    __tablename__ = "milestone"

    id: str = Field(primary_key=True)
    summit_id: str = Field(foreign_key="summit.id", index=True)
    title: str
    # The template's key for the plan's own milestones; None for one a planner added.
    key: str | None = None
    owner: str | None = None
    due_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    warn_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: str = "planned"
    completed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    completed_by: str | None = None
    version: int = 1


class SummitPledgeRow(SQLModel, table=True):
    """A pledge as the summit service learned it from ``uncops.pledges.v1`` (never from the pledges DB)."""

    __tablename__ = "summit_pledge"

    pledge_id: str = Field(primary_key=True)
    member_state: str
    summit: str = Field(index=True)
    supports_summit: str | None = Field(default=None, index=True)
    kind: str
    title: str
    amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 2)))
    currency: str | None = None
    submitted_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    event_id: str
    # Follow-up, from the pledge's lifecycle events: the newest pledge_version wins, whatever the order.
    status: str = "submitted"
    traffic_light: str | None = None
    pledge_version: int = 0
    status_changed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class FundingReceiptRow(SQLModel, table=True):
    """Money received for a summit, recorded by the secretariat; it feeds the pledges it names."""

    __tablename__ = "funding_receipt"

    id: str = Field(primary_key=True)
    summit_id: str = Field(foreign_key="summit.id", index=True)
    member_state: str
    pledge_id: str | None = Field(default=None, index=True)
    amount: Decimal = Field(sa_column=Column(Numeric(20, 2), nullable=False))
    currency: str
    received_on: date
    recorded_by: str
    # A reversing entry (migration 0007): the receipt it reverses, once, and why; its amount is negative, so
    # every total stays a plain sum and nothing is ever deleted.
    reverses: str | None = Field(default=None, foreign_key="funding_receipt.id", unique=True)
    reason: str | None = None
    recorded_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class BudgetLineRow(SQLModel, table=True):
    """What the summit will cost, by line (venue, interpretation, travel...), in the budget currency."""

    __tablename__ = "budget_line"
    __table_args__ = (UniqueConstraint("summit_id", "category", "title"),)

    id: str = Field(primary_key=True)
    summit_id: str = Field(foreign_key="summit.id", index=True)
    category: str
    title: str
    planned: Decimal = Field(sa_column=Column(Numeric(20, 2), nullable=False))
    version: int = 1


class ExpenditureRow(SQLModel, table=True):
    """Money spent against a budget line."""

    __tablename__ = "expenditure"

    id: str = Field(primary_key=True)
    summit_id: str = Field(foreign_key="summit.id", index=True)
    budget_line_id: str = Field(foreign_key="budget_line.id", index=True)
    amount: Decimal = Field(sa_column=Column(Numeric(20, 2), nullable=False))
    spent_on: date
    description: str
    recorded_by: str
    version: int = 1


class SummitAuditRow(SQLModel, table=True):
    """A correction of what a planner recorded (a room, a budget line, spending, a receipt): who, when, the
    values before and after, and why."""

    __tablename__ = "summit_audit"

    id: str = Field(primary_key=True)
    summit_id: str = Field(foreign_key="summit.id", index=True)
    subject: str  # room, budget_line, expenditure, funding_receipt
    subject_id: str = Field(index=True)
    action: str  # changed, removed, reversed
    actor: str
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    reason: str | None = None


class PublicAllegationRow(SQLModel, table=True):
    """An allegation as ``uncops.cases.public.v1`` publishes it: the UN's public data, nothing identifying."""

    __tablename__ = "public_allegation"

    allegation_id: str = Field(primary_key=True)
    reported_year: int = Field(index=True)
    mission: str
    personnel_category: str
    nationality: str
    category: str
    allegation_type: str
    victims_adult: int
    victims_minor: int
    investigation_status: str
    result: str | None = None
    referred_for_criminal_accountability: bool = False
    event_time: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class DelegationRow(SQLModel, table=True):
    """A Member State's delegation to a summit (its lifecycle runs in a DelegationWorkflow)."""

    __tablename__ = "delegation"
    __table_args__ = (UniqueConstraint("summit_id", "member_state"),)

    id: str = Field(primary_key=True)
    summit_id: str = Field(foreign_key="summit.id", index=True)
    member_state: str
    status: str = "invited"
    note_verbale: str
    invited_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    registration_deadline: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    head_of_delegation: str | None = None
    languages: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    # The proof document (credentials letter) as metadata: name, media type, size, SHA-256.
    proof_document: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    members: int = 0
    registered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # Order on the waiting list: the moment it was put there (first come, first served).
    waitlisted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    reason: str | None = None
    version: int = 1
    # The workflow change last stored (a retried activity recognises its own write) and, for a delegation
    # moved up from the waiting list, the change that promoted it.
    last_change: str | None = None
    promoted_by: str | None = None


class ParticipantRow(SQLModel, table=True):
    """A person attending: a delegate, or a guest (UN official, moderator) the secretariat registered."""

    __tablename__ = "participant"

    id: str = Field(primary_key=True)
    summit_id: str = Field(foreign_key="summit.id", index=True)
    delegation_id: str | None = Field(default=None, foreign_key="delegation.id", index=True)
    full_name: str
    function: str
    organisation: str | None = None
    is_head: bool = False
    languages: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    # Whether the person agreed to appear on published participant lists.
    consent_to_list: bool = False
    badge_number: str | None = None
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class RoomRow(SQLModel, table=True):
    """A meeting room: UN Headquarters' own (no summit: loaded from data/un_hq_rooms.csv by migration 0004,
    offered to every summit) or one a planner added for a summit."""

    __tablename__ = "room"

    id: str = Field(primary_key=True)
    summit_id: str | None = Field(default=None, foreign_key="summit.id", index=True)
    name: str
    building: str | None = None
    capacity: int
    # "confirmed" by the venue, or "illustrative" until it is: planners see which figures to trust.
    capacity_basis: str = "illustrative"
    # Opening hours every day, in the venue's local time.
    opens_at: time
    closes_at: time
    source: str | None = None
    version: int = 1


class AgendaSessionRow(SQLModel, table=True):
    """A session of a summit's draft programme; releases publish snapshots of it."""

    __tablename__ = "agenda_session"

    id: str = Field(primary_key=True)
    summit_id: str = Field(foreign_key="summit.id", index=True)
    title: str
    theme: str | None = None
    kind: str
    starts_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ends_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    room_id: str = Field(foreign_key="room.id", index=True)
    languages: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    expected_attendance: int | None = None
    description: str | None = None
    updated_by: str
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    version: int = 1


class SessionPersonRow(SQLModel, table=True):
    """A speaker or moderator of a session (a registered participant), in the programme's order."""

    __tablename__ = "agenda_session_person"

    session_id: str = Field(foreign_key="agenda_session.id", primary_key=True, ondelete="CASCADE")
    participant_id: str = Field(foreign_key="participant.id", primary_key=True, index=True)
    role: str  # speaker or moderator
    position: int


class ProgrammeReleaseRow(SQLModel, table=True):
    """A numbered, published version of a summit's programme: the sessions as released and the changelog."""

    __tablename__ = "programme_release"

    summit_id: str = Field(foreign_key="summit.id", primary_key=True)
    number: int = Field(primary_key=True)
    released_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    released_by: str
    note: str | None = None
    # services.summit.domain.agenda.ProgrammeSession and uncops_contracts ProgrammeChange, as JSON.
    sessions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    changes: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))


class CalendarFeedRow(SQLModel, table=True):
    """A person's calendar feed (services/summit/domain/calendars.py): the SHA-256 of its secret token, never
    the token, and the scope it was made with (the person's subject, role and State)."""

    __tablename__ = "calendar_feed"
    __table_args__ = (UniqueConstraint("subject", "idempotency_key"),)

    id: str = Field(primary_key=True)
    token_sha256: str = Field(unique=True)
    subject: str = Field(index=True)
    role: str
    member_state: str | None = None
    label: str | None = None
    # The Idempotency-Key it was made under: a retry finds this feed instead of making a second one.
    idempotency_key: str | None = None
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
