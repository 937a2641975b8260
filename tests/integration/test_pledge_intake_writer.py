"""Submissions stored together (services/pledges/store.py, IntakeWriter), on a real PostgreSQL database of
their own: those that queue up go in one batch, each gets its own answer, duplicates are found within the
batch too, a used Idempotency-Key stores nothing, and a batch PostgreSQL refuses is stored one by one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from services.common.settings import Settings
from services.pledges.domain.submission import PledgeSubmission
from services.pledges.store import IntakeWriter, Submitted
from uncops_contracts.pledges import PledgeKind


class Writer:
    """An IntakeWriter on the scratch database, counting the connections its batches take."""

    def __init__(self, pool: asyncpg.Pool, writers: int = 1) -> None:
        self.pool = pool
        self.checkouts = 0
        self.intake = IntakeWriter(self.connect, Settings().pledge_policy, writers)

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[asyncpg.Connection]:
        self.checkouts += 1
        async with self.pool.acquire() as connection:
            yield connection


@pytest_asyncio.fixture
async def pool(scratch_pledges_db: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(scratch_pledges_db, min_size=1, max_size=4) as pool:
        yield pool


def submitted(title: str, member_state: str = "GHA", key: str | None = None, **fields: Any) -> Submitted:
    submission = PledgeSubmission.model_validate(
        {"member_state": member_state, "kind": PledgeKind.GENDER_PARITY, "title": title, **fields}
    )
    return Submitted(str(uuid.uuid4()), submission, "focal-point", datetime.now(UTC), None, key)


async def test_submissions_that_queue_up_are_stored_in_one_batch_each_with_its_event(
    pool: asyncpg.Pool,
) -> None:
    writer = Writer(pool)
    items = [submitted(f"Women officers in unit {n}", state) for n in range(3) for state in ("GHA", "SEN")]
    results = await asyncio.gather(*(writer.intake.store(item) for item in items))

    assert writer.checkouts == 1, "all six were queued before the writer ran: one batch"
    assert [(pledge["id"], stored) for pledge, stored in results] == [(i.pledge_id, True) for i in items]
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, member_state, title, status FROM pledge")
        events = await conn.fetch("SELECT key, subject, type, value FROM outbox ORDER BY seq")
    assert {(r["id"], r["member_state"], r["title"], r["status"]) for r in rows} == {
        (i.pledge_id, i.submission.member_state, i.submission.title, "submitted") for i in items
    }
    assert sorted(e["key"] for e in events) == sorted(i.pledge_id for i in items)
    assert all(e["subject"] == e["key"] for e in events)
    assert {e["type"] for e in events} == {"org.un.uncops.pledges.pledge_submitted.v1"}
    assert {json.loads(e["value"])["pledge_id"] for e in events} == {i.pledge_id for i in items}


async def test_a_batch_stores_every_column_as_given(pool: asyncpg.Pool) -> None:
    # Arrays travel as JSON, JSONB as text, the rest as asyncpg's own arrays: each must arrive as it left.
    writer = Writer(pool)
    items = [
        submitted(
            "Joint pledge on French-speaking officers",
            co_sponsors=["SEN", "CIV"],
            terms={"indicator": "officers", "baseline": "12.5", "target": "40", "target_date": "2030-06-30"},
        ),
        submitted(
            "Support for the third summit, «Beijing» délégation",
            member_state="CHN",
            kind="financial_support",
            supports_summit="UNCOPS-2026",
            terms={"amount": "250000.00", "currency": "USD"},
        ),
        submitted("A pledge with no terms at all"),
    ]
    results = await asyncio.gather(*(writer.intake.store(item) for item in items))
    assert writer.checkouts == 1

    async with pool.acquire() as conn:
        for pledge, stored in results:
            assert stored
            row = dict(await conn.fetchrow("SELECT * FROM pledge WHERE id = $1", pledge["id"]))
            for name, value in pledge.items():
                found = json.loads(row[name]) if name in ("state", "delivered") else row[name]
                assert found == value, name
            assert row["co_sponsors"] == pledge["co_sponsors"]


async def test_a_lone_submission_is_stored_at_once(pool: asyncpg.Pool) -> None:
    writer = Writer(pool)
    pledge, stored = await writer.intake.store(submitted("Pre-deployment training for all officers"))
    assert stored and writer.checkouts == 1
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE key = $1", pledge["id"]) == 1


async def test_a_batch_compares_its_submissions_with_each_other_and_with_those_stored(
    pool: asyncpg.Pool,
) -> None:
    writer = Writer(pool)
    original, _ = await writer.intake.store(submitted("Armoured personnel carriers for formed units"))
    again = submitted("ARMOURED personnel carriers for formed units.")
    once_more = submitted("Armoured personnel carriers, for formed units")
    unrelated = submitted("A gender focal point in each contingent")
    elsewhere = submitted("Armoured personnel carriers for formed units", member_state="SEN")
    results = await asyncio.gather(
        *(writer.intake.store(item) for item in (again, once_more, unrelated, elsewhere))
    )

    assert writer.checkouts == 2
    duplicates = [pledge["possible_duplicate_of"] for pledge, _ in results]
    # Newest first: the earlier submission of the same batch is newer than anything stored.
    assert duplicates == [[original["id"]], [again.pledge_id, original["id"]], [], []]
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT possible_duplicate_of FROM pledge WHERE id = $1", once_more.pledge_id
        )
    assert stored == [again.pledge_id, original["id"]]


async def test_an_idempotency_key_used_twice_in_a_batch_stores_one_pledge(pool: asyncpg.Pool) -> None:
    writer = Writer(pool)
    first = submitted("Police advisers for the standing capacity", key="retry-1")
    retry = Submitted(str(uuid.uuid4()), first.submission, "focal-point", datetime.now(UTC), None, "retry-1")
    other_state = submitted("Police advisers for the standing capacity", member_state="SEN", key="retry-1")
    results = await asyncio.gather(*(writer.intake.store(item) for item in (first, retry, other_state)))

    assert [stored for _, stored in results] == [True, False, True]
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id FROM pledge WHERE idempotency_key = 'retry-1' ORDER BY member_state"
        )
        events = await conn.fetchval("SELECT count(*) FROM outbox")
    assert [r["id"] for r in rows] == [first.pledge_id, other_state.pledge_id]
    assert events == 2, "no event for the pledge not stored"


async def test_a_batch_postgresql_refuses_is_stored_one_by_one(pool: asyncpg.Pool) -> None:
    writer = Writer(pool)
    good = [submitted(f"Community policing in district {n}") for n in range(2)]
    # Text PostgreSQL cannot store (a NUL character), past the API's validation.
    bad_submission = good[0].submission.model_copy(update={"text": "a NUL \x00 character"})
    bad = Submitted(str(uuid.uuid4()), bad_submission, "focal-point", datetime.now(UTC), None)
    outcomes = await asyncio.gather(
        *(writer.intake.store(item) for item in (good[0], bad, good[1])), return_exceptions=True
    )

    assert isinstance(outcomes[1], asyncpg.PostgresError)
    assert [outcome[1] for outcome in (outcomes[0], outcomes[2])] == [True, True]  # type: ignore[index]
    assert writer.checkouts == 1 + 3, "the batch, then each alone"
    async with pool.acquire() as conn:
        ids = {r["id"] for r in await conn.fetch("SELECT id FROM pledge")}
        keys = {r["key"] for r in await conn.fetch("SELECT key FROM outbox")}
    assert ids == keys == {item.pledge_id for item in good}


async def test_a_submission_whose_request_was_cancelled_before_its_turn_is_not_stored(
    pool: asyncpg.Pool,
) -> None:
    writer = Writer(pool)
    items = [submitted(f"Sexual exploitation and abuse training, course {n}") for n in range(3)]
    tasks = [asyncio.create_task(writer.intake.store(item)) for item in items]
    await asyncio.sleep(0)  # each request is now waiting in the queue
    tasks[1].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(done[1], asyncio.CancelledError)
    async with pool.acquire() as conn:
        ids = {r["id"] for r in await conn.fetch("SELECT id FROM pledge")}
    assert ids == {items[0].pledge_id, items[2].pledge_id}


@pytest.mark.parametrize("writers", [1, 3])
async def test_many_concurrent_submissions_are_each_stored_once(pool: asyncpg.Pool, writers: int) -> None:
    writer = Writer(pool, writers)
    items = [submitted(f"Contingent standards, unit {n} {uuid.uuid4().hex[:6]}") for n in range(120)]

    async def arrive(item: Submitted, n: int) -> tuple[dict[str, Any], bool]:
        await asyncio.sleep((n % 7) / 1000)  # arriving over a few milliseconds, as requests do
        return await writer.intake.store(item)

    results = await asyncio.gather(*(arrive(item, n) for n, item in enumerate(items)))
    assert all(stored for _, stored in results)
    assert writer.checkouts < len(items), "some were stored together"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pledge") == len(items)
        assert await conn.fetchval("SELECT count(DISTINCT key) FROM outbox") == len(items)


async def test_no_request_waits_for_ever_on_a_writer_that_is_cancelled() -> None:
    never = asyncio.Event()

    @contextlib.asynccontextmanager
    async def stuck() -> AsyncIterator[None]:
        await never.wait()  # a database that never answers
        yield None

    intake = IntakeWriter(stuck, Settings().pledge_policy, writers=1)
    waiting = [asyncio.create_task(intake.store(submitted(f"Police advisers, team {n}"))) for n in range(3)]
    await asyncio.sleep(0.05)
    for task in list(intake._tasks):
        task.cancel()  # as at shutdown
    done = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 5)
    assert all(isinstance(outcome, asyncio.CancelledError) for outcome in done)
