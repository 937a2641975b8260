"""A summit milestone on the real Temporal dev server: planned over HTTP, warned, overdue, completed,
each step an event on uncops.summit.v1; a refused completion answers 409 with the allowed actions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import httpx

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, eventually, topic_reader, url


async def test_milestone_lifecycle_on_the_dev_server(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER, subject="planner-7")
    summit_id = f"UNCOPS-T{uuid.uuid4().hex[:6]}"
    created = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={"id": summit_id, "name": "Test summit", "starts_on": "2030-06-01", "ends_on": "2030-06-02"},
    )
    assert created.status_code == 201, created.text
    due_at = datetime.now(UTC) + timedelta(seconds=6)
    trace_id = uuid.uuid4().hex
    milestone = await http.post(
        url("summit", f"/summits/{summit_id}/milestones"),
        headers={**planner, "traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"},
        json={"title": "Invitations out", "due_at": due_at.isoformat(), "warn_before_days": 3 / 86400},
    )
    assert milestone.status_code == 201, milestone.text
    milestone_id = milestone.json()["id"]

    async def status() -> str:
        listed = await http.get(url("summit", f"/summits/{summit_id}/milestones"), headers=planner)
        found = str(next(m["status"] for m in listed.json()["items"] if m["id"] == milestone_id))
        return found

    await eventually(lambda: _equals(status(), "due"), timeout=30)
    await eventually(lambda: _equals(status(), "overdue"), timeout=30)
    completion_trace = uuid.uuid4().hex
    done = await http.post(
        url("summit", f"/summits/{summit_id}/milestones/{milestone_id}/complete"),
        headers={**planner, "traceparent": f"00-{completion_trace}-{uuid.uuid4().hex[:16]}-01"},
        json={},
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and done.json()["completed_by"] == "planner-7"

    again = await http.post(
        url("summit", f"/summits/{summit_id}/milestones/{milestone_id}/complete"), headers=planner, json={}
    )
    assert again.status_code == 409
    assert again.json()["state"] == "completed" and again.json()["allowed_actions"] == []

    reader = await topic_reader(settings, "uncops.summit.v1")
    types: list[str] = []
    traces: list[str] = []
    try:

        async def three_events() -> bool:
            for records in (await reader.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.key == milestone_id.encode():
                        headers = dict(record.headers)
                        types.append(headers["ce_type"].decode())
                        assert json.loads(record.value)["summit_id"] == summit_id
                        # The request's trace went through Temporal into the workflow's activities.
                        traces.append(headers["traceparent"].decode().split("-")[1])
            return len(types) >= 3

        await eventually(three_events, timeout=30, interval=0)
    finally:
        await reader.stop()
    assert types == [
        "org.un.uncops.summit.milestone_due.v1",
        "org.un.uncops.summit.milestone_overdue.v1",
        "org.un.uncops.summit.milestone_completed.v1",
    ]
    # Timers carry the trace of the request that planned the milestone; the completion, its own.
    assert traces == [trace_id, trace_id, completion_trace]


async def test_milestone_bad_input(platform: LocalStack, settings: Settings, http: httpx.AsyncClient) -> None:
    planner = bearer(settings, Role.PLANNER)
    unknown = await http.post(
        url("summit", "/summits/NO-SUCH-SUMMIT/milestones"),
        headers=planner,
        json={"title": "Invitations out", "due_at": "2030-01-01T00:00:00Z"},
    )
    assert unknown.status_code == 404
    naive = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={"id": "UNCOPS-BAD", "name": "Backwards", "starts_on": "2030-06-02", "ends_on": "2030-06-01"},
    )
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "ends_on"


async def _equals(value: Awaitable[str], expected: str) -> bool:
    return await value == expected
