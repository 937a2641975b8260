"""Async database access (SQLAlchemy on asyncpg) and the tables every service shares."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, LargeBinary, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlmodel import Field, SQLModel


def create_engine(url: str, pool_size: int = 20) -> AsyncEngine:
    # No pre-ping: it costs a round trip on every checkout. A connection broken by a database restart
    # fails one request (the client retries) and is replaced; recycling bounds a connection's life.
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size // 2, pool_recycle=1800)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(url: str) -> str:
    """The plain libpq URL asyncpg wants, from a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with factory() as session:
        yield session


class OutboxEvent(SQLModel, table=True):
    """An event written in the same transaction as the change it reports; the relay publishes it.

    The data is stored already serialised (``value``), so publishing costs no per-row encoding; a published
    row is deleted (Kafka keeps the event), which keeps the table small and the claim query fast.
    """

    __tablename__ = "outbox"
    # The relay's order-per-key check looks up earlier rows of a key.
    __table_args__ = (Index("outbox_key_seq", "key", "seq"),)

    seq: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    event_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), unique=True, nullable=False))
    topic: str = Field(sa_column=Column(Text, nullable=False))
    key: str = Field(sa_column=Column(Text, nullable=False))
    type: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(sa_column=Column(Text, nullable=False))
    subject: str = Field(sa_column=Column(Text, nullable=False))
    dataschema: str = Field(sa_column=Column(Text, nullable=False))
    time: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    traceparent: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )


class InboxEvent(SQLModel, table=True):
    """An event a consumer has applied; its primary key turns a redelivery into a no-op."""

    __tablename__ = "inbox"

    consumer: str = Field(sa_column=Column(Text, primary_key=True))
    event_id: str = Field(sa_column=Column(Text, primary_key=True))
    type: str = Field(sa_column=Column(Text, nullable=False))
    topic: str = Field(sa_column=Column(Text, nullable=False))
    partition: int = Field(nullable=False)
    offset: int = Field(sa_column=Column(BigInteger, nullable=False))
    received_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
