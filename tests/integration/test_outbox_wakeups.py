"""When the outbox wakes a relay (services/common/schema.py, notify_sleeping_relays): an insert notifies only
while a relay sleeps holding the sleep lock, and a relay about to sleep waits for inserts in flight.

On a database of its own migrated to the head, so no relay of the running platform holds the lock; and on
the platform, where the pledges relay sleeps between events."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.stack import LocalStack
from services.common.outbox import NOTIFY_CHANNEL, SLEEP_LOCK
from tests.conftest import eventually
from tests.integration.test_delivery_guarantees import pledge_event, unpublished, write_outbox

INSERT = (
    "INSERT INTO outbox (event_id, topic, key, type, source, subject, dataschema, time, value)"
    " VALUES ($1, 'uncops.pledges.v1', 'k', 't', 's', 'k', 'd', $2, '{}')"
)


async def _insert(conn: asyncpg.Connection) -> None:
    await conn.execute(INSERT, uuid.uuid4(), datetime.now(UTC))


async def test_an_insert_notifies_only_while_a_relay_sleeps(scratch_pledges_db: str) -> None:
    listener, writer, relay = [await asyncpg.connect(scratch_pledges_db) for _ in range(3)]
    received: list[str] = []
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: received.append(args[2]))
    try:
        await _insert(writer)
        await asyncio.sleep(0.3)
        assert received == [], "no relay sleeps: nobody to wake"

        await relay.execute("SELECT pg_advisory_lock($1)", SLEEP_LOCK)
        await _insert(writer)
        await asyncio.sleep(0.3)
        assert len(received) == 1, "a sleeping relay is woken"

        await relay.execute("SELECT pg_advisory_unlock($1)", SLEEP_LOCK)
        await _insert(writer)
        await asyncio.sleep(0.3)
        assert len(received) == 1
    finally:
        for conn in (listener, writer, relay):
            await conn.close()


async def test_a_relay_about_to_sleep_waits_for_an_insert_in_flight(scratch_pledges_db: str) -> None:
    writer = await asyncpg.connect(scratch_pledges_db)
    relay = await asyncpg.connect(scratch_pledges_db, server_settings={"lock_timeout": "100"})
    try:
        await relay.execute("DELETE FROM outbox")
        transaction = writer.transaction()
        await transaction.start()
        await _insert(writer)
        # The uncommitted row is invisible to the relay; its transaction holds the lock shared, so the relay
        # cannot go to sleep on an outbox that is about to have a row without a notification.
        with pytest.raises(asyncpg.LockNotAvailableError):
            await relay.execute("SELECT pg_advisory_lock($1)", SLEEP_LOCK)
        assert await relay.fetchval("SELECT EXISTS (SELECT 1 FROM outbox)") is False
        await transaction.commit()
        await relay.execute("SELECT pg_advisory_lock($1)", SLEEP_LOCK)
        assert await relay.fetchval("SELECT EXISTS (SELECT 1 FROM outbox)") is True
    finally:
        await writer.close()
        await relay.close()


async def test_a_sleeping_relay_publishes_a_new_event_well_before_its_poll(
    platform: LocalStack, pledges_db: AsyncEngine
) -> None:
    async def drained() -> None:
        async def empty() -> bool:
            return await unpublished(pledges_db) == 0

        await eventually(empty, timeout=60, interval=0.01)

    # Not timed: a relay just started connects its Kafka producer with its first batch.
    warm_up = f"wakeup-{uuid.uuid4()}"
    await write_outbox(pledges_db, [(warm_up, pledge_event(warm_up))])
    await drained()
    await asyncio.sleep(0.5)  # the relay has gone to sleep (its poll is every 2 s)
    async with pledges_db.connect() as conn:
        holders = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND mode = 'ExclusiveLock' AND classid = :high AND objid = :low AND objsubid = 1"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"high": SLEEP_LOCK >> 32, "low": SLEEP_LOCK & 0xFFFFFFFF},
        )
    assert holders == 1, "the idle relay sleeps holding the sleep lock"
    waits = []
    for n in range(5):
        key = f"wakeup-{uuid.uuid4()}"
        started = time.monotonic()
        await write_outbox(pledges_db, [(key, pledge_event(key, f"wake-up {n}"))])
        await drained()
        waits.append(time.monotonic() - started)
        await asyncio.sleep(0.3)
    assert max(waits) < 0.5, waits
