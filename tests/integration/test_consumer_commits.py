"""A consumer skips the events it has no handler for by their type header, without decoding them, and commits
their offsets a little later instead of once each (services/common/consumer.py, issue 19); what it handles
is applied once and committed at once."""

from __future__ import annotations

import asyncio
import functools
import uuid

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from deploy.stack import LocalStack
from services.common.consumer import IGNORED_COMMIT_SECONDS, InboxConsumer, Subscription, consumer_factory
from services.common.database import session_factory
from services.common.kafka import plain_producer
from services.common.settings import Settings
from tests.conftest import eventually
from tests.integration.test_delivery_guarantees import pledge_event
from uncops_contracts import CloudEvent, encode_kafka

IGNORED_TYPE = b"org.example.not.for.this.consumer"


async def _committed(settings: Settings, group: str, tp: TopicPartition) -> int | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    meta = offsets.get(tp)
    return None if meta is None or meta.offset < 0 else int(meta.offset)


async def test_ignored_events_are_skipped_undecoded_and_committed_later_handled_ones_at_once(
    stack: LocalStack, settings: Settings, summit_db: AsyncEngine
) -> None:
    topic = f"test.consumer-commits.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    tp = TopicPartition(topic, 0)

    handled: list[str] = []

    async def record(_: AsyncSession, event: CloudEvent) -> None:
        handled.append(event.id)

    pledge = pledge_event(f"commits-{uuid.uuid4()}")
    headers, value = encode_kafka(CloudEvent.of(pledge, subject=pledge.pledge_id))
    event_type = dict(headers)["ce_type"].decode()
    group = f"test-commits-{uuid.uuid4().hex[:8]}"
    dead_letters: list[str] = []

    def dlq() -> AIOKafkaProducer:
        dead_letters.append("opened")
        return plain_producer(settings, f"{group}-dlq")

    consumer = InboxConsumer(
        Subscription(group, [topic], {event_type: record}),
        session_factory(summit_db),
        consumer_factory(settings.kafka_options()),
        dlq,
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    send = functools.partial(producer.send_and_wait, topic)
    try:
        # Not CloudEvents at all: only the type header says they are not this consumer's.
        for n in range(3):
            await send(b"not json", key=f"ignored-{n}".encode(), headers=[("ce_type", IGNORED_TYPE)])

        async def committed_is(offset: int) -> bool:
            return await _committed(settings, group, tp) == offset

        await eventually(functools.partial(committed_is, 3), timeout=60 + IGNORED_COMMIT_SECONDS)

        await send(value, key=pledge.pledge_id.encode(), headers=headers)
        await send(b"not json", key=b"ignored-3", headers=[("ce_type", IGNORED_TYPE)])
        await eventually(lambda: asyncio.sleep(0, len(handled) == 1), timeout=30)
        await eventually(functools.partial(committed_is, 5), timeout=10 + IGNORED_COMMIT_SECONDS)
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await producer.stop()
    assert handled == [dict(headers)["ce_id"].decode()]
    assert dead_letters == [], "an event of another type was decoded and dead-lettered"
