"""The outbox relay: publishes committed outbox rows to Kafka, in order per key, at least once.

It wakes on PostgreSQL NOTIFY (a trigger fires at each commit of an outbox insert), claims rows with
``FOR UPDATE SKIP LOCKED`` so replicas share the work, and only marks rows published after Kafka has
acknowledged them (acks=all). While Kafka is down, rows wait in the outbox and writes go on.
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
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.database import asyncpg_dsn
from services.common.observability import get_logger
from services.common.outbox import NOTIFY_CHANNEL
from uncops_contracts import CloudEvent, encode_kafka

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

_CLAIM = text(
    """
    SELECT seq, event_id, topic, key, type, source, subject, dataschema, time, data, traceparent
    FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT :limit FOR UPDATE SKIP LOCKED
    """
)
# Rows of the same key that another replica holds (locked, still unpublished) and that come before ours:
# publishing ours first would break the order per key, so those keys wait for the next round.
_HELD_ELSEWHERE = text(
    """
    SELECT DISTINCT key FROM outbox
    WHERE published_at IS NULL AND key = ANY(:keys) AND seq < :max_seq AND NOT (seq = ANY(:seqs))
    """
)
_MARK_PUBLISHED = text("UPDATE outbox SET published_at = now() WHERE seq = ANY(:seqs)")
_BACKLOG = text(
    "SELECT count(*), EXTRACT(EPOCH FROM now() - min(created_at)) FROM outbox WHERE published_at IS NULL"
)
_PRUNE = text("DELETE FROM outbox WHERE published_at < now() - make_interval(hours => :hours)")
# Redeliveries come within minutes or days, not weeks: inbox rows older than the retention can go.
_PRUNE_INBOX = text("DELETE FROM inbox WHERE received_at < now() - make_interval(hours => :hours)")


class OutboxRelay:
    def __init__(
        self,
        service: str,
        engine: AsyncEngine,
        database_url: str,
        producer_factory: Callable[[], AIOKafkaProducer],
        batch_size: int = 500,
        retention_hours: int = 168,
        idle_poll_seconds: float = 2.0,
    ) -> None:
        self.service = service
        self.engine = engine
        self.dsn = asyncpg_dsn(database_url)
        self.producer_factory = producer_factory
        self.batch_size = batch_size
        self.retention_hours = retention_hours
        self.idle_poll_seconds = idle_poll_seconds
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._listener: asyncpg.Connection | None = None

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        last_prune = last_metrics = 0.0
        while not stop.is_set():
            try:
                await self._ensure_listener()
                producer = await self._ensure_producer()
                published = await self.publish_batch(producer)
                backoff = 0.1
                if time.monotonic() - last_prune > 3600:
                    await self._prune()
                    last_prune = time.monotonic()
                if published < self.batch_size or time.monotonic() - last_metrics > 5:
                    await self._refresh_metrics()
                    last_metrics = time.monotonic()
                if published < self.batch_size:
                    await self._sleep_until_woken(stop)
            except Exception as exc:  # any failure: keep the rows, back off, try again
                OUTBOX_FAILURES.labels(self.service).inc()
                log.warning("outbox relay retrying", error=repr(exc), backoff_seconds=round(backoff, 2))
                await self._reset_producer()
                with contextlib.suppress(Exception):
                    await self._refresh_metrics()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, 5.0)
        await self.close()

    async def publish_batch(self, producer: AIOKafkaProducer) -> int:
        """Publish one claimed batch; returns how many rows were published."""
        started = time.perf_counter()
        async with self.engine.begin() as conn:
            rows = (await conn.execute(_CLAIM, {"limit": self.batch_size})).mappings().all()
            if not rows:
                return 0
            seqs = [r["seq"] for r in rows]
            held = set(
                (
                    await conn.execute(
                        _HELD_ELSEWHERE,
                        {"keys": list({r["key"] for r in rows}), "max_seq": max(seqs), "seqs": seqs},
                    )
                ).scalars()
            )
            rows = [r for r in rows if r["key"] not in held]
            # Sends are queued in seq order; awaiting them all afterwards keeps throughput high while the
            # idempotent producer keeps that order within each partition.
            deliveries: list[asyncio.Future[Any]] = []
            for row in rows:
                headers, value = encode_kafka(
                    CloudEvent(
                        id=str(row["event_id"]),
                        source=row["source"],
                        type=row["type"],
                        subject=row["subject"],
                        time=row["time"],
                        dataschema=row["dataschema"],
                        data=row["data"],
                        traceparent=row["traceparent"],
                    )
                )
                deliveries.append(
                    await producer.send(row["topic"], value=value, key=row["key"].encode(), headers=headers)
                )
            await asyncio.gather(*deliveries)
            await conn.execute(_MARK_PUBLISHED, {"seqs": [r["seq"] for r in rows]})
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        OUTBOX_BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)
        return len(rows)

    async def close(self) -> None:
        await self._reset_producer()
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

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await asyncpg.connect(self.dsn)
        await self._listener.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())

    async def _sleep_until_woken(self, stop: asyncio.Event) -> None:
        # The poll is a safety net for a lost notification (e.g. a listener reconnect); NOTIFY is the path.
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=self.idle_poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self._wake.clear()

    async def _refresh_metrics(self) -> None:
        async with self.engine.connect() as conn:
            count, age = (await conn.execute(_BACKLOG)).one()
        OUTBOX_BACKLOG.labels(self.service).set(count)
        OUTBOX_OLDEST_AGE.labels(self.service).set(float(age or 0))

    async def _prune(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(_PRUNE, {"hours": self.retention_hours})
            await conn.execute(_PRUNE_INBOX, {"hours": self.retention_hours})
