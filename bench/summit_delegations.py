"""Delegation registration benchmark (issue 5, goal and verdict since issue 19): Member States invited, then
their focal points register delegations of 10 at the same moment, each registration a workflow Update whose
(local) activity takes its places with one atomic UPDATE of the summit's counter. Three rounds:

- 193 delegations, every one fits (capacity 1,930);
- 193 delegations, the policy's default capacity (1,200: 120 fit, 73 go to the waiting list);
- 1,000 delegations at once. There are 193 Member States and a summit invites each at most once, so the
  1,000 are spread over 6 summits sharing the moment (5 of 167 States and one of 165), each with the default
  1,200 places (120 delegations fit in each, the rest wait).

Goal (issue 19): p99 <= 2 s for the 193 at once, in both 193 rounds; in every round no place given twice
(places taken <= capacity, and the summit's ``places_taken`` counter equal to the places the delegations'
rows hold), the waiting list in the order the registrations found the summit full (each waitlisted
delegation was told the position at which the list shows it), no delegation waiting beside places it would
fit in, and every registration answered. A registration the API answers 503 (its outcome not known within
``step_timeout_seconds``) is retried with its Idempotency-Key, as a client does, and its latency runs to the
final answer.

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

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from bench.common import BENCH_PORTS, machine, summary_ms
from deploy.stack import REPO, LocalStack, Ports
from services.common.auth import Role, issue_token
from services.common.database import asyncpg_dsn
from services.common.settings import Settings
from services.summit.gateway import delegation_workflow_id
from uncops_contracts.reference import member_states
from uncops_contracts.topics import SUMMIT
from workflows.summit.delegations import DelegationWorkflow

PORTS = Ports(*(port + 500 for port in dataclasses.astuple(BENCH_PORTS)))
RUN_DIR = REPO / ".run" / "bench-delegations"
MEMBERS = 10
# Issue 19's goal for the 193 at once.
P99_GOAL_MS = 2000.0
# 1,000 delegations: 193 States per summit at most, so 6 summits sharing the moment.
THOUSAND = 1000
THOUSAND_SUMMITS = 6
PROOF = {
    "file_name": "credentials.pdf",
    "media_type": "application/pdf",
    "size_bytes": 48213,
    "sha256": "d" * 64,
}


def roster(state: str, members: int = MEMBERS) -> dict[str, Any]:
    """A delegation of ``members`` persons, its head included (benchmark 14 registers smaller ones)."""
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
            for n in range(members - 1)
        ],
        "proof_document": PROOF,
    }


def spread(total: int, summits: int) -> list[int]:
    """How many States each summit invites: ``total`` over ``summits``, at most 193 each."""
    sizes = [total // summits + (1 if n < total % summits else 0) for n in range(summits)]
    assert max(sizes) <= len(member_states()), "a summit invites each Member State once"
    return sizes


@dataclasses.dataclass
class Summit:
    summit_id: str
    capacity: int
    delegations: dict[str, str]  # member state -> delegation id


async def _plan(
    http: httpx.AsyncClient, base: str, planner: dict[str, str], capacity: int, states: int
) -> tuple[Summit, float]:
    """A summit with ``capacity`` places inviting ``states`` States (all 193, or the first in name order);
    the seconds the invitation took."""
    summit_id = f"UNCOPS-B{uuid.uuid4().hex[:6].upper()}"
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
    chosen: str | list[str] = "all" if states == len(member_states()) else list(member_states())[:states]
    started = time.perf_counter()
    invited = await http.post(
        f"{base}/{summit_id}/invitations",
        headers=planner,
        json={
            "member_states": chosen,
            "note_verbale": "PD/BENCH/{member_state}",
            "registration_deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    invited.raise_for_status()
    delegations = {d["member_state"]: d["id"] for d in invited.json()["invited"]}
    return Summit(summit_id, capacity, delegations), time.perf_counter() - started


async def _told_positions(kafka: str, keys: set[str], expected: int) -> dict[str, int]:
    """The waiting-list position each delegation of ``keys`` was told (its delegation_waitlisted event on the
    summit topic, as a partner reads it), once ``expected`` have been published (or after 60 s)."""
    consumer = AIOKafkaConsumer(
        SUMMIT.name,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        bootstrap_servers=kafka,
    )
    await consumer.start()
    told: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 60
        while len(told) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for message in (m for batch in batches.values() for m in batch):
                key = (message.key or b"").decode()
                kind = dict(message.headers).get("ce_type", b"").decode()
                if key in keys and "delegation_waitlisted" in kind:
                    told[key] = json.loads(message.value or b"{}")["position"]
    finally:
        await consumer.stop()
    return told


async def _check(
    http: httpx.AsyncClient, base: str, planner: dict[str, str], database: str, kafka: str, summit: Summit
) -> dict[str, Any]:
    """What the burst left: places, the counter, the waiting list's order against the positions told."""
    places = (await http.get(f"{base}/{summit.summit_id}/waiting-list", headers=planner)).json()
    connection = await asyncpg.connect(database)
    try:
        counter = await connection.fetchval("SELECT places_taken FROM summit WHERE id = $1", summit.summit_id)
    finally:
        await connection.close()
    waiting = places["waiting"]
    told = await _told_positions(kafka, set(summit.delegations.values()), len(waiting))
    return {
        "taken": places["taken"],
        "counter": counter,
        "waiting": len(waiting),
        "within_capacity": places["taken"] <= summit.capacity,
        "counter_right": counter == places["taken"],
        # Told position n, shown at n: the list keeps the order in which they found the summit full.
        "order_kept": [told.get(w["delegation_id"]) for w in waiting] == [w["position"] for w in waiting],
        # Nobody waits while a place they fit in is free.
        "no_one_waits_beside_free_places": not waiting or places["free"] < min(w["members"] for w in waiting),
    }


async def _round(ports: Ports, capacity: int, states: int = 193, summits: int = 1) -> dict[str, Any]:
    base = f"http://127.0.0.1:{ports.summit}/summits"
    database = asyncpg_dsn(f"postgresql+asyncpg://postgres@127.0.0.1:{ports.postgres}/uncops_summit")
    settings = Settings()
    planner = {"Authorization": f"Bearer {issue_token(settings, Role.PLANNER)}"}
    sizes = spread(states, summits)
    # Every registration's connection open at once: they all start at the same moment.
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends (as tests/conftest.py): a retry
    # after Retry-After would otherwise reuse one just as the server closes it.
    limits = httpx.Limits(max_connections=max(states, 250) + 10, keepalive_expiry=2)
    async with httpx.AsyncClient(timeout=300, limits=limits) as http:
        started = time.perf_counter()
        planned = [await _plan(http, base, planner, capacity, size) for size in sizes]
        invite_seconds = time.perf_counter() - started
        plans = [summit for summit, _ in planned]
        ready_seconds = await _workflows_ready(
            ports, [d for summit in plans for d in summit.delegations.values()]
        )

        latencies: list[float] = []
        statuses: dict[str, int] = {}
        errors: list[str] = []
        retried = 0

        async def register(summit: Summit, state: str, delegation_id: str) -> None:
            nonlocal retried
            token = issue_token(settings, Role.STATE_FOCAL_POINT, state)
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
            began = time.perf_counter()
            while True:
                try:
                    response = await http.post(
                        f"{base}/{summit.summit_id}/delegations/{delegation_id}/register",
                        headers=headers,
                        json=roster(state),
                    )
                except httpx.TransportError:
                    # A connection dropped under the burst: the same Idempotency-Key makes the retry safe.
                    retried += 1
                    continue
                # 503: the outcome is not known yet; 409 with Retry-After: the first try is still running.
                if response.status_code in (503, 409) and "retry-after" in response.headers:
                    retried += 1
                    await asyncio.sleep(float(response.headers["retry-after"]))
                    continue
                break
            latencies.append(time.perf_counter() - began)
            if response.status_code != 200:
                errors.append(f"{state}: {response.status_code} {response.text[:200]}")
                return
            status = response.json()["status"]
            statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(
            *(register(s, state, did) for s in plans for state, did in s.delegations.items())
        )
        elapsed = time.perf_counter() - started
        kafka = f"127.0.0.1:{ports.kafka}"
        checks = [await _check(http, base, planner, database, kafka, summit) for summit in plans]
    total = sum(len(s.delegations) for s in plans)
    return {
        "capacity": capacity,
        "summits": len(plans),
        "delegations": total,
        "members_each": MEMBERS,
        "invite_all_seconds": round(invite_seconds, 2),
        "workflows_ready_seconds": round(ready_seconds, 2),
        "registration_seconds": round(elapsed, 2),
        "registrations_per_s": round(total / elapsed, 1),
        "latency": summary_ms(latencies),
        "retried_503": retried,  # and after a dropped connection
        "outcome": statuses,
        "errors": errors,
        "places_taken": sum(c["taken"] for c in checks),
        "waiting_list": sum(c["waiting"] for c in checks),
        "per_summit": checks,
        # Correctness under the burst: never more places given than the summit has, the counter right, the
        # waiting list in order, and no one left waiting beside free places.
        "within_capacity": all(c["within_capacity"] for c in checks),
        "counter_right": all(c["counter_right"] for c in checks),
        "order_kept": all(c["order_kept"] for c in checks),
        "no_one_waits_beside_free_places": all(c["no_one_waits_beside_free_places"] for c in checks),
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


def correct(r: dict[str, Any]) -> bool:
    return bool(
        r["within_capacity"]
        and r["counter_right"]
        and r["order_kept"]
        and r["no_one_waits_beside_free_places"]
        and not r["errors"]
    )


def summit_delegations(
    stack: LocalStack, echo: Callable[[str], None], loop_runner: Callable[[Coroutine[Any, Any, Any]], Any]
) -> dict[str, Any]:
    """On a stack whose servers run: the summit service's API, worker and relay, then two rounds of 193
    concurrent registrations (room for everyone; a summit too small, the waiting list fills) and one of 1,000
    over 6 summits of 1,200 places."""
    stack.start_service("summit", "serve", UNCOPS_BACKGROUND="false")
    stack.start_service("summit", "worker")
    stack.start_service("summit", "relay")
    try:
        rounds = []
        for capacity in (1930, 1200):
            echo(f"  193 delegations of {MEMBERS} registering at once, {capacity:,} places")
            rounds.append(loop_runner(_round(stack.ports, capacity)))
        echo(
            f"  {THOUSAND:,} delegations of {MEMBERS} registering at once over {THOUSAND_SUMMITS} summits of "
            "1,200 places each"
        )
        thousand = loop_runner(_round(stack.ports, 1200, THOUSAND, THOUSAND_SUMMITS))
    finally:
        # Stopped, not left to the next benchmark: one that starts the summit service again would find
        # these answering on its port and be measured against them.
        for name in ("summit-relay", "summit-worker", "summit"):
            stack.stop(name)
    worst = max((r["latency"]["p99_ms"] or 0) for r in rounds)
    return {
        "rounds": rounds,
        "thousand": thousand,
        "worst_p99_ms": worst,
        "p99_goal_ms": P99_GOAL_MS,
        "correct": all(correct(r) for r in [*rounds, thousand]),
        # Issue 19: p99 <= 2 s for the 193 at once, and every round correct.
        "passed": worst <= P99_GOAL_MS and all(correct(r) for r in [*rounds, thousand]),
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
    for r in [*results["rounds"], results["thousand"]]:
        print(
            f"capacity {r['capacity']}: {r['delegations']} registrations of {r['members_each']} in "
            f"{r['registration_seconds']} s over {r['summits']} summit(s) = {r['registrations_per_s']}/s, "
            f"p50 {r['latency']['p50_ms']} ms, "
            f"p99 {r['latency']['p99_ms']} ms; {r['outcome']}, taken {r['places_taken']}, "
            f"errors {len(r['errors'])}, retried {r['retried_503']}; order kept {r['order_kept']}, counter "
            f"right {r['counter_right']}; invite all {r['invite_all_seconds']} s"
        )
    print(f"verdict: {'PASS' if results['passed'] else 'FAIL'} (p99 goal {P99_GOAL_MS:,.0f} ms)")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
