"""The baseline of the intake benchmark: a bare FastAPI endpoint that inserts the same pledge row with no
validation, no authentication, no idempotency, no duplicate check and no outbox (the row's normalised title,
which the duplicate check reads, is part of the row)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI, Request

from services.pledges.domain.duplicates import normal_title

pool: asyncpg.Pool | None = None


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(os.environ["BARE_DATABASE_URL"], min_size=4, max_size=20)
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/pledges", status_code=201)
async def submit(request: Request) -> dict[str, Any]:
    body = json.loads(await request.body())
    terms = body.get("terms", {})
    pledge_id = str(uuid.uuid4())
    normal = normal_title(body["title"])
    assert pool is not None
    await pool.execute(
        "INSERT INTO pledge (id, member_state, co_sponsors, summit, kind, title, text, indicator, target,"
        " unit, target_date, status, submitted_by, submitted_at, version, title_normal)"
        " VALUES ($1, $2, '{}', 'UNCOPS-2018', $3, $4, $5, $6, $7::numeric, $8, $9::date, 'submitted',"
        " 'bare', $10, 1, $11)",
        pledge_id,
        body["member_state"],
        body["kind"],
        body["title"],
        body.get("text", ""),
        terms.get("indicator"),
        terms.get("target"),
        terms.get("unit"),
        datetime.fromisoformat(terms["target_date"]).date() if terms.get("target_date") else None,
        datetime.now(UTC),
        normal,
    )
    return {"id": pledge_id}
