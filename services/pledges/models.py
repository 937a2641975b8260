"""Tables of the pledges service."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, DateTime, Index, Integer, Numeric, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


class PledgeRow(SQLModel, table=True):
    __tablename__ = "pledge"
    __table_args__ = (
        UniqueConstraint("member_state", "idempotency_key", name="pledge_idempotency"),
        # Newest first within a State and kind: the duplicate lookup reads it in that order.
        Index("pledge_state_kind_newest", "member_state", "kind", "submitted_at", "id"),
        Index("pledge_submitted_keyset", "submitted_at", "id"),
    )

    id: str = Field(primary_key=True)
    member_state: str = Field(max_length=3)
    co_sponsors: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    summit: str
    kind: str
    title: str
    # The title as duplicates are matched (domain.duplicates.normal_title), kept up to date with the title.
    title_normal: str = ""
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
    next_report_due: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    missed_reports: int = 0
    traffic_light: str | None = None
    delivered: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    possible_duplicate_of: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(Text), nullable=False)
    )
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    submitted_by: str
    submitted_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    version: int = 1


class PledgeImportRow(SQLModel, table=True):
    """An import made with an Idempotency-Key: its report, replayed when the same key and body come again."""

    __tablename__ = "pledge_import"

    idempotency_key: str = Field(sa_column=Column(Text, primary_key=True))
    scope: str = Field(sa_column=Column(Text, nullable=False))
    fingerprint: str = Field(sa_column=Column(Text, nullable=False))
    status_code: int = Field(sa_column=Column(Integer, nullable=False))
    report: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    imported_by: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
