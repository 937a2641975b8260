"""The Idempotency-Key store's SQL on a real PostgreSQL (a scratch database at the pledges head, which has
the table like every service): one claim per key, the answer kept, expired keys and abandoned claims taken
over, the sweep."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.common import idempotency
from services.common.idempotency import Claim, KeyInFlight, KeyReused, StoredAnswer

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
