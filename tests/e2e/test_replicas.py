"""Two of each process side by side (issue 20): two pledges APIs, relays, workers and consumers against one
stack, under load, while each is restarted in turn. Nothing is published twice, applied twice or lost, and
while one API restarts the other answers ``/readyz``.

The load goes through both APIs as a load balancer would: a request that finds its API down goes to the
other, with the same Idempotency-Key, so a retry never acts twice."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.stack import LocalStack, Ports
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import PORTS, bearer, eventually
from tests.integration.test_delivery_guarantees import read_topic
from uncops_contracts.topics import PLEDGES

STATES = ("ARG", "BGD", "CAN", "EGY", "FRA", "GHA", "IND", "JOR", "NPL", "SEN")
SECOND_API_PORT = PORTS.pledges + 90
APIS = (f"http://127.0.0.1:{PORTS.pledges}", f"http://127.0.0.1:{SECOND_API_PORT}")
# The processes restarted in turn, first and second replica of each (the API's name, then the others').
ROLES = ("serve", "relay", "worker")


def _name(service: str, role: str, replica: int) -> str:
    name = service if role == "serve" else f"{service}-{role}"
    return name if replica == 1 else f"{name}#{replica}"


def _start(stack: LocalStack, service: str, role: str, replica: int) -> None:
    env = {"UNCOPS_BACKGROUND": "false"} if role == "serve" else {}
    if role == "serve" and replica == 2:
        env[Ports.ENV["pledges"]] = str(SECOND_API_PORT)
    if role == "consume":
        env["UNCOPS_CONSUMER_STALL_SECONDS"] = "15"
    stack.start_replica(service, role, replica, **env)


class Balancer:
    """Round robin over the two APIs; a refused connection goes to the other (as a load balancer would)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.turn = itertools.cycle(range(len(APIS)))
        self.failovers = 0

    async def post(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
        headers = {**headers, "Idempotency-Key": str(uuid.uuid4())}
        first = next(self.turn)
        for attempt in range(40):
            base = APIS[(first + attempt) % len(APIS)]
            try:
                response = await self.http.post(f"{base}{path}", headers=headers, json=body)
            except httpx.TransportError:
                self.failovers += 1
                await asyncio.sleep(0.1)
                continue
            if response.status_code == 503:  # the API is stopping, or a dependency is
                self.failovers += 1
                await asyncio.sleep(0.2)
                continue
            return response
        raise AssertionError(f"POST {path}: no API answered")


def _pledge(state: str) -> dict[str, Any]:
    return {
        "member_state": state,
        "kind": "gender_parity",
        "title": f"Women in formed police units {uuid.uuid4().hex[:8]}",
        "text": "Replica test pledge.",
        "terms": {
            "indicator": "share of women",
            "baseline": "12",
            "target": "30",
            "unit": "percent",
            "target_date": str(datetime.now(UTC).date() + timedelta(days=400)),
        },
    }


async def _readyz(port: int) -> int:
    async with httpx.AsyncClient(timeout=10) as client:
        return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code


async def _rolling_restart(stack: LocalStack, readyz_during: list[tuple[str, int]]) -> None:
    """Each process in turn: stopped (SIGTERM, as a rollout does), then started again; while an API is down,
    the other's /readyz is asked."""
    other_port = {1: SECOND_API_PORT, 2: PORTS.pledges}
    for service, role in [("pledges", r) for r in ROLES] + [("summit", "consume")]:
        for replica in (1, 2):
            name = _name(service, role, replica)
            await asyncio.to_thread(stack.stop, name)
            if role == "serve":
                readyz_during.append((name, await _readyz(other_port[replica])))
            await asyncio.sleep(1)  # the load goes on with one replica
            await asyncio.to_thread(_start, stack, service, role, replica)


async def test_two_of_each_process_under_load_and_a_rolling_restart_lose_nothing_and_do_nothing_twice(
    platform: LocalStack,
    settings: Settings,
    http: httpx.AsyncClient,
    pledges_db: AsyncEngine,
    summit_db: AsyncEngine,
) -> None:
    for service, role in [("pledges", r) for r in ROLES] + [("summit", "consume")]:
        await asyncio.to_thread(_start, platform, service, role, 2)
    try:
        balancer = Balancer(http)
        planner = bearer(settings, Role.PLANNER)
        states = {s: bearer(settings, Role.STATE_FOCAL_POINT, s) for s in STATES}
        pledges: list[str] = []
        acknowledged: list[str] = []
        refused: list[str] = []
        readyz_during: list[tuple[str, int]] = []
        restart = asyncio.create_task(_rolling_restart(platform, readyz_during))

        async def lane(lane_no: int) -> None:
            for n in itertools.count():
                if restart.done() and n >= 20:
                    return
                state = STATES[(lane_no + n) % len(STATES)]
                made = await balancer.post("/pledges", states[state], _pledge(state))
                if made.status_code != 201:
                    refused.append(f"submit {made.status_code} {made.text[:200]}")
                    continue
                pledge_id = made.json()["id"]
                pledges.append(pledge_id)
                step = await balancer.post(
                    f"/pledges/{pledge_id}/actions", planner, {"action": "acknowledge"}
                )
                if step.status_code == 200:
                    acknowledged.append(pledge_id)
                else:
                    refused.append(f"acknowledge {step.status_code} {step.text[:200]}")

        await asyncio.gather(*(lane(k) for k in range(6)), restart)
        assert not refused, refused[:5]
        assert readyz_during == [("pledges", 200), ("pledges#2", 200)]
        assert len(acknowledged) == len(pledges) > 100, (len(pledges), len(acknowledged))

        # Applied once: each pledge stored once, at version 2 (submitted, then acknowledged once).
        async with pledges_db.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT id, version, status FROM pledge WHERE id = ANY(:ids)"), {"ids": pledges}
                )
            ).all()
        assert len(rows) == len(pledges)
        assert {(r.version, r.status) for r in rows} == {(2, "acknowledged")}

        # Published once: on Kafka, each pledge's events are its submission then its acknowledgement, each
        # event id once (nothing left in any outbox).
        async def outbox_empty() -> bool:
            async with pledges_db.connect() as conn:
                return bool(await conn.scalar(text("SELECT count(*) FROM outbox")) == 0)

        await eventually(outbox_empty, timeout=60)
        seen = await read_topic(settings, PLEDGES.name, {p.encode() for p in pledges}, 2 * len(pledges), 5)
        ids = Counter(headers["ce_id"] for _, headers, _ in seen)
        by_key: dict[bytes, list[bytes]] = defaultdict(list)
        for key, headers, _ in seen:
            by_key[key].append(headers["ce_type"])
        assert [event_id for event_id, count in ids.items() if count > 1] == []
        assert len(ids) == 2 * len(pledges)
        assert {len(types) for types in by_key.values()} == {2}

        # Applied once by the two summit consumers: one summit_pledge row per pledge, each acknowledged.
        async def summit_has_all() -> bool:
            async with summit_db.connect() as conn:
                count = await conn.scalar(
                    text("SELECT count(*) FROM summit_pledge WHERE pledge_id = ANY(:ids)"), {"ids": pledges}
                )
            return bool(count == len(pledges))

        await eventually(summit_has_all, timeout=90)
        async with summit_db.connect() as conn:
            inbox = await conn.scalar(
                text("SELECT count(*) FROM inbox WHERE event_id = ANY(:ids)"),
                {"ids": [i.decode() for i in ids]},
            )
        assert inbox == len(ids)
        assert balancer.failovers > 0, (
            "no request met a restarting API: the restarts did not overlap the load"
        )
    finally:
        for service, role in [("pledges", r) for r in ROLES] + [("summit", "consume")]:
            await asyncio.to_thread(platform.stop, _name(service, role, 2))
