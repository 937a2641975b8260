"""A whole summit on the real stack, from its plan to the follow-up report: the budget funded by a pledge
accepted in the pledges service, 193 invitations, registrations and the waiting list moving up, the
deadline closing, accreditation, an agenda with conflicts refused, a release read back as iCalendar, and
the plan ending with the follow-up material."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from icalendar import Calendar

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, eventually, url
from tests.e2e.test_pledge_lifecycle import step, submit
from tests.e2e.test_summit_delegations import Summit


def _at(day: int, hour: int) -> str:
    return f"2031-06-{day:02d}T{hour:02d}:00:00-04:00"


async def test_a_whole_summit_from_plan_to_follow_up_report(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    summit = Summit(http, settings, f"UNCOPS-W{uuid.uuid4().hex[:6].upper()}")
    planner = summit.planner
    created = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={
            "id": summit.id,
            "name": "Whole summit",
            "starts_on": "2031-06-24",
            "ends_on": "2031-06-25",
            "languages": ["en", "fr", "zh"],
        },
    )
    assert created.status_code == 201, created.text
    assert (
        await http.put(summit.path("/capacity"), headers=planner, json={"capacity": 20})
    ).status_code == 200

    # Budget, and China's support accepted in the pledges service arriving as pledged money.
    line = await http.post(
        summit.path("/budget/lines"),
        headers=planner,
        json={"category": "interpretation", "title": "Interpretation", "planned": "400000.00"},
    )
    assert line.status_code == 201, line.text
    pledge = await submit(
        http,
        bearer(settings, Role.STATE_FOCAL_POINT, "CHN"),
        member_state="CHN",
        kind="financial_support",
        title=f"Support for {summit.id}",
        terms={"amount": "300000.00", "currency": "USD", "target_date": "2031-12-31"},
        supports_summit=summit.id,
    )
    for action in ("acknowledge", "start_review", "accept"):
        await step(http, planner, pledge["id"], action)

    async def pledged() -> dict[str, Any] | None:
        body = (await http.get(summit.path("/funding"), headers=planner)).json()
        return body if Decimal(body["pledged"]) == Decimal("300000") else None

    funding = await eventually(pledged, timeout=60)
    assert Decimal(funding["gap"]) == Decimal("100000")

    # 193 invitations; the registration deadline a few seconds away.
    deadline = datetime.now(UTC) + timedelta(seconds=25)
    invited = await http.post(
        summit.path("/invitations"),
        headers=planner,
        json={
            "member_states": "all",
            "note_verbale": "PD/WHOLE/{member_state}",
            "registration_deadline": deadline.isoformat(),
        },
    )
    assert invited.status_code == 201 and len(invited.json()["invited"]) == 193, invited.text
    summit.ids = {d["member_state"]: d["id"] for d in invited.json()["invited"]}

    # 20 places: China 10 and Senegal 8 fit, Rwanda's 4 wait; Senegal withdraws and Rwanda moves up.
    statuses = {}
    for state, persons in (("CHN", 10), ("SEN", 8), ("RWA", 4)):
        answer = await summit.register(state, persons, consenting=persons)
        assert answer.status_code == 200, answer.text
        statuses[state] = answer.json()["status"]
    assert statuses == {"CHN": "registered", "SEN": "registered", "RWA": "waitlisted"}
    withdrawn = await summit.act("SEN", {"action": "withdraw", "reason": "travel cancelled"}, as_state=True)
    assert withdrawn.status_code == 200, withdrawn.text
    assert (await summit.get("RWA")).json()["status"] == "registered"

    # The deadline closes: an invited State that did not register expires, and can no longer register.
    await asyncio.sleep(max((deadline - datetime.now(UTC)).total_seconds(), 0))

    async def ghana_expired() -> bool:
        return bool((await summit.get("GHA")).json()["status"] == "expired")

    await eventually(ghana_expired, timeout=60)
    late = await summit.register("GHA", 2)
    assert late.status_code == 422, late.text

    # Review and accreditation: badges for each person; attendance confirmed.
    for state in ("CHN", "RWA"):
        for action in ("start_review", "accredit", "confirm"):
            done = await summit.act(state, {"action": action})
            assert done.status_code == 200, (state, action, done.text)
    china = (await summit.get("CHN")).json()
    assert china["status"] == "confirmed"
    assert all(p["badge_number"] for p in china["participants"]) and len(china["participants"]) == 10
    head = next(p["id"] for p in china["participants"] if p["is_head"])
    rwanda_head = next(p["id"] for p in (await summit.get("RWA")).json()["participants"] if p["is_head"])
    senegal = (await summit.get("SEN")).json()

    # The agenda: a plenary, then conflicts refused with each one listed, and a withdrawn delegate refused.
    opening = {
        "title": "Opening plenary",
        "kind": "plenary",
        "starts_at": _at(24, 10),
        "ends_at": _at(24, 12),
        "room_id": "unhq-ga-hall",
        "speakers": [head],
        "languages": ["en", "zh"],
    }
    assert (await http.post(summit.path("/sessions"), headers=planner, json=opening)).status_code == 201
    clash = await http.post(
        summit.path("/sessions"),
        headers=planner,
        json={
            **opening,
            "title": "Clash",
            "starts_at": _at(24, 11),
            "ends_at": _at(24, 13),
            "expected_attendance": 5000,
        },
    )
    assert clash.status_code == 409, clash.text
    assert {"room_double_booked", "speaker_double_booked", "over_capacity"} <= {
        c["kind"] for c in clash.json()["conflicts"]
    }
    outside = await http.post(
        summit.path("/sessions"),
        headers=planner,
        json={
            **opening,
            "title": "Too late",
            "starts_at": _at(26, 10),
            "ends_at": _at(26, 11),
            "speakers": [],
        },
    )
    assert outside.status_code == 409, outside.text
    # A delegate of the withdrawn delegation is no longer a registered participant.
    refused = await http.post(
        summit.path("/sessions"),
        headers=planner,
        json={
            **opening,
            "starts_at": _at(25, 14),
            "ends_at": _at(25, 15),
            "speakers": [senegal["participants"][0]["id"]],
        },
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "speakers.0", refused.text
    thematic = {
        **opening,
        "title": "Performance and accountability",
        "kind": "thematic",
        "starts_at": _at(25, 10),
        "ends_at": _at(25, 12),
        "room_id": "unhq-trusteeship",
        "speakers": [rwanda_head],
    }
    assert (await http.post(summit.path("/sessions"), headers=planner, json=thematic)).status_code == 201

    release = await http.post(summit.path("/programme/releases"), headers=planner, json={"note": "First"})
    assert release.status_code == 201, release.text
    ics = await http.get(summit.path("/programme.ics"), headers=summit.fp("CHN"))
    assert ics.status_code == 200, ics.text
    events = list(Calendar.from_ical(ics.content).walk("VEVENT"))
    assert sorted(str(e["SUMMARY"]) for e in events) == ["Opening plenary", "Performance and accountability"]
    assert {str(e["LOCATION"]).split(",")[0] for e in events} == {
        "General Assembly Hall",
        "Trusteeship Council Chamber",
    }

    # Every milestone completed: the plan ends; the follow-up report holds China's accepted pledge.
    milestones = (await http.get(summit.path("/milestones"), headers=planner)).json()["items"]
    for milestone in milestones:
        done = await http.post(
            summit.path(f"/milestones/{milestone['id']}/complete"), headers=planner, json={}
        )
        assert done.status_code == 200, done.text
    assert {
        m["status"] for m in (await http.get(summit.path("/milestones"), headers=planner)).json()["items"]
    } == {"completed"}
    report = (await http.get(summit.path("/follow-up"), headers=planner)).json()
    items = [i for line in report["lines"] for i in line["items"] if i["pledge_id"] == pledge["id"]]
    assert items and items[0]["status"] == "accepted" and items[0]["traffic_light"] == "green"
