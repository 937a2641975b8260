"""A step's write runs as a local activity inside the workflow task that accepts the step (issue 19,
docs/decisions/0005-fast-steps.md). A local activity is recorded only when its workflow task completes, so
a worker killed (-9) after the write committed and before the task completed leaves a committed change that
the history does not know of. The task then runs again on another worker and so does the write: the change
must be applied once (one version, one audit entry, one event) and the workflow must hold the case as it was
stored.

To kill the worker at exactly that moment, it talks to Temporal through a proxy the test controls: the case
row is locked so the write waits, the proxy stops passing on what the worker sends, the lock is released so
the write commits, and the worker is killed before its completed task can reach the server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import text
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.database import create_engine
from services.common.settings import Settings
from tests.conftest import bearer, eventually, topic_reader, url
from tests.e2e.test_case_lifecycle import intake


class FreezableProxy:
    """A TCP proxy to Temporal's frontend. Once frozen, what the worker sends is dropped: the server never
    hears of anything the worker did after that moment, as if the worker had died just before."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.frozen = False
        self.dropped = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.writers += [writer, up_writer]
        await asyncio.gather(
            self._pump(reader, up_writer, from_worker=True),
            self._pump(up_reader, writer, from_worker=False),
            return_exceptions=True,
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, from_worker: bool
    ) -> None:
        while data := await reader.read(65536):
            if from_worker and self.frozen:
                self.dropped += len(data)
                continue
            writer.write(data)
            await writer.drain()

    async def close(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()


async def _case_changed_events(settings: Settings, case_id: str, seconds: float) -> list[dict[str, Any]]:
    """Every CaseChanged event of the case on uncops.cases.v1, read for ``seconds`` from the beginning."""
    reader = await topic_reader(settings, "uncops.cases.v1")
    events: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for records in (await reader.getmany(timeout_ms=500)).values():
                for record in records:
                    changed = dict(record.headers)["ce_type"].endswith(b"case_changed.v1")
                    if record.key == case_id.encode() and changed:
                        events.append(json.loads(record.value or b"{}"))
    finally:
        await reader.stop()
    return events


async def test_a_worker_killed_after_a_steps_write_committed_applies_the_step_once(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER, subject="cdo-step-crash")
    opened = await http.post(url("cases", "/cases"), headers=officer, json=intake())
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    step = {
        "headers": {**officer, "Idempotency-Key": str(uuid.uuid4())},
        "json": {"action": "start_assessment"},
    }
    actions = url("cases", f"/cases/{case_id}/actions")
    engine = create_engine(platform.database_url("cases"), pool_size=2)
    proxy = FreezableProxy(platform.ports.temporal)
    proxy_port = await proxy.start()
    # The platform's worker makes way for one that reaches Temporal through the proxy.
    await asyncio.to_thread(platform.stop, "cases-worker")
    try:
        await asyncio.to_thread(
            platform.start_service, "cases", "worker", TEMPORAL_ADDRESS=f"127.0.0.1:{proxy_port}"
        )
        async with engine.connect() as locker:
            transaction = await locker.begin()
            await locker.execute(text("SELECT 1 FROM case_file WHERE id = :id FOR UPDATE"), {"id": case_id})
            first = asyncio.create_task(http.post(actions, **step))  # type: ignore[arg-type]

            async def write_waits() -> bool:
                async with engine.connect() as conn:
                    waiting = await conn.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND query LIKE '%case_file%FOR UPDATE%' AND pid <> pg_backend_pid()"
                        )
                    )
                return bool(waiting)

            await eventually(write_waits, timeout=30, interval=0.05)
            proxy.frozen = True
            await transaction.commit()

        async def committed() -> bool:
            async with engine.connect() as conn:
                version = await conn.scalar(
                    text("SELECT version FROM case_file WHERE id = :id"), {"id": case_id}
                )
            return bool(version == 2)

        await eventually(committed, timeout=30, interval=0.02)

        async def held_back() -> bool:  # the worker has sent on (its completed task): it never arrives
            return proxy.dropped > 0

        await eventually(held_back, timeout=10, interval=0.01)
        await asyncio.to_thread(platform.kill, "cases-worker")
    finally:
        await proxy.close()
        await asyncio.to_thread(platform.start_service, "cases", "worker")

    # The client retries as told, with the same key, until the outcome is known.
    answer = await first
    retry_until = time.monotonic() + 120
    while answer.status_code == 503 and time.monotonic() < retry_until:
        await asyncio.sleep(int(answer.headers["retry-after"]))
        answer = await http.post(actions, **step)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    assert answer.headers["etag"] == '"2"' and answer.json()["status"] == "preliminary_assessment"

    # Applied once: version 2, one audit entry for the step, one CaseChanged event at version 2.
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT version, state FROM case_file WHERE id = :id"), {"id": case_id}
                )
            ).one()
            audit = await conn.scalar(
                text("SELECT count(*) FROM case_audit WHERE case_id = :id AND action = 'start_assessment'"),
                {"id": case_id},
            )
    finally:
        await engine.dispose()
    assert row.version == 2 and audit == 1
    events = await _case_changed_events(settings, case_id, seconds=8)
    assert sorted(e["case_version"] for e in events) == [1, 2], events

    # The crash happened where it was meant to: the workflow task that ran the write did not complete the
    # first time, and the write is recorded once. The workflow holds the case exactly as stored.
    client = await Client.connect(settings.temporal_address)
    handle = client.get_workflow_handle(f"case-{case_id}")
    history = await handle.fetch_history()
    kinds = [event.event_type for event in history.events]
    assert (
        EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT in kinds
        or EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED in kinds
    ), [EventType.Name(k) for k in kinds]
    local_activities = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    assert len(local_activities) == 1
    held = await handle.query("view")
    assert held["version"] == 2 and held == row.state
