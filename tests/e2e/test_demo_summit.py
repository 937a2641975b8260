"""The UNCOPS III demo data `make run` loads: every step of it goes through the APIs of the real stack and
leaves a plan, guests, a released programme and a funded budget behind."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

import httpx
from icalendar import Calendar

from deploy.demo.summit import GUESTS, SUMMIT_ID, load_demo_summit
from deploy.stack import REPO, LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import PORTS, bearer, eventually, url


def _load(settings: Settings) -> str:
    planner = bearer(settings, Role.PLANNER, subject="demo-planner")
    pledges_url, summit_url = f"http://127.0.0.1:{PORTS.pledges}", f"http://127.0.0.1:{PORTS.summit}"
    pledge_ids: dict[str, str] = {}
    with httpx.Client(timeout=60) as client:
        for pledge in json.loads((REPO / "deploy/demo/pledges-2018.json").read_text()):
            focal_point = bearer(settings, Role.STATE_FOCAL_POINT, pledge["member_state"])
            response = client.post(
                f"{pledges_url}/pledges",
                headers={**focal_point, "Idempotency-Key": f"demo-test-{uuid.uuid4()}"},
                json=pledge,
            )
            response.raise_for_status()
            pledge_ids[f"{pledge['member_state']}/{pledge['kind']}"] = response.json()["id"]
        return load_demo_summit(client, summit_url, pledges_url, planner, pledge_ids)


async def test_the_demo_plans_uncops_iii_through_the_apis(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    summary = await asyncio.to_thread(_load, settings)
    assert f"{len(GUESTS)} guests, 7 sessions, programme released" in summary, summary
    planner = bearer(settings, Role.PLANNER)

    milestones = (await http.get(url("summit", f"/summits/{SUMMIT_ID}/milestones"), headers=planner)).json()[
        "items"
    ]
    assert len(milestones) == 7
    assert sum(m["status"] == "completed" for m in milestones) == 5

    ics = await http.get(url("summit", f"/summits/{SUMMIT_ID}/programme.ics"), headers=planner)
    assert ics.status_code == 200, ics.text
    events = [c for c in Calendar.from_ical(ics.content).walk("VEVENT")]
    assert len(events) == 7
    assert any("Performance and accountability" in str(e["SUMMARY"]) for e in events)

    async def funded() -> dict[str, str] | None:
        body = (await http.get(url("summit", f"/summits/{SUMMIT_ID}/funding"), headers=planner)).json()
        return body if Decimal(body["pledged"]) == Decimal("500000") else None

    funding = await eventually(funded, timeout=60)
    assert Decimal(funding["received"]) == Decimal("200000")
    assert Decimal(funding["budget"]) == Decimal("860000")
