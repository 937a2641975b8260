"""Benchmark 1: the outbox relay's throughput against a raw idempotent producer, in the same run.

(a) N outbox rows (PledgeSubmitted events of about 600 bytes, 1,000 distinct keys) are bulk-inserted with
asyncpg COPY into the pledges database, then an ``OutboxRelay`` (batch 500, the real idempotent producer of
services/common/kafka.py) drains them: ``publish_batch`` in a loop until it returns 0. Only the drain is
timed. The relay hands the producer one record batch per partition (``send_batch``, issue 19,
docs/decisions/0006-relay-batches-per-partition.md).
(b) A raw aiokafka producer with the same options sends the same N messages (same key, headers and value,
encoded beforehand) to the same topic, pipelined the same way: 500 ``send()`` futures, then gathered.

Runs alternate raw, relay, raw, relay; the best of each gives the ratio relay/raw (goal >= 0.8).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.common import PLEDGES_TOPIC, cpu_snapshot, cpu_usage, encoded, make_events, summary_ms
from services.common.database import asyncpg_dsn
from services.common.kafka import idempotent_producer
from services.common.relay import OutboxRelay
from services.common.settings import Settings
from uncops_contracts.envelope import encode_data

GOAL_RATIO = 0.8
COLUMNS = (
    "event_id",
    "topic",
    "key",
    "type",
    "source",
    "subject",
    "dataschema",
    "time",
    "value",
    "traceparent",
)


async def _started_producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    producer = idempotent_producer(settings, client_id)
    await asyncio.wait_for(producer.start(), 30)
    # Metadata of the topic fetched before the clock starts, for both contenders alike.
    await asyncio.wait_for(producer.partitions_for(PLEDGES_TOPIC), 30)
    return producer


async def _raw_run(
    settings: Settings,
    messages: list[tuple[bytes, list[tuple[str, bytes]], bytes]],
    batch_size: int,
    time_limit: float,
    pids: dict[str, tuple[int, bool]],
) -> dict[str, Any]:
    producer = await _started_producer(settings, "bench-raw-producer")
    try:

        async def send_all() -> int:
            sent = 0
            for start in range(0, len(messages), batch_size):
                deliveries = [
                    await producer.send(PLEDGES_TOPIC, value=value, key=key, headers=headers)
                    for key, headers, value in messages[start : start + batch_size]
                ]
                await asyncio.gather(*deliveries)
                sent += len(deliveries)
            return sent

        cpu_before, started = cpu_snapshot(pids), time.perf_counter()
        sent = await asyncio.wait_for(send_all(), time_limit)
        elapsed = time.perf_counter() - started
        cpu = cpu_usage(cpu_before, cpu_snapshot(pids), elapsed)
    finally:
        await asyncio.wait_for(producer.stop(), 30)
    return {
        "events": sent,
        "seconds": round(elapsed, 3),
        "events_per_s": round(sent / elapsed, 1),
        "cpu": cpu,
    }


async def _fill_outbox(dsn: str, records: list[tuple[Any, ...]]) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        # Same starting point for every relay run: an outbox holding exactly the N unpublished rows.
        await conn.execute("TRUNCATE outbox")
        started = time.perf_counter()
        await conn.copy_records_to_table("outbox", records=records, columns=list(COLUMNS))
        insert_seconds = time.perf_counter() - started
        await conn.execute("VACUUM ANALYZE outbox")
        backlog = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()
    return {
        "insert_seconds": round(insert_seconds, 3),
        "insert_rows_per_s": round(len(records) / insert_seconds),
        "backlog": backlog,
    }


async def _relay_run(
    settings: Settings,
    database_url: str,
    records: list[tuple[Any, ...]],
    batch_size: int,
    time_limit: float,
    pids: dict[str, tuple[int, bool]],
) -> dict[str, Any]:
    dsn = asyncpg_dsn(database_url)
    filled = await _fill_outbox(dsn, records)
    if filled["backlog"] != len(records):
        raise RuntimeError(f"outbox holds {filled['backlog']} unpublished rows, expected {len(records)}")
    relay = OutboxRelay(
        "pledges",
        database_url,
        lambda: idempotent_producer(settings, "bench-relay"),
        batch_size=batch_size,
    )
    producer = await _started_producer(settings, "bench-relay")
    batches: list[int] = []
    batch_seconds: list[float] = []
    try:
        await relay._ensure_connections()  # connections opened before the clock starts

        async def drain() -> int:
            published = 0
            for _ in range(len(records) + 1):  # bounded: each useful round publishes at least one row
                batch_started = time.perf_counter()
                count = await relay.publish_batch(producer)
                if count == 0:
                    break
                batch_seconds.append(time.perf_counter() - batch_started)
                batches.append(count)
                published += count
            return published

        cpu_before, started = cpu_snapshot(pids), time.perf_counter()
        published = await asyncio.wait_for(drain(), time_limit)
        elapsed = time.perf_counter() - started
        cpu = cpu_usage(cpu_before, cpu_snapshot(pids), elapsed)
    finally:
        await asyncio.wait_for(producer.stop(), 30)
        await relay.close()
    conn = await asyncpg.connect(dsn)
    try:
        left = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()
    if published != len(records) or left:
        raise RuntimeError(f"relay published {published} of {len(records)}; {left} rows left unpublished")
    return {
        "events": published,
        "cpu": cpu,
        "seconds": round(elapsed, 3),
        "events_per_s": round(published / elapsed, 1),
        "batches": len(batches),
        "mean_batch": round(sum(batches) / len(batches), 1),
        "batch_ms": summary_ms(batch_seconds),
        "first_10_batches_mean_ms": round(sum(batch_seconds[:10]) / len(batch_seconds[:10]) * 1000, 1),
        "last_10_batches_mean_ms": round(sum(batch_seconds[-10:]) / len(batch_seconds[-10:]) * 1000, 1),
        **filled,
    }


async def relay_throughput(
    kafka_bootstrap: str,
    database_url: str,
    events: int = 50_000,
    distinct_keys: int = 1_000,
    batch_size: int = 500,
    rounds: int = 2,
    time_limit: float = 300,
    echo: Any = print,
    pids: dict[str, tuple[int, bool]] | None = None,
) -> dict[str, Any]:
    settings = Settings(kafka_bootstrap_servers=kafka_bootstrap)
    cloud_events = make_events(events, distinct_keys)
    messages = []
    records = []
    for event in cloud_events:
        headers, value = encoded(event)
        messages.append((event.subject.encode(), headers, value))
        records.append(
            (
                uuid.UUID(event.id),
                PLEDGES_TOPIC,
                event.subject,
                event.type,
                event.source,
                event.subject,
                event.dataschema,
                event.time,
                encode_data(event.data),
                event.traceparent,
            )
        )
    value_sizes = [len(m[2]) for m in messages]
    header_sizes = [sum(len(k) + len(v) for k, v in m[1]) for m in messages]
    runs: list[dict[str, Any]] = []
    for round_no in range(1, rounds + 1):
        raw = await _raw_run(settings, messages, batch_size, time_limit, pids or {})
        runs.append({"kind": "raw", "round": round_no, **raw})
        echo(f"  round {round_no} raw producer: {raw['events_per_s']:,.0f} events/s")
        relay = await _relay_run(settings, database_url, records, batch_size, time_limit, pids or {})
        runs.append({"kind": "relay", "round": round_no, **relay})
        echo(f"  round {round_no} relay:        {relay['events_per_s']:,.0f} events/s")
    best_raw = max(r["events_per_s"] for r in runs if r["kind"] == "raw")
    best_relay = max(r["events_per_s"] for r in runs if r["kind"] == "relay")
    ratio = best_relay / best_raw
    return {
        "goal": f"relay/raw >= {GOAL_RATIO}",
        "passed": ratio >= GOAL_RATIO,
        "ratio": round(ratio, 3),
        "relay_events_per_s": best_relay,
        "raw_events_per_s": best_raw,
        "events": events,
        "distinct_keys": distinct_keys,
        "batch_size": batch_size,
        "topic": PLEDGES_TOPIC,
        "value_bytes_mean": round(sum(value_sizes) / len(value_sizes)),
        "header_bytes_mean": round(sum(header_sizes) / len(header_sizes)),
        "producer": "services.common.kafka.idempotent_producer (acks=all, idempotence, linger_ms=2, "
        "max_batch_size=1 MiB, no compression)",
        "runs": runs,
    }
