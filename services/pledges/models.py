"""Tables of the pledges service."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, DateTime, Index, Numeric, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel


class Pledge(SQLModel, table=True):
    __tablename__ = "pledge"
    __table_args__ = (
        UniqueConstraint("member_state", "idempotency_key", name="pledge_idempotency"),
        Index("pledge_state_kind", "member_state", "kind"),
        Index("pledge_submitted_keyset", "submitted_at", "id"),
    )

    id: str = Field(primary_key=True)
    member_state: str = Field(max_length=3)
    co_sponsors: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    summit: str
    kind: str
    title: str
    text: str = ""
    indicator: str | None = None
    baseline: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 4)))
    target: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 4)))
    unit: str | None = None
    target_date: date | None = None
    resources: str | None = None
    amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 2)))
    currency: str | None = Field(default=None, max_length=3)
    supports_summit: str | None = None
    status: str = "submitted"
    submitted_by: str
    submitted_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    version: int = 1
