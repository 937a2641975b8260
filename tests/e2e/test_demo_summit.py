"""The UNCOPS III demo data `make run` loads: every step of it goes through the APIs of the real stack and
leaves a plan, guests, a released programme and a funded budget behind."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from decimal import Decimal

import httpx
from icalendar import Calendar

from deploy.demo.summit import GUESTS, SUMMIT_ID, load_demo_summit
from deploy.demo.today import (
    NEW_PLEDGES,
    NEXT_SUMMIT_ID,
    load_next_summit,
    load_review_queue,
    next_summit_dates,
)
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


async def test_the_demo_leaves_work_waiting_for_the_console(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner_headers = bearer(settings, Role.PLANNER, subject="demo-planner")
    pledges_url, summit_url = f"http://127.0.0.1:{PORTS.pledges}", f"http://127.0.0.1:{PORTS.summit}"

    def load() -> tuple[str, str]:
        with httpx.Client(timeout=60) as client:
            return (
                load_review_queue(client, pledges_url, planner_headers, settings),
                load_next_summit(client, summit_url, planner_headers, settings),
            )

    waiting, summit = await asyncio.to_thread(load)
    assert waiting == f"{len(NEW_PLEDGES)} pledges waiting for review"
    assert "193 States invited, 3 registered, 1 accredited" in summit, summit

    # The secretariat finds new pledges to review, and Indonesia's focal point a question to answer.
    queue = (
        await http.get(url("pledges", "/pledges"), params={"status": "submitted"}, headers=planner_headers)
    ).json()["items"]
    assert {"GHA", "SEN"} <= {pledge["member_state"] for pledge in queue}
    indonesia = (
        await http.get(url("pledges", "/pledges"), headers=bearer(settings, Role.STATE_FOCAL_POINT, "IDN"))
    ).json()["items"]
    assert "clarification_requested" in {pledge["status"] for pledge in indonesia}

    # Any other State can still register: its delegation is invited, the deadline months away.
    base = f"/summits/{NEXT_SUMMIT_ID}"
    brazil = (
        await http.get(
            url("summit", f"{base}/delegations"), headers=bearer(settings, Role.STATE_FOCAL_POINT, "BRA")
        )
    ).json()["items"]
    assert [d["status"] for d in brazil] == ["invited"]
    places = (await http.get(url("summit", f"{base}/waiting-list"), headers=planner_headers)).json()
    assert places["taken"] >= 3


def test_the_next_summit_opens_on_a_tuesday_months_ahead() -> None:
    starts, ends = next_summit_dates(date(2026, 12, 6))
    assert starts.weekday() == 1 and (ends - starts).days == 1
    assert 210 <= (starts - date(2026, 12, 6)).days < 217
