"""Retention of the partner-facing topics (issue 18), read back from the real broker: the public cases topic
and the pledges topic keep every event (partners rebuild from the first one through the gateway's feed),
set when `uncops topics` / `make run` creates them and applied to topics made before the change."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from deploy.stack import LocalStack
from services.common.kafka import ensure_topics, topic_configs
from services.common.settings import Settings
from uncops_contracts.topics import CASES, CASES_PUBLIC, PLEDGES, SUMMIT

KEPT_FOREVER = (CASES_PUBLIC.name, PLEDGES.name)


@pytest_asyncio.fixture
async def admin(stack: LocalStack, settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(client_id="test-retention", **settings.kafka_options())
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def test_partner_topics_are_kept_forever_and_the_others_keep_the_default(
    admin: AIOKafkaAdminClient,
) -> None:
    names = [*KEPT_FOREVER, CASES.name, SUMMIT.name, CASES_PUBLIC.dlq]
    configs = await topic_configs(admin, names)

    for name in KEPT_FOREVER:
        assert configs[name]["retention.ms"] == ("-1", True), name
        assert configs[name]["retention.bytes"] == ("-1", True), name
        assert configs[name]["cleanup.policy"] == ("delete", True), name  # history, not compaction (ADR 0004)
    for name in (CASES.name, SUMMIT.name, CASES_PUBLIC.dlq):
        value, on_topic = configs[name]["retention.ms"]
        assert not on_topic and value == "604800000", name  # the broker's 7 days


async def test_ensure_topics_brings_an_older_topic_to_its_retention(
    admin: AIOKafkaAdminClient, settings: Settings
) -> None:
    # As a run folder made before issue 18 has it: the broker's retention, and an operator's own override.
    await admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, PLEDGES.name, {"max.message.bytes": "2097152"})]
    )
    before = (await topic_configs(admin, [PLEDGES.name]))[PLEDGES.name]
    assert before["retention.ms"] == ("604800000", False)

    created = await ensure_topics(settings)

    assert created == []
    after = (await topic_configs(admin, [PLEDGES.name]))[PLEDGES.name]
    assert after["cleanup.policy"] == ("delete", True)
    assert after["retention.ms"] == ("-1", True)
    assert after["retention.bytes"] == ("-1", True)
    assert after["max.message.bytes"] == ("2097152", True)  # kept: only our keys are changed
    # Once aligned, a second run changes nothing (and sends no AlterConfigs).
    await ensure_topics(settings)
    assert (await topic_configs(admin, [PLEDGES.name]))[PLEDGES.name] == after
