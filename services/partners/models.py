"""Tables of the partner gateway: partners' scopes, webhook subscriptions, their deliveries and each delivery
attempt, and the notices sent to a partner's contact."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, Integer, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel


class PartnerRow(SQLModel, table=True):
    """A partner's scope, set by an administrator; a partner without a row reads the public topics."""

    __tablename__ = "partner"

    id: str = Field(sa_column=Column(Text, primary_key=True))  # the partner's token subject
    topics: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    contact_email: str | None = Field(default=None, sa_column=Column(Text))
    updated_by: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class WebhookSubscriptionRow(SQLModel, table=True):
    __tablename__ = "webhook_subscription"
    __table_args__ = (Index("webhook_subscription_partner_keyset", "partner_id", "created_at", "id"),)

    id: str = Field(sa_column=Column(Text, primary_key=True))
    partner_id: str = Field(sa_column=Column(Text, nullable=False))
    url: str = Field(sa_column=Column(Text, nullable=False))
    event_types: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    # active, paused (deliveries wait), failing (a delivery spent its retries; deliveries wait for resume)
    status: str = Field(sa_column=Column(Text, nullable=False))
    # Kept as the sender must sign with them: the key itself, not a hash of it.
    secret: str = Field(sa_column=Column(Text, nullable=False))
    previous_secret: str | None = Field(default=None, sa_column=Column(Text))
    previous_secret_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    failing_since: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))


class WebhookDeliveryRow(SQLModel, table=True):
    """One event for one subscription. ``seq`` orders a subscription's deliveries as they were fanned out:
    the next of a subject (aggregate key) waits while an earlier one of that subject is pending."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="webhook_delivery_once"),
        Index("webhook_delivery_list", "subscription_id", "seq"),
        Index(
            "webhook_delivery_pending_key",
            "subscription_id",
            "subject",
            "seq",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("webhook_delivery_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("webhook_delivery_since", "subscription_id", "created_at"),
    )

    id: str = Field(sa_column=Column(Text, primary_key=True))
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), nullable=False))
    subscription_id: str = Field(sa_column=Column(Text, nullable=False))
    event_id: str = Field(sa_column=Column(Text, nullable=False))
    event_type: str = Field(sa_column=Column(Text, nullable=False))
    subject: str = Field(sa_column=Column(Text, nullable=False))
    # The CloudEvent in structured JSON, exactly the bytes sent and signed on every attempt.
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(Text, nullable=False))  # pending, delivered, failed
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))  # since last queued
    redeliveries: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class WebhookAttemptRow(SQLModel, table=True):
    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("webhook_attempt_delivery", "delivery_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    delivery_id: str = Field(sa_column=Column(Text, nullable=False))
    attempt: int = Field(sa_column=Column(Integer, nullable=False))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status_code: int | None = Field(default=None, sa_column=Column(Integer))
    latency_ms: int = Field(sa_column=Column(Integer, nullable=False))
    response_excerpt: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))


class PartnerNotificationRow(SQLModel, table=True):
    """What the partner's contact was told (a subscription marked failing), with where it was sent."""

    __tablename__ = "partner_notification"
    __table_args__ = (Index("partner_notification_keyset", "partner_id", "created_at", "id"),)

    id: str = Field(sa_column=Column(Text, primary_key=True))
    partner_id: str = Field(sa_column=Column(Text, nullable=False))
    subscription_id: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(sa_column=Column(Text, nullable=False))
    message: str = Field(sa_column=Column(Text, nullable=False))
    contact_email: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
