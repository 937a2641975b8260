"""Kafka clients configured the one way this platform uses them."""

from __future__ import annotations

import contextlib

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.common.settings import Settings
from uncops_contracts import TOPICS


def idempotent_producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    # Explicit: acks=all with idempotence means a retried send never duplicates nor reorders within a
    # partition; request_timeout bounds how long a send hangs while the broker is away.
    return AIOKafkaProducer(
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        request_timeout_ms=15000,
        max_batch_size=1024 * 1024,
        compression_type=None,
        **settings.kafka_options(),
    )


def plain_producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    """For the dead-letter queue: one message at a time, still acks=all."""
    return AIOKafkaProducer(client_id=client_id, acks="all", **settings.kafka_options())


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every topic and its DLQ if missing; returns the names created."""
    admin = AIOKafkaAdminClient(client_id="uncops-topics", **settings.kafka_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [name for topic in TOPICS.values() for name in (topic.name, topic.dlq)]
        missing = [name for name in wanted if name not in existing]
        if missing:
            # Another process may create them at the same moment.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=settings.kafka_topic_partitions,
                            replication_factor=settings.kafka_replication_factor,
                        )
                        for name in missing
                    ]
                )
        return missing
    finally:
        await admin.close()
