"""Nothing lost, nothing applied twice: Kafka outages, crashed relays and consumers, poison messages.

These run against the real servers and the platform's own processes (relay, consumer), killed with
SIGKILL the way a crash would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.database import session_factory
from services.common.outbox import record_event
from services.common.settings import Settings
from tests.conftest import bearer, eventually, topic_reader, url
from uncops_contracts import CloudEvent, encode_kafka
from uncops_contracts.pledges import PledgeKind, PledgeSubmitted, PledgeTerms

STATES = ["ARG", "BGD", "CAN", "EGY", "FRA", "GHA", "IND", "JOR", "NPL", "SEN"]


def pledge_event(pledge_id: str, title: str = "Gender parity among deployed officers") -> PledgeSubmitted:
    return PledgeSubmitted(
        pledge_id=pledge_id,
        member_state="GHA",
        summit="UNCOPS-2018",
        kind=PledgeKind.GENDER_PARITY,
        title=title,
        terms=PledgeTerms(target=30, unit="percent"),
        submitted_at=datetime.now(UTC),
    )


async def write_outbox(engine: AsyncEngine, events: list[tuple[str, PledgeSubmitted]]) -> list[str]:
    """Writes events the way a service does: in a transaction, through the outbox. Returns event ids."""
    ids = []
    async with session_factory(engine)() as session, session.begin():
        for key, payload in events:
            ids.append(str(record_event(session, payload, key=key).event_id))
    return ids


async def unpublished(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM outbox")) or 0)


async def applied(engine: AsyncEngine, pledge_ids: list[str]) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                text("SELECT count(*) FROM summit_pledge WHERE pledge_id = ANY(:ids)"), {"ids": pledge_ids}
            )
            or 0
        )


async def inbox_count(engine: AsyncEngine, event_ids: list[str]) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                text("SELECT count(*) FROM inbox WHERE event_id = ANY(:ids)"), {"ids": event_ids}
            )
            or 0
        )


async def read_topic(
    settings: Settings, topic: str, keys: set[bytes], until: int, linger: float = 0
) -> list[tuple[bytes, dict[str, bytes], bytes]]:
    """(key, headers, value) of every message on ``topic`` with one of ``keys``, reading until ``until``
    distinct event ids have been seen, then ``linger`` seconds more (a copy published twice would follow)."""
    reader = await topic_reader(settings, topic)
    seen: list[tuple[bytes, dict[str, bytes], bytes]] = []
    ids: set[bytes] = set()
    try:

        async def progress() -> bool:
            for records in (await reader.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    if record.key in keys:
                        headers = dict(record.headers)
                        seen.append((record.key, headers, record.value))
                        ids.add(headers["ce_id"])
            return len(ids) >= until

        await eventually(progress, timeout=90, interval=0)
        lingered = asyncio.get_running_loop().time() + linger
        while asyncio.get_running_loop().time() < lingered:
            await progress()
    finally:
        await reader.stop()
    return seen


async def test_kafka_down_while_500_submissions_arrive(
    platform: LocalStack,
    settings: Settings,
    http: httpx.AsyncClient,
    pledges_db: AsyncEngine,
    summit_db: AsyncEngine,
) -> None:
    await asyncio.to_thread(platform.stop, "kafka")
    try:
        limit = asyncio.Semaphore(20)

        async def submit(n: int) -> httpx.Response:
            state = STATES[n % len(STATES)]
            async with limit:
                return await http.post(
                    url("pledges", "/pledges"),
                    json={
                        "member_state": state,
                        "kind": "gender_parity",
                        "title": f"Gender parity pledge {n}",
                    },
                    headers=bearer(settings, Role.STATE_FOCAL_POINT, state),
                )

        responses = await asyncio.gather(*(submit(n) for n in range(500)))
        assert [r.status_code for r in responses] == [201] * 500
        pledge_ids = [r.json()["id"] for r in responses]
        # Five aggregates with twenty events each, to check the order per key survives the outage.
        ordered_keys = [f"order-{uuid.uuid4().hex[:8]}" for _ in range(5)]
        ordered = [(key, pledge_event(key, f"step {step:03d}")) for step in range(20) for key in ordered_keys]
        await write_outbox(pledges_db, ordered)
        assert await unpublished(pledges_db) >= 600  # all waiting in the outbox
        ready = await http.get(url("pledges", "/readyz"))
        assert ready.status_code == 503 and ready.json()["checks"]["kafka"].startswith("unavailable")
    finally:
        await asyncio.to_thread(platform.start_kafka)

    await eventually(lambda: _is(unpublished(pledges_db), 0), timeout=120)
    await eventually(lambda: _is(applied(summit_db, pledge_ids), 500), timeout=120)

    keys = {p.encode() for p in pledge_ids} | {k.encode() for k in ordered_keys}
    messages = await read_topic(settings, "uncops.pledges.v1", keys, until=600)
    assert {m[0] for m in messages} == keys
    steps: dict[bytes, list[str]] = defaultdict(list)
    first_seen: set[bytes] = set()
    for key, headers, value in messages:
        if key.startswith(b"order-") and headers["ce_id"] not in first_seen:
            first_seen.add(headers["ce_id"])
            steps[key].append(
                CloudEvent.model_validate_json(
                    b'{"source":"s","type":"t","subject":"s","dataschema":"d","data":' + value + b"}"
                ).data["title"]
            )
    for ordered_key in ordered_keys:
        assert steps[ordered_key.encode()] == [f"step {step:03d}" for step in range(20)], ordered_key
    # Each submission applied once by the summit service.
    async with summit_db.connect() as conn:
        rows = await conn.scalar(
            text("SELECT count(*) FROM summit_pledge WHERE pledge_id = ANY(:ids)"), {"ids": pledge_ids}
        )
    assert rows == 500


async def test_relay_killed_mid_batch_loses_nothing(
    platform: LocalStack, settings: Settings, pledges_db: AsyncEngine, summit_db: AsyncEngine
) -> None:
    platform.kill("pledges-relay")
    pledge_ids = [f"relay-crash-{uuid.uuid4()}" for _ in range(4000)]
    event_ids = await write_outbox(pledges_db, [(p, pledge_event(p)) for p in pledge_ids])
    # Small batches, so the kill lands between a claim and its commit.
    platform.start_service("pledges", "relay", UNCOPS_OUTBOX_BATCH_SIZE="50")

    async def partly_published() -> bool:
        left = await unpublished(pledges_db)
        return 0 < left < len(pledge_ids) - 200

    await eventually(partly_published, timeout=60, interval=0.01)
    platform.kill("pledges-relay")
    assert await unpublished(pledges_db) > 0, "the relay finished before it could be killed"
    platform.start_service("pledges", "relay")

    await eventually(lambda: _is(unpublished(pledges_db), 0), timeout=120)
    messages = await read_topic(
        settings, "uncops.pledges.v1", {p.encode() for p in pledge_ids}, until=len(pledge_ids)
    )
    assert {m[1]["ce_id"].decode() for m in messages} == set(event_ids)
    # Repeats (a batch sent again after the crash) are absorbed by the consumer's inbox.
    await eventually(lambda: _is(applied(summit_db, pledge_ids), len(pledge_ids)), timeout=120)
    assert await inbox_count(summit_db, event_ids) == len(event_ids)


async def test_consumer_killed_mid_stream_applies_each_event_once(
    platform: LocalStack, settings: Settings, pledges_db: AsyncEngine, summit_db: AsyncEngine
) -> None:
    platform.kill("summit-consume")
    pledge_ids = [f"consumer-crash-{uuid.uuid4()}" for _ in range(2000)]
    event_ids = await write_outbox(pledges_db, [(p, pledge_event(p)) for p in pledge_ids])
    await eventually(lambda: _is(unpublished(pledges_db), 0), timeout=60)
    platform.start_service("summit", "consume", UNCOPS_CONSUMER_STALL_SECONDS="15")

    async def partly_applied() -> bool:
        done = await applied(summit_db, pledge_ids)
        return 0 < done < len(pledge_ids) - 200

    await eventually(partly_applied, timeout=90, interval=0.01)
    platform.kill("summit-consume")
    assert await applied(summit_db, pledge_ids) < len(pledge_ids)
    platform.start_service("summit", "consume", UNCOPS_CONSUMER_STALL_SECONDS="15")
    await eventually(lambda: _is(applied(summit_db, pledge_ids), len(pledge_ids)), timeout=120)
    assert await inbox_count(summit_db, event_ids) == len(event_ids)

    # A redelivered event (same id) whose content differs shows the inbox, not luck, absorbs repeats.
    replay = CloudEvent.of(pledge_event(f"never-applied-{uuid.uuid4()}"), subject=pledge_ids[0])
    replay = replay.model_copy(update={"id": event_ids[0]})
    canary = pledge_event(f"canary-{uuid.uuid4()}")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for event in (replay, CloudEvent.of(canary, subject=canary.pledge_id)):
            headers, value = encode_kafka(event)
            await producer.send_and_wait(
                "uncops.pledges.v1", value, key=event.subject.encode(), headers=headers
            )
    finally:
        await producer.stop()
    await eventually(lambda: _is(applied(summit_db, [canary.pledge_id]), 1), timeout=60)
    assert await applied(summit_db, [replay.data["pledge_id"]]) == 0


async def test_poison_messages_go_to_the_dlq_and_the_consumer_goes_on(
    platform: LocalStack, settings: Settings, summit_db: AsyncEngine
) -> None:
    good = pledge_event(f"after-poison-{uuid.uuid4()}")
    good_headers, good_value = encode_kafka(CloudEvent.of(good, subject=good.pledge_id))
    bad_data_headers, _ = encode_kafka(CloudEvent.of(pledge_event("x"), subject="poison-3"))
    poison = [
        (b"poison-1", [("content-type", b"application/json")], b'{"no": "cloudevent headers"}'),
        (b"poison-2", good_headers, b"{not json"),
        (b"poison-3", bad_data_headers, b'{"pledge_id": "missing everything else"}'),
    ]
    reader = await topic_reader(settings, "uncops.pledges.v1.dlq")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for key, sent_headers, value in poison:
            await producer.send_and_wait("uncops.pledges.v1", value, key=key, headers=sent_headers)
        await producer.send_and_wait(
            "uncops.pledges.v1", good_value, key=good.pledge_id.encode(), headers=good_headers
        )

        parked: dict[bytes, dict[str, bytes]] = {}

        async def all_parked() -> bool:
            # Every consumer group of the topic parks its own copy; the summit's is the one checked here.
            for records in (await reader.getmany(timeout_ms=500)).values():
                for record in records:
                    record_headers = dict(record.headers)
                    if record_headers.get("uncops_consumer") == b"summit.pledges":
                        parked[record.key] = record_headers
            return {b"poison-1", b"poison-2", b"poison-3"} <= set(parked)

        await eventually(all_parked, timeout=60, interval=0)
    finally:
        await producer.stop()
        await reader.stop()
    for key in (b"poison-1", b"poison-2", b"poison-3"):
        dlq_headers = parked[key]
        assert dlq_headers["uncops_original_topic"] == b"uncops.pledges.v1"
        assert int(dlq_headers["uncops_original_offset"]) >= 0
        assert dlq_headers["uncops_original_partition"].isdigit()
        assert dlq_headers["uncops_consumer"] == b"summit.pledges"
        assert dlq_headers["uncops_error"]
    assert b"ValidationError" in parked[b"poison-3"]["uncops_error_type"]
    await eventually(lambda: _is(applied(summit_db, [good.pledge_id]), 1), timeout=60)


async def _is(value: Awaitable[int], expected: int) -> bool:
    return await value == expected
