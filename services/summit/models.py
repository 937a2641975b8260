"""Tables of the summit service."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, DateTime, Numeric
from sqlmodel import Field, SQLModel


class Summit(SQLModel, table=True):
    __tablename__ = "summit"

    id: str = Field(primary_key=True)
    name: str
    venue: str
    starts_on: date
    ends_on: date
    host_support: str | None = None


class Milestone(SQLModel, table=True):
    __tablename__ = "milestone"

    id: str = Field(primary_key=True)
    summit_id: str = Field(foreign_key="summit.id", index=True)
    title: str
    due_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    warn_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: str = "planned"
    completed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    completed_by: str | None = None
    version: int = 1


class SummitPledge(SQLModel, table=True):
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


class FundingReceipt(SQLModel, table=True):
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
