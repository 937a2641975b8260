"""Delegation registration benchmark (issue 5): 193 Member States invited, then their 193 focal points
register delegations of 10 at once, each registration a workflow Update whose activity settles places under
the summit's row lock. Two rounds: every delegation fits (capacity 1,930), and the policy's default capacity
(1,200: 120 fit, 73 go to the waiting list).

    .venv/bin/python -m bench.summit_delegations     # prints a summary and writes bench/results/*.json

It starts its own stack (summit API, worker and relay; PostgreSQL, Kafka, Temporal) on the bench ports plus
500, in .run/bench-delegations, so it runs beside test suites and the other benchmarks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from bench.common import BENCH_PORTS, machine, summary_ms
from deploy.stack import REPO, LocalStack, Ports
from services.common.auth import Role, issue_token
from services.common.settings import Settings
from services.summit.gateway import delegation_workflow_id
from workflows.summit.delegations import DelegationWorkflow

PORTS = Ports(*(port + 500 for port in dataclasses.astuple(BENCH_PORTS)))
RUN_DIR = REPO / ".run" / "bench-delegations"
MEMBERS = 10
PROOF = {
    "file_name": "credentials.pdf",
    "media_type": "application/pdf",
    "size_bytes": 48213,
    "sha256": "d" * 64,
}


def _roster(state: str) -> dict[str, Any]:
    return {
        "head": {
            "full_name": f"Head of delegation {state}",
            "function": "Minister of the Interior",
            "languages": ["en", "fr"],
            "head_of_delegation": "minister",
            "consent_to_list": True,
        },
        "members": [
            {"full_name": f"Delegate {n} {state}", "function": "Police adviser", "languages": ["en"]}
            for n in range(MEMBERS - 1)
        ],
        "proof_document": PROOF,
    }


async def _round(ports: Ports, capacity: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{ports.summit}/summits"
    settings = Settings()
    planner = {"Authorization": f"Bearer {issue_token(settings, Role.PLANNER)}"}
    summit_id = f"UNCOPS-B{uuid.uuid4().hex[:6].upper()}"
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=250)) as http:
        created = await http.post(
            base,
            headers=planner,
            json={
                "id": summit_id,
                "name": "Benchmark summit",
                "starts_on": "2031-06-02",
                "ends_on": "2031-06-03",
            },
        )
        created.raise_for_status()
        (
            await http.put(f"{base}/{summit_id}/capacity", headers=planner, json={"capacity": capacity})
        ).raise_for_status()
        started = time.perf_counter()
        invited = await http.post(
            f"{base}/{summit_id}/invitations",
            headers=planner,
            json={
                "member_states": "all",
                "note_verbale": "PD/BENCH/{member_state}",
                "registration_deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
            },
        )
        invited.raise_for_status()
        invite_seconds = time.perf_counter() - started
        delegations = {d["member_state"]: d["id"] for d in invited.json()["invited"]}
        ready_seconds = await _workflows_ready(ports, list(delegations.values()))

        latencies: list[float] = []
        statuses: dict[str, int] = {}
        errors: list[str] = []

        async def register(state: str, delegation_id: str) -> None:
            token = issue_token(settings, Role.STATE_FOCAL_POINT, state)
            began = time.perf_counter()
            response = await http.post(
                f"{base}/{summit_id}/delegations/{delegation_id}/register",
                headers={"Authorization": f"Bearer {token}"},
                json=_roster(state),
            )
            latencies.append(time.perf_counter() - began)
            if response.status_code != 200:
                errors.append(f"{state}: {response.status_code} {response.text[:200]}")
                return
            status = response.json()["status"]
            statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(register(state, did) for state, did in delegations.items()))
        elapsed = time.perf_counter() - started
        places = (await http.get(f"{base}/{summit_id}/waiting-list", headers=planner)).json()
    return {
        "capacity": capacity,
        "delegations": len(delegations),
        "members_each": MEMBERS,
        "invite_all_seconds": round(invite_seconds, 2),
        "workflows_ready_seconds": round(ready_seconds, 2),
        "registration_seconds": round(elapsed, 2),
        "registrations_per_s": round(len(delegations) / elapsed, 1),
        "latency": summary_ms(latencies),
        "outcome": statuses,
        "errors": errors,
        # Correctness under the burst: never more places given than the summit has.
        "places_taken": places["taken"],
        "waiting_list": len(places["waiting"]),
        "within_capacity": places["taken"] <= capacity,
    }


async def _workflows_ready(ports: Ports, ids: list[str]) -> float:
    """Until every delegation's workflow has run its first task (a query answers), so the burst measures
    registrations, not workflow start-up."""
    client = await Client.connect(f"127.0.0.1:{ports.temporal}", data_converter=pydantic_data_converter)
    gate = asyncio.Semaphore(16)
    started = time.perf_counter()

    async def ready(delegation_id: str) -> None:
        handle = client.get_workflow_handle(delegation_workflow_id(delegation_id))
        for _ in range(60):
            async with gate:
                try:
                    await handle.query(DelegationWorkflow.view)
                    return
                except RPCError:
                    pass  # its first task is still queued on the busy worker
            await asyncio.sleep(1)
        raise RuntimeError(f"workflow of delegation {delegation_id} never answered")

    await asyncio.gather(*(ready(i) for i in ids))
    return time.perf_counter() - started


def summit_delegations(
    stack: LocalStack, echo: Callable[[str], None], loop_runner: Callable[[Coroutine[Any, Any, Any]], Any]
) -> dict[str, Any]:
    """On a stack whose servers run: the summit service's API, worker and relay, then two rounds of 193
    concurrent registrations: room for everyone, and a summit too small (the waiting list fills)."""
    stack.start_service("summit", "serve", UNCOPS_BACKGROUND="false")
    stack.start_service("summit", "worker")
    stack.start_service("summit", "relay")
    rounds = []
    for capacity in (1930, 1200):
        echo(f"  193 delegations of {MEMBERS} registering at once, {capacity:,} places")
        rounds.append(loop_runner(_round(stack.ports, capacity)))
    worst = max((r["latency"]["p99_ms"] or 0) for r in rounds)
    return {
        "rounds": rounds,
        "worst_p99_ms": worst,
        # No place given twice and every registration answered: the figures are worth reading.
        "passed": all(r["within_capacity"] and not r["errors"] for r in rounds),
    }


def main() -> int:
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    stack = LocalStack(RUN_DIR, PORTS, echo=lambda line: print(line, file=sys.stderr))
    stack.acquire()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(),
        "command": "python -m bench.summit_delegations",
        "machine": machine(),
        "load_before": os.getloadavg(),
    }
    try:
        stack.start_infrastructure()
        results.update(
            summit_delegations(stack, echo=lambda line: print(line, file=sys.stderr), loop_runner=asyncio.run)
        )
        results["load_after"] = os.getloadavg()
    finally:
        stack.stop_all()
        stack.release()
    out = REPO / "bench" / "results" / f"summit-delegations-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    for r in results["rounds"]:
        print(
            f"capacity {r['capacity']}: {r['delegations']} registrations of {r['members_each']} in "
            f"{r['registration_seconds']} s = {r['registrations_per_s']}/s, p50 {r['latency']['p50_ms']} ms, "
            f"p99 {r['latency']['p99_ms']} ms; {r['outcome']}, taken {r['places_taken']}, "
            f"errors {len(r['errors'])}; invite all {r['invite_all_seconds']} s"
        )
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
