"""The summit plan on the real stack: a summit planned from the template, moved with its milestones, its
budget funded by a pledge accepted in the pledges service, a funding-gap alert as a milestone approaches,
and the material the other services feed in (pledge follow-up, public misconduct statistics)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, eventually, topic_reader, url
from tests.e2e.test_case_lifecycle import intake
from tests.e2e.test_pledge_lifecycle import step, submit

TEMPLATE_KEYS = [
    "invitations_sent",
    "registration_opens",
    "registration_closes",
    "programme_final",
    "summit_opens",
    "chairs_note_published",
    "pledge_follow_up_report",
]


async def _summit_events(settings: Settings, summit_id: str, wanted: set[str]) -> list[Any]:
    """Events on uncops.summit.v1 about this summit, until every wanted type has been seen."""
    reader = await topic_reader(settings, "uncops.summit.v1")
    found: list[tuple[str, dict[str, Any]]] = []
    try:

        async def all_seen() -> bool:
            for records in (await reader.getmany(timeout_ms=500)).values():
                for record in records:
                    data = json.loads(record.value)
                    if data.get("summit_id") == summit_id:
                        found.append((dict(record.headers)["ce_type"].decode(), data))
            return wanted <= {kind.split(".")[-2] for kind, _ in found}

        await eventually(all_seen, timeout=60, interval=0)
    finally:
        await reader.stop()
    return found


async def _plan_summit(http: httpx.AsyncClient, planner: dict[str, str], **extra: Any) -> str:
    summit_id = f"UNCOPS-P{uuid.uuid4().hex[:6]}"
    created = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={
            "id": summit_id,
            "name": "Third United Nations Chiefs of Police Summit",
            "starts_on": "2031-06-24",
            "ends_on": "2031-06-25",
            "languages": ["en", "fr", "zh"],
            "host_support": "People's Republic of China",
            **extra,
        },
    )
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    return summit_id


async def test_a_summit_is_planned_from_the_template_and_moves_with_its_milestones(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER, subject="planner-1")
    summit_id = await _plan_summit(http, planner)
    listed = (await http.get(url("summit", f"/summits/{summit_id}/milestones"), headers=planner)).json()[
        "items"
    ]
    assert [m["key"] for m in listed] == TEMPLATE_KEYS
    assert {m["status"] for m in listed} == {"planned"}
    before = {m["key"]: datetime.fromisoformat(m["due_at"]) for m in listed}
    # Close of business in New York on the summit's first day.
    assert before["summit_opens"] == datetime(2031, 6, 24, 21, 0, tzinfo=UTC)

    invitations = next(m for m in listed if m["key"] == "invitations_sent")
    done = await http.post(
        url("summit", f"/summits/{summit_id}/milestones/{invitations['id']}/complete"),
        headers=planner,
        json={},
    )
    assert done.status_code == 200 and done.json()["status"] == "completed", done.text

    stale = await http.post(
        url("summit", f"/summits/{summit_id}/reschedule"),
        headers={**planner, "If-Match": '"7"'},
        json={"starts_on": "2031-09-01", "ends_on": "2031-09-02"},
    )
    assert stale.status_code == 409, stale.text
    backwards = await http.post(
        url("summit", f"/summits/{summit_id}/reschedule"),
        headers=planner,
        json={"starts_on": "2031-09-02", "ends_on": "2031-09-01"},
    )
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "ends_on"

    moved = await http.post(
        url("summit", f"/summits/{summit_id}/reschedule"),
        headers={**planner, "If-Match": '"1"'},
        json={"starts_on": "2031-09-01", "ends_on": "2031-09-02"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["starts_on"] == "2031-09-01" and moved.headers["etag"] == '"2"'
    after = {
        m["key"]: m
        for m in (await http.get(url("summit", f"/summits/{summit_id}/milestones"), headers=planner)).json()[
            "items"
        ]
    }
    # The completed milestone stays where it was; every pending one follows the summit.
    assert datetime.fromisoformat(after["invitations_sent"]["due_at"]) == before["invitations_sent"]
    assert datetime.fromisoformat(after["summit_opens"]["due_at"]) == datetime(2031, 9, 1, 21, 0, tzinfo=UTC)
    for key in TEMPLATE_KEYS[1:]:
        assert datetime.fromisoformat(after[key]["due_at"]) - before[key] == timedelta(days=69), key

    events = await _summit_events(
        settings,
        summit_id,
        {"summit_planned", "milestone_completed", "summit_rescheduled", "milestone_rescheduled"},
    )
    rescheduled = [data for kind, data in events if kind.endswith("summit_rescheduled.v1")]
    assert rescheduled[0]["milestones_moved"] == 6 and rescheduled[0]["previous_starts_on"] == "2031-06-24"
    assert sum(kind.endswith("milestone_rescheduled.v1") for kind, _ in events) == 6


async def test_one_milestone_is_rescheduled_by_date_and_the_summit_stays(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER, subject="planner-move")
    summit_id = await _plan_summit(http, planner)
    milestones_url = url("summit", f"/summits/{summit_id}/milestones")
    listed = {m["key"]: m for m in (await http.get(milestones_url, headers=planner)).json()["items"]}
    programme = listed["programme_final"]
    warned_days = datetime.fromisoformat(programme["due_at"]) - datetime.fromisoformat(programme["warn_at"])

    moved = await http.post(
        f"{milestones_url}/{programme['id']}/reschedule",
        headers=planner,
        json={"due_at": "2031-06-01T21:00:00Z"},
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert datetime.fromisoformat(body["due_at"]) == datetime(2031, 6, 1, 21, 0, tzinfo=UTC)
    # The warning keeps its distance; the summit itself does not move.
    assert datetime.fromisoformat(body["due_at"]) - datetime.fromisoformat(body["warn_at"]) == warned_days
    assert body["status"] == "planned" and body["version"] == programme["version"] + 1
    summit = (await http.get(url("summit", f"/summits/{summit_id}"), headers=planner)).json()
    assert summit["starts_on"] == "2031-06-24" and summit["version"] == 1

    # A date in the past: the milestone is overdue at once.
    past = await http.post(
        f"{milestones_url}/{programme['id']}/reschedule",
        headers=planner,
        json={"due_at": "2020-01-01T17:00:00Z", "warn_before_days": 3},
    )
    assert past.status_code == 200 and past.json()["status"] == "overdue", past.text

    bad = await http.post(
        f"{milestones_url}/{programme['id']}/reschedule", headers=planner, json={"due_at": "1999-01-01"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "due_at", bad.text
    focal_point = bearer(settings, Role.STATE_FOCAL_POINT, "GHA", subject="fp-move")
    forbidden = await http.post(
        f"{milestones_url}/{programme['id']}/reschedule",
        headers=focal_point,
        json={"due_at": "2031-06-01T21:00:00Z"},
    )
    assert forbidden.status_code == 403

    opens = listed["summit_opens"]
    done = await http.post(f"{milestones_url}/{opens['id']}/complete", headers=planner, json={})
    assert done.status_code == 200, done.text
    refused = await http.post(
        f"{milestones_url}/{opens['id']}/reschedule", headers=planner, json={"due_at": "2031-07-01T21:00:00Z"}
    )
    assert refused.status_code == 409 and refused.json()["state"] == "completed", refused.text

    events = await _summit_events(settings, summit_id, {"milestone_rescheduled"})
    assert any(
        kind.endswith("milestone_rescheduled.v1") and data["milestone_id"] == programme["id"]
        for kind, data in events
    )


async def test_budget_funded_by_an_accepted_pledge_and_a_gap_alert_before_a_milestone(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER, subject="planner-2")
    china = bearer(settings, Role.STATE_FOCAL_POINT, "CHN")
    summit_id = await _plan_summit(http, planner)
    lines = {}
    for category, title, planned in (
        ("venue", "Conference services at UN Headquarters", "400000.00"),
        ("interpretation", "Interpretation in three languages", "350000.00"),
        ("travel_support", "Travel of delegates from least developed countries", "250000.00"),
    ):
        line = await http.post(
            url("summit", f"/summits/{summit_id}/budget/lines"),
            headers=planner,
            json={"category": category, "title": title, "planned": planned},
        )
        assert line.status_code == 201, line.text
        lines[category] = line.json()
    twice = await http.post(
        url("summit", f"/summits/{summit_id}/budget/lines"),
        headers=planner,
        json={"category": "venue", "title": "Conference services at UN Headquarters", "planned": "1.00"},
    )
    assert twice.status_code == 422 and twice.json()["errors"][0]["field"] == "title"
    spent = await http.post(
        url("summit", f"/summits/{summit_id}/budget/expenditures"),
        headers=planner,
        json={
            "budget_line_id": lines["venue"]["id"],
            "amount": "12500.00",
            "spent_on": "2031-01-15",
            "description": "Site visit",
        },
    )
    assert spent.status_code == 201, spent.text
    unknown_line = await http.post(
        url("summit", f"/summits/{summit_id}/budget/expenditures"),
        headers=planner,
        json={"budget_line_id": "nope", "amount": "1.00", "spent_on": "2031-01-15", "description": "Nothing"},
    )
    assert unknown_line.status_code == 422 and unknown_line.json()["errors"][0]["field"] == "budget_line_id"

    # China's financial support, submitted and accepted in the pledges service, reaches the budget.
    pledge = await submit(
        http,
        china,
        member_state="CHN",
        kind="financial_support",
        title=f"Support for {summit_id}",
        terms={"amount": "300000.00", "currency": "USD", "target_date": "2031-12-31"},
        supports_summit=summit_id,
    )
    euro = await submit(
        http,
        bearer(settings, Role.STATE_FOCAL_POINT, "FRA"),
        member_state="FRA",
        kind="financial_support",
        title=f"Interpretation support for {summit_id}",
        terms={"amount": "100000.00", "currency": "EUR", "target_date": "2031-12-31"},
        supports_summit=summit_id,
    )
    for pid in (pledge["id"], euro["id"]):
        for action in ("acknowledge", "start_review", "accept"):
            await step(http, planner, pid, action)

    async def funding() -> dict[str, Any]:
        return dict((await http.get(url("summit", f"/summits/{summit_id}/funding"), headers=planner)).json())

    async def both_pledged() -> dict[str, Any] | None:
        body = await funding()
        return body if Decimal(body["pledged"]) == Decimal("300000") and body["unconverted"] else None

    body = await eventually(both_pledged, timeout=60)
    assert body["unconverted"] == {"EUR": "100000.00"}
    assert Decimal(body["budget"]) == Decimal("1000000") and Decimal(body["spent"]) == Decimal("12500")
    assert Decimal(body["gap"]) == Decimal("700000") and body["gap_ratio"] == 0.7
    rates = await http.put(
        url("summit", f"/summits/{summit_id}/budget/exchange-rates"),
        headers=planner,
        json={"rates": {"EUR": "1.08"}},
    )
    assert rates.status_code == 200, rates.text
    body = await funding()
    assert body["unconverted"] == {} and Decimal(body["pledged"]) == Decimal("408000.00")

    receipt = await http.post(
        url("summit", f"/summits/{summit_id}/funding/receipts"),
        headers=planner,
        json={
            "member_state": "CHN",
            "pledge_id": pledge["id"],
            "amount": "100000.00",
            "currency": "USD",
            "received_on": str(datetime.now(UTC).date()),
        },
    )
    assert receipt.status_code == 201, receipt.text
    wrong_state = await http.post(
        url("summit", f"/summits/{summit_id}/funding/receipts"),
        headers=planner,
        json={
            "member_state": "FRA",
            "pledge_id": pledge["id"],
            "amount": "1.00",
            "currency": "USD",
            "received_on": "2031-01-01",
        },
    )
    assert wrong_state.status_code == 422 and wrong_state.json()["errors"][0]["field"] == "member_state"
    body = await funding()
    assert Decimal(body["received"]) == Decimal("100000") and Decimal(body["funded"]) == Decimal("408000.00")
    china_line = next(p for p in body["pledges"] if p["pledge_id"] == pledge["id"])
    assert Decimal(china_line["outstanding"]) == Decimal("200000")
    assert {line["category"]: Decimal(line["spent"]) for line in body["budget_lines"]}["venue"] == Decimal(
        "12500"
    )

    # A milestone warning while 59 % of the budget is unfunded raises the alert (threshold 10 %).
    soon = datetime.now(UTC) + timedelta(seconds=4)
    added = await http.post(
        url("summit", f"/summits/{summit_id}/milestones"),
        headers=planner,
        json={
            "title": "Interpretation contract signed",
            "due_at": soon.isoformat(),
            "warn_before_days": 2 / 86400,
        },
    )
    assert added.status_code == 201, added.text
    events = await _summit_events(settings, summit_id, {"funding_gap_alert", "milestone_overdue"})
    alert = next(data for kind, data in events if kind.endswith("funding_gap_alert.v1"))
    assert alert["milestone_id"] == added.json()["id"] and alert["currency"] == "USD"
    assert Decimal(alert["gap"]) == Decimal("592000.00") and alert["threshold"] == 0.1

    # The accepted pledges are material of the follow-up session, by State and kind, with their light.
    report = (
        await http.get(
            url("summit", f"/summits/{summit_id}/follow-up"),
            headers=planner,
            params={"made_at": "UNCOPS-2018"},
        )
    ).json()
    china_kind = next(
        line
        for line in report["lines"]
        if line["member_state"] == "CHN" and line["kind"] == "financial_support"
    )
    item = next(i for i in china_kind["items"] if i["pledge_id"] == pledge["id"])
    assert item["status"] == "accepted" and item["traffic_light"] == "green"


async def test_public_case_statistics_feed_the_accountability_session(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER)
    officer = bearer(settings, Role.CONDUCT_OFFICER)
    summit_id = await _plan_summit(http, planner)
    description = f"Synthetic {uuid.uuid4().hex} description that must never reach the summit"

    async def isl_count() -> int:
        body = (await http.get(url("summit", f"/summits/{summit_id}/accountability"), headers=planner)).json()
        nationality = next(t for t in body["tables"] if t["dimension"] == "nationality")
        return int(nationality["rows"].get("ISL", 0))

    before = await isl_count()
    opened = await http.post(
        url("cases", "/cases"),
        headers=officer,
        json=intake(police_contributing_country="ISL", description=description),
    )
    assert opened.status_code == 201, opened.text

    async def counted() -> bool:
        return await isl_count() == before + 1

    await eventually(counted, timeout=60)
    response = await http.get(url("summit", f"/summits/{summit_id}/accountability"), headers=planner)
    text = response.text
    assert description not in text and opened.json()["reference"] not in text
    body = response.json()
    assert body["allegations"] >= 1 and body["victims_minor"] >= 1
    assert {t["dimension"] for t in body["tables"]} == {
        "reported_year",
        "mission",
        "personnel_category",
        "nationality",
        "allegation_type",
        "result",
    }
    assert (
        await http.get(url("summit", f"/summits/{summit_id}/accountability"), headers=officer)
    ).status_code == 403
