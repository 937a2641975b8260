"""The Idempotency-Key store's SQL on a real PostgreSQL (a scratch database at the pledges head, which has
the table like every service): one claim per key, the answer kept, expired keys and abandoned claims taken
over, the sweep; a request whose write committed is never run again, even when it died before answering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common import idempotency
from services.common.database import create_engine, session_factory
from services.common.idempotency import AnswerLost, Claim, KeyInFlight, KeyReused, StoredAnswer

ANSWER = StoredAnswer(201, {"location": "/things/1", "content-type": "application/json"}, b'{"id":"1"}')


async def test_one_claim_per_key_then_its_answer(scratch_pledges_db: str) -> None:
    conn = await asyncpg.connect(scratch_pledges_db)
    try:
        claims = await asyncio.gather(
            *(_claim(scratch_pledges_db, "alice", "k1", "f1") for _ in range(5)), return_exceptions=True
        )
        assert sum(isinstance(c, Claim) for c in claims) == 1
        assert all(isinstance(c, Claim | KeyInFlight) for c in claims)
        held = next(c for c in claims if isinstance(c, Claim))

        await idempotency.complete(conn, held, ANSWER)
        assert await idempotency.claim(conn, "alice", "k1", "POST", "/things", "f1", 24) == ANSWER
        with pytest.raises(KeyReused):
            await idempotency.claim(conn, "alice", "k1", "POST", "/things", "f2", 24)
        # Another caller's key of the same name is theirs.
        assert isinstance(await idempotency.claim(conn, "bob", "k1", "POST", "/things", "f2", 24), Claim)
    finally:
        await conn.close()


async def test_a_released_key_runs_again(scratch_pledges_db: str) -> None:
    conn = await asyncpg.connect(scratch_pledges_db)
    try:
        held = await idempotency.claim(conn, "alice", "k2", "POST", "/things", "f1", 24)
        assert isinstance(held, Claim)
        await idempotency.release(conn, held)  # a 5xx, or a step whose outcome is unknown
        again = await idempotency.claim(conn, "alice", "k2", "POST", "/things", "f1", 24)
        assert isinstance(again, Claim) and again.token != held.token
        # The first attempt's late completion no longer counts: the key is the retry's.
        await idempotency.complete(conn, held, ANSWER)
        with pytest.raises(KeyInFlight):
            await idempotency.claim(conn, "alice", "k2", "POST", "/things", "f1", 24)
    finally:
        await conn.close()


async def test_expired_keys_and_abandoned_claims_are_taken_over_and_swept(scratch_pledges_db: str) -> None:
    conn = await asyncpg.connect(scratch_pledges_db)
    try:
        old = await idempotency.claim(conn, "alice", "k3", "POST", "/things", "f1", 24)
        assert isinstance(old, Claim)
        await idempotency.complete(conn, old, ANSWER)
        await conn.execute(
            "UPDATE idempotency_key SET created_at = now() - interval '25 hours' WHERE key = 'k3'"
        )
        # Past its time the key starts afresh, even for another request.
        assert isinstance(await idempotency.claim(conn, "alice", "k3", "POST", "/other", "f9", 24), Claim)

        stuck = await idempotency.claim(conn, "alice", "k4", "POST", "/things", "f1", 24)
        assert isinstance(stuck, Claim)
        await conn.execute(
            "UPDATE idempotency_key SET claimed_at = now() - interval '2 minutes' WHERE key = 'k4'"
        )
        with pytest.raises(KeyReused):  # an abandoned claim is taken over by the same request only
            await idempotency.claim(conn, "alice", "k4", "POST", "/things", "f2", 24)
        assert isinstance(await idempotency.claim(conn, "alice", "k4", "POST", "/things", "f1", 24), Claim)

        await conn.execute(
            "UPDATE idempotency_key SET created_at = now() - interval '25 hours' WHERE key = 'k4'"
        )
        before = await conn.fetchval("SELECT count(*) FROM idempotency_key")
        assert await idempotency.sweep(conn, 24) == 1
        assert await conn.fetchval("SELECT count(*) FROM idempotency_key") == before - 1
    finally:
        await conn.close()


async def _claim(dsn: str, scope: str, key: str, print_: str) -> Claim | StoredAnswer:
    conn = await asyncpg.connect(dsn)
    try:
        return await idempotency.claim(conn, scope, key, "POST", "/things", print_, 24)
    finally:
        await conn.close()


@pytest_asyncio.fixture
async def things(scratch_pledges_db: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the scratch database, which has a table ``thing`` the requests below write (its key
    checked at commit, so that a duplicate fails the commit itself, after the claim was marked in it)."""
    conn = await asyncpg.connect(scratch_pledges_db)
    await conn.execute("CREATE TABLE thing (id text PRIMARY KEY DEFERRABLE INITIALLY DEFERRED)")
    try:
        yield conn
    finally:
        await conn.close()


async def _request_writes(dsn: str, held: Claim, thing_id: str) -> None:
    """What a request under ``held`` does through the service's sessions: writes a row and commits."""
    engine = create_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1), pool_size=1)
    running = idempotency._running.set(held)
    try:
        async with session_factory(engine)() as session:
            await session.execute(sa.text("INSERT INTO thing VALUES (:id)"), {"id": thing_id})
            await session.commit()
    finally:
        idempotency._running.reset(running)
        await engine.dispose()


async def test_a_request_that_committed_then_died_is_never_run_again(
    scratch_pledges_db: str, things: asyncpg.Connection
) -> None:
    held = await idempotency.claim(things, "alice", "k5", "POST", "/things", "f1", 24)
    assert isinstance(held, Claim)
    await _request_writes(scratch_pledges_db, held, "1")
    # The process dies here: its answer is never stored, its claim never released.
    with pytest.raises(KeyInFlight):  # within its lease it may still answer
        await idempotency.claim(things, "alice", "k5", "POST", "/things", "f1", 24)
    await things.execute(
        "UPDATE idempotency_key SET claimed_at = now() - interval '2 minutes' WHERE key = 'k5'"
    )
    with pytest.raises(AnswerLost):  # past it, the retry learns it was applied, and is not run
        await idempotency.claim(things, "alice", "k5", "POST", "/things", "f1", 24)
    with pytest.raises(KeyReused):
        await idempotency.claim(things, "alice", "k5", "POST", "/things", "f2", 24)
    assert await things.fetchval("SELECT count(*) FROM thing") == 1


async def test_a_request_that_failed_after_committing_is_answered_lost_at_once(
    scratch_pledges_db: str, things: asyncpg.Connection
) -> None:
    held = await idempotency.claim(things, "alice", "k6", "POST", "/things", "f1", 24)
    assert isinstance(held, Claim)
    await _request_writes(scratch_pledges_db, held, "1")
    await idempotency.release(things, held)  # a 5xx after the commit
    with pytest.raises(AnswerLost):
        await idempotency.claim(things, "alice", "k6", "POST", "/things", "f1", 24)


async def test_a_commit_that_fails_leaves_the_claim_free_to_run_again(
    scratch_pledges_db: str, things: asyncpg.Connection
) -> None:
    await things.execute("INSERT INTO thing VALUES ('taken')")
    held = await idempotency.claim(things, "alice", "k7", "POST", "/things", "f1", 24)
    assert isinstance(held, Claim)
    with pytest.raises(IntegrityError):  # at commit: the mark was in the transaction that failed
        await _request_writes(scratch_pledges_db, held, "taken")
    assert await things.fetchval("SELECT committed_at FROM idempotency_key WHERE key = 'k7'") is None
    await idempotency.release(things, held)
    assert isinstance(await idempotency.claim(things, "alice", "k7", "POST", "/things", "f1", 24), Claim)
    # A commit outside any request marks nothing.
    await _request_writes_outside_a_request(scratch_pledges_db)
    assert await things.fetchval("SELECT count(*) FROM idempotency_key WHERE committed_at IS NOT NULL") == 0


async def _request_writes_outside_a_request(dsn: str) -> None:
    engine = create_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1), pool_size=1)
    try:
        async with session_factory(engine)() as session:
            await session.execute(sa.text("INSERT INTO thing VALUES ('free')"))
            await session.commit()
    finally:
        await engine.dispose()
