"""A pledge's life over HTTP on the real stack: review, clarification, acceptance, progress, fulfilment by
report and by evidence from the summit service, withdrawal, rejection, duplicates and who may do what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, eventually, url

NEXT_YEAR = datetime.now(UTC).date().replace(month=12, day=31) + timedelta(days=366)


async def submit(http: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await http.post(url("pledges", "/pledges"), headers=headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def step(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    pledge_id: str,
    action: str,
    expect: int = 200,
    **fields: Any,
) -> dict[str, Any]:
    response = await http.post(
        url("pledges", f"/pledges/{pledge_id}/actions"), headers=headers, json={"action": action, **fields}
    )
    assert response.status_code == expect, (action, response.text)
    return dict(response.json())


async def test_review_clarification_acceptance_progress_fulfilment(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    ghana = bearer(settings, Role.STATE_FOCAL_POINT, "GHA")
    planner = bearer(settings, Role.PLANNER)
    pledge = await submit(
        http,
        ghana,
        member_state="GHA",
        kind="gender_parity",
        title=f"Women in FPUs {uuid.uuid4().hex[:6]}",
        terms={
            "indicator": "share of women in FPUs",
            "baseline": "12",
            "target": "20",
            "unit": "percent",
            "target_date": str(NEXT_YEAR),
        },
    )
    pid = pledge["id"]
    await step(http, ghana, pid, "acknowledge", expect=409)  # the secretariat's step, not the State's
    assert (await step(http, planner, pid, "acknowledge"))["status"] == "acknowledged"
    await step(http, planner, pid, "start_review")
    asked = await step(http, planner, pid, "request_clarification", questions="Which units, and by when?")
    assert asked["status"] == "clarification_requested"
    await step(http, ghana, pid, "resubmit", answer="The two FPUs deployed to MINUSCA, by 2027.")
    accepted = await step(http, planner, pid, "accept")
    assert accepted["status"] == "accepted" and accepted["traffic_light"] == "green"
    assert accepted["next_report_due"] is not None
    # A report made long before the first due date leaves that date in place.
    reported = await step(
        http, ghana, pid, "report_progress", period="2026-H2", stage="in_progress", value="14"
    )
    assert reported["status"] == "in_progress" and reported["reports"][0]["value"] == "14"
    await step(http, ghana, pid, "report_progress", expect=422, period="2026-H2", stage="in_progress")
    await step(http, ghana, pid, "confirm_fulfilment", expect=409, evidence="we say so")
    done = await step(
        http, planner, pid, "confirm_fulfilment", evidence="Secretariat verified deployment records"
    )
    assert done["status"] == "fulfilled" and done["traffic_light"] is None
    assert [h["action"] for h in done["history"]][-1] == "confirm_fulfilment"


async def test_financial_pledge_fulfilled_by_money_received_at_the_summit(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    china = bearer(settings, Role.STATE_FOCAL_POINT, "CHN")
    planner = bearer(settings, Role.PLANNER)
    summit_id = f"UNCOPS-F{uuid.uuid4().hex[:5]}"
    created = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={
            "id": summit_id,
            "name": "Funding test summit",
            "starts_on": "2030-06-24",
            "ends_on": "2030-06-25",
        },
    )
    assert created.status_code == 201, created.text
    pledge = await submit(
        http,
        china,
        member_state="CHN",
        kind="financial_support",
        title=f"Support for {summit_id}",
        terms={"amount": "300000.00", "currency": "USD", "target_date": str(NEXT_YEAR)},
        supports_summit=summit_id,
    )
    pid = pledge["id"]
    for action in ("acknowledge", "start_review", "accept"):
        await step(http, planner, pid, action)
    for amount in ("100000.00", "200000.00"):
        receipt = await http.post(
            url("summit", f"/summits/{summit_id}/funding/receipts"),
            headers=planner,
            json={
                "member_state": "CHN",
                "pledge_id": pid,
                "amount": amount,
                "currency": "USD",
                "received_on": str(datetime.now(UTC).date()),
            },
        )
        assert receipt.status_code == 201, receipt.text

    async def fulfilled() -> Any:
        body = (await http.get(url("pledges", f"/pledges/{pid}"), headers=planner)).json()
        return body if body["status"] == "fulfilled" else None

    body = await eventually(fulfilled, timeout=60)
    assert body["delivered"] == {"USD": "300000.00"}

    # The summit counts the pledge once its consumer has read the pledge's lifecycle events.
    async def counted() -> Any:
        funding = (await http.get(url("summit", f"/summits/{summit_id}/funding"), headers=planner)).json()
        return funding if Decimal(funding["pledged"]) == Decimal("300000") else None

    funding = await eventually(counted, timeout=60)
    assert funding["currency"] == "USD" and Decimal(funding["received"]) == Decimal("300000")


async def test_compact_signature_withdrawal_rejection_and_scope(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    rwanda = bearer(settings, Role.STATE_FOCAL_POINT, "RWA")
    kenya = bearer(settings, Role.STATE_FOCAL_POINT, "KEN")
    planner = bearer(settings, Role.PLANNER)
    compact = await submit(
        http,
        rwanda,
        member_state="RWA",
        kind="voluntary_compact",
        title=f"Sign the Voluntary Compact {uuid.uuid4().hex[:6]}",
        co_sponsors=["KEN"],
    )
    for action in ("acknowledge", "start_review", "accept"):
        await step(http, planner, compact["id"], action)
    # The co-sponsor reads the joint pledge; the lead State reports on it.
    assert (await http.get(url("pledges", f"/pledges/{compact['id']}"), headers=kenya)).status_code == 200
    await step(http, kenya, compact["id"], "withdraw", expect=403, reason="not ours to withdraw")
    signed = await step(http, planner, compact["id"], "record_compact_signature", signed_on="2026-09-18")
    assert signed["status"] == "fulfilled"

    other = await submit(
        http, rwanda, member_state="RWA", kind="equipment_training", title="Armoured vehicles"
    )
    await step(http, rwanda, other["id"], "withdraw", reason="budget reallocated")
    await step(http, planner, other["id"], "acknowledge", expect=409)
    assert (await http.get(url("pledges", f"/pledges/{other['id']}"), headers=kenya)).status_code == 404

    rejected = await submit(http, rwanda, member_state="RWA", kind="other", title="Host a regional workshop")
    for action in ("acknowledge", "start_review"):
        await step(http, planner, rejected["id"], action)
    await step(http, planner, rejected["id"], "reject", expect=422)  # a rejection gives its reason
    final = await step(http, planner, rejected["id"], "reject", reason="outside the summit's scope")
    assert final["status"] == "rejected" and final["allowed_actions"] == []


async def test_possible_duplicates_are_flagged_not_dropped(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    nepal = bearer(settings, Role.STATE_FOCAL_POINT, "NPL")
    title = f"Deploy more women police officers {uuid.uuid4().hex[:4]}"
    first = await submit(http, nepal, member_state="NPL", kind="gender_parity", title=title)
    second = await submit(http, nepal, member_state="NPL", kind="gender_parity", title=title.upper() + ".")
    assert second["possible_duplicate_of"] == [first["id"]]
    unrelated = await submit(
        http, nepal, member_state="NPL", kind="gender_parity", title="Train 300 NIOs by 2028"
    )
    assert unrelated["possible_duplicate_of"] == []
