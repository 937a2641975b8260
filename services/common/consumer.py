"""Kafka consumer with an inbox: each event applied exactly once to this service's database.

Per message: decode, then in ONE database transaction insert (consumer, event id) into the inbox and run
the handler; a repeated event hits the inbox's primary key and is skipped. Offsets are committed only after
the database commit. Transient failures are retried with backoff; a message that can't be decoded or that
keeps failing is parked on ``<topic>.dlq`` with the error and its original coordinates in headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from services.common.database import InboxEvent
from services.common.observability import continued_span, get_logger
from uncops_contracts import CloudEvent, decode_kafka

log = get_logger(__name__)

Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]

CONSUMED = Counter("uncops_consumer_events_total", "Events consumed", ["consumer", "outcome"])
ASSIGNED = Gauge("uncops_consumer_assigned_partitions", "Partitions assigned to the consumer", ["consumer"])
# Issue 20: how far behind the log's end each consumer is, per topic (summed over its assigned partitions),
# as this consumer last saw it (the high watermark of its latest fetch).
LAG = Gauge("uncops_consumer_lag", "Messages not yet consumed, per topic", ["consumer", "topic"])
LAST_MESSAGE_AGE = Gauge(
    "uncops_consumer_seconds_since_last_message",
    "Seconds since the consumer last received a message",
    ["consumer"],
)


# Offsets past events this consumer has no handler for are committed at most this often, not after each batch:
# reading them again after a restart is harmless, and a commit per ignored event is a Kafka round trip for
# nothing (the summit's consumers ignore all but one of a case's public events: issue 19).
IGNORED_COMMIT_SECONDS = 2.0
# How often the lag gauge is brought up to date (Prometheus scrapes every 15 to 60 s).
LAG_SECONDS = 1.0


class PoisonMessage(Exception):
    """A message that no retry will fix: it goes straight to the DLQ."""


def _is_transient(exc: BaseException) -> bool:
    return not isinstance(exc, PoisonMessage | ValidationError | ValueError | KeyError | TypeError)


def _is_infrastructure(exc: BaseException) -> bool:
    """The database (or network) is away: the message is fine and must wait, never be dead-lettered."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | ConnectionError | TimeoutError | OperationalError | InterfaceError)


@dataclass(frozen=True)
class Subscription:
    """What one consumer group reads and how it applies each event type."""

    name: str
    topics: Sequence[str]
    handlers: Mapping[str, Handler]


class InboxConsumer:
    def __init__(
        self,
        subscription: Subscription,
        sessions: async_sessionmaker[AsyncSession],
        consumer_factory: Callable[[str, Sequence[str]], AIOKafkaConsumer],
        dlq_producer_factory: Callable[[], AIOKafkaProducer],
        max_attempts: int = 5,
        stall_seconds: float = 60.0,
    ) -> None:
        self.subscription = subscription
        self.sessions = sessions
        self.consumer_factory = consumer_factory
        self.dlq_producer_factory = dlq_producer_factory
        self.max_attempts = max_attempts
        self.stall_seconds = stall_seconds
        self._last_message = time.monotonic()
        self._dlq: AIOKafkaProducer | None = None

    @property
    def name(self) -> str:
        return self.subscription.name

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop``; a failed or stalled Kafka client is replaced rather than left hanging."""
        backoff = 0.5
        while not stop.is_set():
            consumer = self.consumer_factory(self.name, list(self.subscription.topics))
            try:
                await consumer.start()
                backoff = 0.5
                await self._consume(consumer, stop)
            except Exception as exc:
                log.warning(
                    "consumer restarting", consumer=self.name, error=repr(exc), backoff_seconds=backoff
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(consumer.stop(), 10)
        if self._dlq is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._dlq.stop(), 10)

    async def _consume(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        unassigned_since: float | None = None
        ignored: dict[TopicPartition, int] = {}  # offsets past ignored events, not committed yet
        ignored_committed = lag_measured = time.monotonic()
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=200)
            assignment = consumer.assignment()
            ASSIGNED.labels(self.name).set(len(assignment))
            LAST_MESSAGE_AGE.labels(self.name).set(time.monotonic() - self._last_message)
            # Watchdog: after a broker restart or a rebalance gone wrong a consumer can sit with no
            # partitions forever; replace it so the group rebalances afresh.
            if not assignment:
                unassigned_since = unassigned_since or time.monotonic()
                if time.monotonic() - unassigned_since > self.stall_seconds:
                    raise RuntimeError(f"no partitions assigned for {self.stall_seconds:.0f}s")
            else:
                unassigned_since = None
            for tp, records in batches.items():
                acted = False
                for record in records:
                    acted = await self.process(record) or acted
                if acted:
                    # Only now, with every record's transaction committed, is the position safe to record.
                    ignored.pop(tp, None)
                    await consumer.commit({tp: records[-1].offset + 1})
                else:
                    ignored[tp] = records[-1].offset + 1
            if ignored and (stop.is_set() or time.monotonic() - ignored_committed >= IGNORED_COMMIT_SECONDS):
                await consumer.commit({tp: offset for tp, offset in ignored.items() if tp in assignment})
                ignored.clear()
                ignored_committed = time.monotonic()
            if time.monotonic() - lag_measured >= LAG_SECONDS:  # not for every batch: a gauge, scraped slower
                await self._measure_lag(consumer, assignment)
                lag_measured = time.monotonic()

    async def _measure_lag(self, consumer: AIOKafkaConsumer, assignment: Any) -> None:
        # Local figures only (the high watermark comes with each fetch response, the position is the
        # consumer's own): no request to the broker.
        lag: dict[str, int] = {topic: 0 for topic in self.subscription.topics}
        for tp in assignment:
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            with contextlib.suppress(Exception):  # a partition revoked meanwhile: counted at the next round
                # Known locally once the partition has been fetched from: a wait here means it is not yet.
                position = await asyncio.wait_for(consumer.position(tp), 0.1)
                lag[tp.topic] = lag.get(tp.topic, 0) + max(0, highwater - position)
        for topic, behind in lag.items():
            LAG.labels(self.name, topic).set(behind)

    async def process(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Applies the record (or parks it on the DLQ); False when this consumer has no handler for it."""
        self._last_message = time.monotonic()
        headers = list(record.headers or ())
        # The type header says whether the event is ours before any decoding (most of a topic may not be).
        event_type = next((v for k, v in headers if k == "ce_type"), None)
        if event_type is not None and event_type.decode(errors="replace") not in self.subscription.handlers:
            CONSUMED.labels(self.name, "ignored").inc()
            return False
        carrier = {k: v.decode(errors="replace") for k, v in headers if k == "traceparent"}
        with continued_span(f"consume {record.topic}", carrier, consumer=self.name):
            try:
                event = decode_kafka(headers, record.value)
            except ValueError as exc:
                await self._to_dlq(record, exc, attempts=1)
                return True
            handler = self.subscription.handlers.get(event.type)
            if handler is None:
                CONSUMED.labels(self.name, "ignored").inc()
                return False
            attempts = 0
            try:
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(self.max_attempts),
                    wait=wait_exponential_jitter(multiplier=0.2, max=5),
                    retry=retry_if_exception(_is_transient),
                    reraise=True,
                ):
                    with attempt:
                        attempts += 1
                        applied = await self._apply(record, event, handler)
                CONSUMED.labels(self.name, "applied" if applied else "duplicate").inc()
            except Exception as exc:
                if _is_infrastructure(exc):
                    # Out of the loop without committing: the consumer restarts and gets this message again.
                    raise
                await self._to_dlq(record, exc, attempts=attempts)
        return True

    async def _apply(self, record: ConsumerRecord[bytes, bytes], event: CloudEvent, handler: Handler) -> bool:
        async with self.sessions() as session, session.begin():
            inserted = await session.execute(
                insert(InboxEvent)
                .values(
                    consumer=self.name,
                    event_id=event.id,
                    type=event.type,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                )
                .on_conflict_do_nothing()
                .returning(col(InboxEvent.event_id))
            )
            if inserted.first() is None:
                return False
            await handler(session, event)
        return True

    async def _to_dlq(self, record: ConsumerRecord[bytes, bytes], exc: BaseException, attempts: int) -> None:
        CONSUMED.labels(self.name, "dead_lettered").inc()
        log.error(
            "message parked on DLQ",
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=repr(exc),
        )
        headers: list[tuple[str, bytes]] = list(record.headers or ())
        headers += [
            ("uncops_error", str(exc)[:2000].encode()),
            ("uncops_error_type", type(exc).__name__.encode()),
            ("uncops_attempts", str(attempts).encode()),
            ("uncops_consumer", self.name.encode()),
            ("uncops_original_topic", record.topic.encode()),
            ("uncops_original_partition", str(record.partition).encode()),
            ("uncops_original_offset", str(record.offset).encode()),
            ("uncops_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        if self._dlq is None:
            self._dlq = self.dlq_producer_factory()
            await self._dlq.start()
        # Raises if the DLQ can't take it: then the offset is not committed and the message comes back.
        await self._dlq.send_and_wait(
            f"{record.topic}.dlq", value=record.value, key=record.key, headers=headers
        )


def consumer_factory(kafka_options: Mapping[str, Any]) -> Callable[[str, Sequence[str]], AIOKafkaConsumer]:
    def make(group: str, topics: Sequence[str]) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *topics,
            group_id=group,
            client_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            **kafka_options,
        )

    return make
