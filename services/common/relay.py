"""The outbox relay: publishes committed outbox rows to Kafka, in order per key, at least once.

It wakes on PostgreSQL NOTIFY (a trigger notifies at the commit of an outbox insert while a relay sleeps,
services/common/schema.py), claims rows with
``FOR UPDATE SKIP LOCKED`` so replicas share the work, and deletes rows only after Kafka has acknowledged
them (acks=all). While Kafka is down, rows wait in the outbox and writes go on.

It talks to PostgreSQL through its own asyncpg connections rather than the ORM: this loop is the
throughput-critical path, and rows come back as-is (the event data is stored already serialised). It hands
them to the producer as one record batch per partition, each key's partition picked as Kafka's default
partitioner would (docs/decisions/0006-relay-batches-per-partition.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from opentelemetry.trace import Span, StatusCode
from prometheus_client import Counter, Gauge, Histogram

from services.common import observability
from services.common.database import asyncpg_dsn
from services.common.kafka import default_partition
from services.common.observability import get_logger
from services.common.outbox import NOTIFY_CHANNEL, SLEEP_LOCK
from uncops_contracts.envelope import CONTENT_TYPE, SCHEMA_BASE, SPEC_VERSION, TRACEPARENT_HEADER

log = get_logger(__name__)

OUTBOX_BACKLOG = Gauge("uncops_outbox_backlog", "Outbox events not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "uncops_outbox_oldest_unpublished_age_seconds", "Age of the oldest unpublished outbox event", ["service"]
)
OUTBOX_PUBLISHED = Counter("uncops_outbox_published_total", "Outbox events published to Kafka", ["service"])
OUTBOX_FAILURES = Counter("uncops_outbox_publish_failures_total", "Failed publish attempts", ["service"])
OUTBOX_BATCH_SECONDS = Histogram(
    "uncops_outbox_batch_seconds",
    "Time to publish one claimed batch",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# A row is taken only if no earlier row of its key is still in the outbox outside this batch: such a row is
# held by another replica (locked, skipped here), and publishing ours first would break the order per key.
# That check is a LATERAL subquery with LIMIT 1, so it runs as one index probe per claimed row: written as
# NOT EXISTS, the planner made it a hash anti join over the whole outbox_key_seq index, and with 50,000 rows
# waiting a claim of 500 took 28 ms instead of 4 (EXPLAIN ANALYZE).
# The locking scan returns the whole rows: joining the claimed seqs back to the table cost 500 more index
# probes, 7.1 ms instead of 4.4 in EXPLAIN ANALYZE (issue 19, docs/decisions/0005).
# PostgreSQL renders the per-row header bytes (in C, as bytea) so the loop below does no encoding.
_CLAIM = """
WITH claimed AS (
    SELECT seq, topic, type, source, dataschema, value, traceparent, event_id, key, subject, time
    FROM outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
)
SELECT c.seq, c.topic, c.type, c.source, c.dataschema, c.value, c.traceparent,
       convert_to(c.event_id::text, 'UTF8') AS id,
       convert_to(c.key, 'UTF8') AS key,
       convert_to(c.subject, 'UTF8') AS subject,
       convert_to(to_char(c.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'UTF8') AS time
FROM claimed c
LEFT JOIN LATERAL (
    SELECT e.seq FROM outbox e
    WHERE e.key = c.key AND e.seq < c.seq AND e.seq NOT IN (SELECT seq FROM claimed)
    LIMIT 1
) AS earlier ON true
WHERE earlier.seq IS NULL
ORDER BY c.seq
"""
_CONTENT_TYPE = ("content-type", CONTENT_TYPE.encode())
_SPEC_VERSION = ("ce_specversion", SPEC_VERSION.encode())
_DELETE = "DELETE FROM outbox WHERE seq = ANY($1::bigint[])"
_BACKLOG = "SELECT count(*), EXTRACT(EPOCH FROM now() - min(created_at)) FROM outbox"
_ANY_ROW = "SELECT EXISTS (SELECT 1 FROM outbox)"
# How long a relay about to sleep waits for the sleep lock (inserts in flight hold it shared until they
# commit; another relay may be asleep holding it), and how soon it looks again without it.
_SLEEP_LOCK_TIMEOUT_MS = 200
_UNLOCKED_SLEEP_SECONDS = 0.25
# Redeliveries come within minutes or days, not weeks: inbox rows older than the retention can go.
_PRUNE_INBOX = "DELETE FROM inbox WHERE received_at < now() - make_interval(hours => $1)"


async def _submit(
    producer: AIOKafkaProducer, batch: BatchBuilder, topic: str, partition: int
) -> asyncio.Future[Any]:
    # Closed, the batch goes out at once rather than after the producer's linger.
    batch.close()
    future: asyncio.Future[Any] = await producer.send_batch(batch, topic, partition=partition)
    return future


def published_dataschema(stored: str, schema_base: str) -> str:
    """The ce_dataschema to publish for an outbox row's canonical one: the deployment's base
    (UNCOPS_SCHEMA_BASE_URL) in place of the contracts' SCHEMA_BASE. Anything else is sent as stored."""
    if schema_base != SCHEMA_BASE and stored.startswith(SCHEMA_BASE + "/"):
        return schema_base + stored[len(SCHEMA_BASE) :]
    return stored


class OutboxRelay:
    def __init__(
        self,
        service: str,
        database_url: str,
        producer_factory: Callable[[], AIOKafkaProducer],
        batch_size: int = 500,
        retention_hours: int = 168,
        idle_poll_seconds: float = 2.0,
        linger_seconds: float = 0.0,
        schema_base: str = SCHEMA_BASE,
    ) -> None:
        self.service = service
        self.dsn = asyncpg_dsn(database_url)
        self.producer_factory = producer_factory
        self.batch_size = batch_size
        self.retention_hours = retention_hours
        self.idle_poll_seconds = idle_poll_seconds
        self.linger_seconds = linger_seconds
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._listener: asyncpg.Connection | None = None
        self._conn: asyncpg.Connection | None = None
        self._headers: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.schema_base = schema_base.rstrip("/")
        self._dataschemas: dict[str, tuple[str, bytes]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        last_prune = last_metrics = 0.0
        while not stop.is_set():
            try:
                await self._ensure_connections()
                producer = await self._ensure_producer()
                published = await self.publish_batch(producer)
                backoff = 0.1
                if time.monotonic() - last_prune > 3600:
                    await self._prune()
                    last_prune = time.monotonic()
                # At most once a second: under a steady trickle every batch is small, and counting the
                # backlog after each one cost a query per published event or two.
                if time.monotonic() - last_metrics > 1:
                    await self._refresh_metrics()
                    last_metrics = time.monotonic()
                if 0 < published < self.batch_size and self.linger_seconds:
                    # Rows are arriving one commit at a time: let a few more gather, as a Kafka producer's
                    # linger does, so each claim, send and delete carries several rather than one or two.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.linger_seconds)
                elif published < self.batch_size:
                    await self._sleep_until_woken(stop)
            except Exception as exc:  # any failure: keep the rows, back off, try again
                OUTBOX_FAILURES.labels(self.service).inc()
                log.warning("outbox relay retrying", error=repr(exc), backoff_seconds=round(backoff, 2))
                await self._reset_producer()
                await self._reset_connection()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, 5.0)
        await self.close()

    async def publish_batch(self, producer: AIOKafkaProducer) -> int:
        """Publish one claimed batch; returns how many rows were published."""
        await self._ensure_connections()
        assert self._conn is not None
        started = time.perf_counter()
        async with self._conn.transaction():
            rows = await self._conn.fetch(_CLAIM, self.batch_size)
            if not rows:
                return 0
            # Spans per event only when they leave the process: otherwise the stored traceparent goes as is.
            spans: list[Span] | None = [] if observability.exporting() else None
            try:
                await asyncio.gather(*await self._send(producer, rows, spans))
            except Exception:
                for span in spans or ():
                    span.set_status(StatusCode.ERROR)
                raise
            finally:
                for span in spans or ():
                    span.end()
            await self._conn.execute(_DELETE, [row["seq"] for row in rows])
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        OUTBOX_BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)
        return len(rows)

    async def _send(
        self, producer: AIOKafkaProducer, rows: list[asyncpg.Record], spans: list[Span] | None = None
    ) -> list[asyncio.Future[Any]]:
        """Hand ``rows`` to the producer as one record batch per partition; returns the deliveries to await.

        The relay picks each key's partition (Kafka's default partitioner, services/common/kafka.py) and fills
        the batches itself, rather than one ``send()`` per row: a batch of 500 went to the producer in 7-9 ms
        instead of 20-40 (aiokafka's per-message coroutine, size check, pure-Python murmur2 and future; load
        average 6), which took the relay from 0.56 to 0.96 of a raw producer's rate (issue 19,
        docs/decisions/0006-relay-batches-per-partition.md). Rows keep their seq order within each partition,
        and the idempotent producer keeps it on the broker.
        """
        counts: dict[str, int] = {}
        batches: dict[tuple[str, int], BatchBuilder] = {}
        deliveries: list[asyncio.Future[Any]] = []
        for row in rows:
            topic = row["topic"]
            count = counts.get(topic)
            if count is None:
                # partitions_for also waits for the topic's metadata, as send() does.
                count = counts[topic] = len(await producer.partitions_for(topic))
            key, value = row["key"], row["value"]
            headers = [
                _CONTENT_TYPE,
                ("ce_id", row["id"]),
                self._header("ce_source", row["source"]),
                self._header("ce_type", row["type"]),
                _SPEC_VERSION,
                ("ce_subject", row["subject"]),
                ("ce_time", row["time"]),
                self._dataschema(row["dataschema"]),
            ]
            if row["traceparent"]:
                if spans is not None:
                    # Exported traces (issue 20): the event's hop through the relay is a span of its own.
                    span, stored = observability.publish_span(row["traceparent"], topic)
                    spans.append(span)
                    traceparent = stored.encode()
                else:
                    traceparent = row["traceparent"].encode()
                headers += [("ce_traceparent", traceparent), (TRACEPARENT_HEADER, traceparent)]
            partition = default_partition(key, count)
            batch = batches.get((topic, partition))
            if batch is None:
                batch = batches[topic, partition] = producer.create_batch()
            if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
                # Full (the producer's max_batch_size): send it and go on in a new one, in order.
                deliveries.append(await _submit(producer, batch, topic, partition))
                batch = batches[topic, partition] = producer.create_batch()
                if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
                    raise ValueError(f"outbox row {row['seq']} does not fit in a Kafka record batch")
        for (topic, partition), batch in batches.items():
            deliveries.append(await _submit(producer, batch, topic, partition))
        return deliveries

    def _header(self, name: str, text: str) -> tuple[str, bytes]:
        # Sources and types repeat from row to row: each header is made once.
        header = self._headers.get((name, text))
        if header is None:
            header = self._headers[name, text] = (name, text.encode())
        return header

    def _dataschema(self, stored: str) -> tuple[str, bytes]:
        # Rows keep the canonical URL (one per event type): the base is swapped once per type, not per row.
        header = self._dataschemas.get(stored)
        if header is None:
            header = self._dataschemas[stored] = (
                "ce_dataschema",
                published_dataschema(stored, self.schema_base).encode(),
            )
        return header

    async def close(self) -> None:
        await self._reset_producer()
        await self._reset_connection()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._listener.close(), 5)
            self._listener = None

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self.producer_factory()
            try:
                await producer.start()
            except Exception:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), 5)
                raise
            self._producer = producer
        return self._producer

    async def _reset_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 5)

    async def _reset_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    async def _ensure_connections(self) -> None:
        if self._listener is None or self._listener.is_closed():
            self._listener = await asyncpg.connect(
                self.dsn, server_settings={"lock_timeout": str(_SLEEP_LOCK_TIMEOUT_MS)}
            )
            await self._listener.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
        if self._conn is None or self._conn.is_closed():
            # A batch's delete need not wait for its WAL flush: lost in a crash of PostgreSQL itself, it only
            # brings the rows back to be published again (at least once), and each commit of a batch of 500
            # took 1.2-3.0 ms with the flush, 0.2-0.3 without (issue 19, load average 6).
            self._conn = await asyncpg.connect(self.dsn, server_settings={"synchronous_commit": "off"})

    async def _sleep_until_woken(self, stop: asyncio.Event) -> None:
        # Asleep, the relay holds SLEEP_LOCK, and only then do inserts notify (schema.notify_sleeping_relays).
        # Taking it waits for the inserts in flight to commit; the outbox is looked at once it is held, so
        # a row committed before is not slept on, and one committed after sends a notification.
        # The poll is a safety net for a lost notification (e.g. a listener reconnect); NOTIFY is the path.
        assert self._listener is not None
        asleep = await self._take_sleep_lock()
        self._wake.clear()
        try:
            if asleep and await self._listener.fetchval(_ANY_ROW):
                return
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(
                    waiters,
                    timeout=self.idle_poll_seconds if asleep else _UNLOCKED_SLEEP_SECONDS,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                for waiter in waiters:
                    waiter.cancel()
        finally:
            if asleep:
                await self._listener.execute("SELECT pg_advisory_unlock($1)", SLEEP_LOCK)
        self._wake.clear()

    async def _take_sleep_lock(self) -> bool:
        assert self._listener is not None
        try:
            await self._listener.execute("SELECT pg_advisory_lock($1)", SLEEP_LOCK)
        except asyncpg.LockNotAvailableError:
            # Another relay sleeps holding it (and notifications reach every relay), or a long transaction
            # holds it shared: look again soon.
            return False
        return True

    async def _refresh_metrics(self) -> None:
        assert self._conn is not None
        count, age = await self._conn.fetchrow(_BACKLOG)
        OUTBOX_BACKLOG.labels(self.service).set(count)
        OUTBOX_OLDEST_AGE.labels(self.service).set(float(age or 0))

    async def _prune(self) -> None:
        assert self._conn is not None
        await self._conn.execute(_PRUNE_INBOX, self.retention_hours)
