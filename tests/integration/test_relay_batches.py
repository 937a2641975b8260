"""The relay's record batches per partition (issue 19): two relays drain one outbox side by side, every key
lands on the partition Kafka's default partitioner gives it, and each key's events keep their order.

On a database of its own (no relay of the running platform reads it), published to the pledges topic; only
this test's keys are read back."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import asyncpg
from aiokafka.partitioner import DefaultPartitioner

from services.common.kafka import idempotent_producer
from services.common.relay import OutboxRelay
from services.common.settings import Settings
from tests.conftest import eventually, topic_reader
from tests.integration.test_delivery_guarantees import pledge_event
from uncops_contracts.pledges import PledgeSubmitted

TOPIC = PledgeSubmitted.topic


async def _drain(relay: OutboxRelay) -> int:
    """Publishes batches until the outbox is empty; returns how many rows this relay published."""
    published = 0
    producer = await relay._ensure_producer()
    # Bounded: a round that claims nothing while rows remain waits for the other relay's batch.
    for _ in range(2000):
        count = await relay.publish_batch(producer)
        published += count
        if count == 0:
            assert relay._conn is not None
            if not await relay._conn.fetchval("SELECT EXISTS (SELECT 1 FROM outbox)"):
                return published
            await asyncio.sleep(0.005)
    raise AssertionError("the outbox was not drained")


async def test_two_relays_keep_each_keys_order_on_its_default_partition(
    scratch_pledges_db: str, settings: Settings
) -> None:
    keys = [f"batches-{uuid.uuid4()}" for _ in range(40)]
    steps = 30
    conn = await asyncpg.connect(scratch_pledges_db)
    try:
        # Keys interleaved, so every claim of 25 holds several keys and each key spans many claims.
        await conn.copy_records_to_table(
            "outbox",
            records=[
                (
                    uuid.uuid4(),
                    TOPIC,
                    key,
                    PledgeSubmitted.event_type(),
                    PledgeSubmitted.source,
                    key,
                    PledgeSubmitted.dataschema(),
                    datetime.now(UTC),
                    pledge_event(key, f"step {step:03d}").model_dump_json().encode(),
                    None,
                )
                for step in range(steps)
                for key in keys
            ],
            columns=[
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
            ],
        )
    finally:
        await conn.close()

    relays = [
        OutboxRelay(
            "pledges",
            scratch_pledges_db,
            lambda n=n: idempotent_producer(settings, f"test-relay-{n}"),  # type: ignore[misc]
            batch_size=25,
        )
        for n in range(2)
    ]
    try:
        # Both connected before either claims, so they share the outbox from the first batch.
        await asyncio.gather(*(relay._ensure_producer() for relay in relays))
        await asyncio.gather(*(relay._ensure_connections() for relay in relays))
        published = await asyncio.gather(*(_drain(relay) for relay in relays))
    finally:
        for relay in relays:
            await relay.close()
    assert sum(published) >= len(keys) * steps
    assert min(published) > 0, "both relays took batches"

    reader = await topic_reader(settings, TOPIC)
    wanted = {key.encode() for key in keys}
    titles: dict[bytes, list[str]] = defaultdict(list)
    seen_ids: set[bytes] = set()
    partitions: dict[bytes, set[int]] = defaultdict(set)
    try:
        count = len(reader.partitions_for_topic(TOPIC) or ())

        async def progress() -> bool:
            for records in (await reader.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    if record.key in wanted:
                        partitions[record.key].add(record.partition)
                        event_id = dict(record.headers)["ce_id"]
                        if event_id not in seen_ids:
                            seen_ids.add(event_id)
                            titles[record.key].append(PledgeSubmitted.model_validate_json(record.value).title)
            return len(seen_ids) >= len(keys) * steps

        await eventually(progress, timeout=90, interval=0)
    finally:
        await reader.stop()
    assert count > 1, "the topic has several partitions"
    everyone = list(range(count))
    for key in wanted:
        assert partitions[key] == {DefaultPartitioner()(key, everyone, everyone)}, key
        assert titles[key] == [f"step {step:03d}" for step in range(steps)], key
