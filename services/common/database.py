"""Async database access (SQLAlchemy on asyncpg) and the tables every service shares."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    event,
    func,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from services.common import timing
from services.common.idempotency import mark_committed


def create_engine(url: str, pool_size: int = 20) -> AsyncEngine:
    # No pre-ping: it costs a round trip on every checkout. A connection broken by a database restart
    # fails one request (the client retries) and is replaced; recycling bounds a connection's life.
    # No overflow: a connection beyond the pool would be opened for one request and closed after it (a
    # new PostgreSQL backend each time, measured at several percent of the API's CPU under 32 concurrent
    # submissions); a request waits for a pooled connection instead.
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_recycle=1800)
    timing.time_statements(engine.sync_engine)
    return engine


class KeyedSession(Session):
    """A session whose commits mark the running request's Idempotency-Key claim in the same transaction
    (services.common.idempotency.mark_committed): a request whose effect is stored never runs twice."""


event.listen(KeyedSession, "before_commit", mark_committed)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=KeyedSession)


def asyncpg_dsn(url: str) -> str:
    """The plain libpq URL asyncpg wants, from a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def driver_pool(url: str, size: int) -> asyncpg.Pool:
    """A pool of asyncpg's own connections for constant SQL (Statement), JSONB passed as JSON text as on
    the engine's connections (driver_values).

    Connections go back as they are: the statements run on them never change the session (no SET, LISTEN,
    advisory lock or open transaction), so asyncpg's reset, one more round trip per checkout, is skipped.
    """

    async def keep(_: asyncpg.Connection) -> None:
        return None

    return await asyncpg.create_pool(asyncpg_dsn(url), min_size=0, max_size=size, reset=keep)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with factory() as session:
        yield session


@dataclass(frozen=True)
class Statement:
    """Constant SQL in asyncpg's own form ($1, $2...) with the names of its parameters in order.

    For the hot paths that talk to asyncpg directly: written once with named parameters, it costs no
    statement building per call, and asyncpg prepares it once per connection.
    """

    sql: str
    names: tuple[str, ...]

    @classmethod
    def of(cls, sql: str) -> Statement:
        compiled = text(sql).compile(dialect=asyncpg_dialect())  # type: ignore[no-untyped-call]
        return cls(compiled.string, tuple(compiled.positiontup or ()))

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] for name in self.names]


def driver_values(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` as asyncpg takes it on the engine's connections: JSONB as JSON text (the form SQLAlchemy's
    asyncpg codec for jsonb takes), everything else as is."""
    as_json = _jsonb_columns(table)
    # orjson: several times as fast as json.dumps, and PostgreSQL keeps jsonb in its own form anyway.
    return {name: orjson.dumps(value).decode() if name in as_json else value for name, value in row.items()}


@functools.cache
def _jsonb_columns(table: Table) -> frozenset[str]:
    return frozenset(column.name for column in table.c if isinstance(column.type, JSONB))


def insert_columns(table: Table, columns: Sequence[str], prefix: str = "") -> tuple[str, str]:
    """The column list and the matching values, as ``CAST(:<prefix><column> AS <type>)`` parameters, of an
    INSERT into ``table``: the casts let PostgreSQL type every parameter, even in ``INSERT ... SELECT``.

    Strings are cast to text, not to their varchar(n): a value too long is refused, not cut short.
    """
    pg = postgresql.dialect()  # type: ignore[no-untyped-call]

    def sql_type(name: str) -> str:
        column_type = table.c[name].type
        if isinstance(column_type, TypeDecorator):  # SQLModel's AutoString, say
            column_type = column_type.impl_instance
        return "text" if isinstance(column_type, String) else column_type.compile(dialect=pg)

    names = ", ".join(columns)
    values = ", ".join(f"CAST(:{prefix}{name} AS {sql_type(name)})" for name in columns)
    return names, values


def unnest_columns(table: Table, columns: Sequence[str], prefix: str = "") -> tuple[str, str]:
    """The column list and a ``SELECT`` of those columns for rows passed column-wise, one array parameter
    ``:<prefix><column>`` a column (``FROM unnest(...) AS <table>``): a single statement, prepared once,
    stores any number of rows. unnest_values makes the arrays.

    A text-array column travels as a JSON array a row (jsonb[]), since unnest flattens arrays of arrays.
    """
    pg = postgresql.dialect()  # type: ignore[no-untyped-call]
    selected, arrays = [], []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, TypeDecorator):
            column_type = column_type.impl_instance
        if isinstance(column_type, ARRAY):
            if not isinstance(column_type.item_type, String):
                raise TypeError(f"{table.name}.{name}: only text arrays travel as JSON")
            selected.append(f"ARRAY(SELECT jsonb_array_elements_text({name}))")
            arrays.append(f"CAST(:{prefix}{name} AS jsonb[])")
        else:
            selected.append(name)
            sql_type = "text" if isinstance(column_type, String) else column_type.compile(dialect=pg)
            arrays.append(f"CAST(:{prefix}{name} AS {sql_type}[])")
    names = ", ".join(columns)
    # Names from the table's own definition only, never from input.
    select = f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) AS {table.name} ({names})"  # noqa: S608
    return names, select


def unnest_values(table: Table, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """The arrays of unnest_columns for ``rows`` (all with the same columns, in order): JSONB and text-array
    values as JSON text, everything else as is."""
    as_json = _jsonb_columns(table) | _array_columns(table)
    return [
        [orjson.dumps(row[name]).decode() for row in rows] if name in as_json else [row[name] for row in rows]
        for name in rows[0]
    ]


@functools.cache
def _array_columns(table: Table) -> frozenset[str]:
    return frozenset(column.name for column in table.c if isinstance(column.type, ARRAY))


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
