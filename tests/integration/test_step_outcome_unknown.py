"""A step whose outcome is not known in time: with the cases worker killed (SIGKILL, as a crash would), a
step answers 503 with Retry-After within the bound (UNCOPS_STEP_TIMEOUT_SECONDS, as the platform sets it),
never 500; once the worker is back, the retry with the same Idempotency-Key answers the real outcome, and
a repeatable step (a note verbale) is applied once, never twice."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import text

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.database import create_engine
from services.common.settings import Settings
from tests.conftest import STEP_TIMEOUT_SECONDS, bearer, url
from tests.e2e.test_case_lifecycle import intake


async def test_a_step_with_its_worker_down_answers_503_and_its_retry_applies_it_once(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER, subject="cdo-outcome-unknown")
    opened = await http.post(url("cases", "/cases"), headers=officer, json=intake())
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    note = {
        "action": "record_note_verbale",
        "direction": "sent",
        "reference": f"NV/{uuid.uuid4().hex[:8]}",
        "on": str(datetime.now(UTC).date()),
    }
    step = {"headers": {**officer, "Idempotency-Key": str(uuid.uuid4())}, "json": note}
    actions = url("cases", f"/cases/{case_id}/actions")

    platform.kill("cases-worker")
    try:
        started = time.monotonic()
        unknown = await http.post(actions, **step)  # type: ignore[arg-type]
        waited = time.monotonic() - started
        assert unknown.status_code == 503, unknown.text
        assert int(unknown.headers["retry-after"]) >= 1
        assert "Idempotency-Key" in unknown.text
        assert waited < STEP_TIMEOUT_SECONDS + 2, f"answered after {waited:.1f} s"
    finally:
        await asyncio.to_thread(platform.start_service, "cases", "worker")

    # The client retries as told, with the same key, until the outcome is known.
    deadline = time.monotonic() + 90
    retried = await http.post(actions, **step)  # type: ignore[arg-type]
    while retried.status_code == 503 and time.monotonic() < deadline:
        await asyncio.sleep(int(retried.headers["retry-after"]))
        retried = await http.post(actions, **step)  # type: ignore[arg-type]
    assert retried.status_code == 200, retried.text
    assert retried.headers["etag"] == '"2"'
    notes = [e["value"] for e in retried.json()["record"] if e["kind"] == "note_verbale_sent"]
    assert notes == [note["reference"]]

    # Applied once: the case's version advanced once, one audit entry; a further retry is a replay.
    again = await http.post(actions, **step)  # type: ignore[arg-type]
    assert again.headers["idempotent-replayed"] == "true" and again.json() == retried.json()
    case = await http.get(url("cases", f"/cases/{case_id}"), headers=officer)
    assert case.headers["etag"] == '"2"'
    engine = create_engine(platform.database_url("cases"), pool_size=1)
    try:
        async with engine.connect() as conn:
            entries = await conn.scalar(
                text(
                    "SELECT count(*) FROM case_audit WHERE case_id = :id AND action = 'record_note_verbale'"
                ),
                {"id": case_id},
            )
    finally:
        await engine.dispose()
    assert entries == 1
