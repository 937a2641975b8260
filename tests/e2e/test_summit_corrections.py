"""What a planner records they can read at its Location, correct or reverse, on the real stack: every POST's
Location answers; rooms edited (If-Match) and removed unless a session uses them; budget lines and spending
corrected and audited; a receipt reversed by a reversing entry whose event takes the money back from the
pledge in the pledges service; and the two inputs a fuzzer found answering 500 now refused naming the field.

Error bodies are matched on the field's name in the text, whatever shape the error format takes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, eventually, url
from tests.e2e.test_pledge_lifecycle import NEXT_YEAR, step, submit


async def _summit(http: httpx.AsyncClient, planner: dict[str, str]) -> str:
    summit_id = f"UNCOPS-C{uuid.uuid4().hex[:6]}"
    created = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={
            "id": summit_id,
            "name": "Corrections test",
            "starts_on": "2030-06-03",
            "ends_on": "2030-06-04",
        },
    )
    assert created.status_code == 201, created.text
    assert await _resolves(http, planner, created) == created.json()
    return summit_id


async def _resolves(http: httpx.AsyncClient, headers: dict[str, str], created: httpx.Response) -> Any:
    """The body at the Location a 201 names."""
    location = created.headers["Location"]
    found = await http.get(url("summit", location), headers=headers)
    assert found.status_code == 200, (location, found.text)
    return found.json()


async def test_every_location_resolves_and_rooms_are_corrected(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER, subject="planner-rooms")
    summit_id = await _summit(http, planner)
    base = f"/summits/{summit_id}"

    milestone = await http.post(
        url("summit", f"{base}/milestones"),
        headers=planner,
        json={"title": "Venue contract signed", "due_at": "2030-03-01T17:00:00-05:00"},
    )
    assert milestone.status_code == 201, milestone.text
    assert (await _resolves(http, planner, milestone))["id"] == milestone.json()["id"]
    guest = await http.post(
        url("summit", f"{base}/participants"),
        headers=planner,
        json={
            "full_name": "Secretary-General",
            "function": "Opening",
            "organisation": "United Nations",
            "languages": ["en"],
        },
    )
    assert guest.status_code == 201, guest.text
    assert (await _resolves(http, planner, guest))["id"] == guest.json()["id"]
    invited = await http.post(
        url("summit", f"{base}/invitations"),
        headers=planner,
        json={"member_states": ["GHA"], "note_verbale": "NV/2030/GHA"},
    )
    assert invited.status_code == 201, invited.text
    assert (await _resolves(http, planner, invited))["member_state"] == "GHA"

    # The fuzzer's room: a time with an offset is refused naming the field (hours are the venue's own).
    for field in ("opens_at", "closes_at"):
        offset = await http.post(
            url("summit", f"{base}/rooms"),
            headers=planner,
            json={"name": "Annex Z", "capacity": 20, field: "14:04:15.2Z"},
        )
        assert offset.status_code == 422 and field in offset.text and "offset" in offset.text, offset.text

    room = await http.post(
        url("summit", f"{base}/rooms"),
        headers=planner,
        json={"name": "Annex A", "capacity": 40, "opens_at": "08:00", "closes_at": "18:00"},
    )
    assert room.status_code == 201, room.text
    room_id = room.json()["id"]
    assert (await _resolves(http, planner, room))["name"] == "Annex A"
    room_url = url("summit", f"{base}/rooms/{room_id}")
    assert (await http.get(room_url, headers=planner)).headers["ETag"] == '"1"'

    stale = await http.patch(room_url, headers={**planner, "If-Match": '"7"'}, json={"capacity": 60})
    assert stale.status_code == 412, stale.text
    bad_hours = await http.patch(room_url, headers=planner, json={"closes_at": "07:00"})
    assert bad_hours.status_code == 422 and "closes_at" in bad_hours.text
    bad_offset = await http.patch(room_url, headers=planner, json={"opens_at": "09:00+01:00"})
    assert bad_offset.status_code == 422 and "opens_at" in bad_offset.text
    changed = await http.patch(
        room_url, headers={**planner, "If-Match": '"1"'}, json={"capacity": 60, "capacity_confirmed": True}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["capacity"] == 60 and changed.json()["capacity_basis"] == "confirmed"
    assert changed.headers["ETag"] == '"2"'

    # UN Headquarters' own rooms are shared by every summit: readable, not editable.
    hq = next(
        r
        for r in (await http.get(url("summit", f"{base}/rooms"), headers=planner)).json()["items"]
        if not r["summit_id"]
    )
    assert (await http.get(url("summit", f"{base}/rooms/{hq['id']}"), headers=planner)).status_code == 200
    shared = await http.patch(
        url("summit", f"{base}/rooms/{hq['id']}"), headers=planner, json={"capacity": 5}
    )
    assert shared.status_code == 409, shared.text
    assert (
        await http.get(url("summit", f"/summits/{summit_id}/rooms/no-such-room"), headers=planner)
    ).status_code == 404

    placed = await http.post(
        url("summit", f"{base}/sessions"),
        headers=planner,
        json={
            "title": "Opening plenary",
            "kind": "plenary",
            "starts_at": "2030-06-03T10:00:00-04:00",
            "ends_at": "2030-06-03T11:00:00-04:00",
            "room_id": room_id,
        },
    )
    assert placed.status_code == 201, placed.text
    in_use = await http.delete(room_url, headers=planner)
    assert (
        in_use.status_code == 409 and placed.json()["id"] in in_use.text and "Opening plenary" in in_use.text
    )

    released = await http.post(url("summit", f"{base}/programme/releases"), headers=planner, json={})
    assert released.status_code == 201, released.text
    assert (await _resolves(http, planner, released))["number"] == 1
    # The fuzzer's release number: beyond PostgreSQL's integers is refused naming it; a missing one is 404.
    for number in ("99999999999999999999999", str(2**31), "0", "-1"):
        huge = await http.get(url("summit", f"{base}/programme/releases/{number}"), headers=planner)
        assert huge.status_code == 422 and "number" in huge.text, (number, huge.text)
        export = await http.get(url("summit", f"{base}/programme.json?release={number}"), headers=planner)
        assert export.status_code == 422 and "release" in export.text, (number, export.text)
    assert (
        await http.get(url("summit", f"{base}/programme/releases/{2**31 - 1}"), headers=planner)
    ).status_code == 404

    removed_session = await http.delete(
        url("summit", f"{base}/sessions/{placed.json()['id']}"), headers=planner
    )
    assert removed_session.status_code == 204, removed_session.text
    removed = await http.delete(room_url, headers={**planner, "If-Match": '"2"'})
    assert removed.status_code == 204, removed.text
    assert (await http.get(room_url, headers=planner)).status_code == 404

    trail = (await http.get(url("summit", f"{base}/audit?subject_id={room_id}"), headers=planner)).json()[
        "items"
    ]
    assert [(e["action"], e["actor"]) for e in trail] == [
        ("changed", "planner-rooms"),
        ("removed", "planner-rooms"),
    ]
    assert trail[0]["before"]["capacity"] == 40 and trail[0]["after"]["capacity"] == 60


async def test_budget_lines_and_spending_are_corrected_and_a_receipt_is_reversed(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER, subject="planner-money")
    china = bearer(settings, Role.STATE_FOCAL_POINT, "CHN")
    summit_id = await _summit(http, planner)
    base = f"/summits/{summit_id}"

    line = await http.post(
        url("summit", f"{base}/budget/lines"),
        headers=planner,
        json={"category": "venue", "title": "Conference rooms", "planned": "1000.00"},
    )
    assert line.status_code == 201, line.text
    line_id = line.json()["id"]
    assert (await _resolves(http, planner, line))["planned"] == "1000.00"
    line_url = url("summit", f"{base}/budget/lines/{line_id}")
    corrected = await http.patch(
        line_url, headers={**planner, "If-Match": '"1"'}, json={"planned": "1500.00"}
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["title"] == "Conference rooms" and corrected.json()["planned"] == "1500.00"
    assert (
        await http.patch(line_url, headers={**planner, "If-Match": '"1"'}, json={"planned": "1.00"})
    ).status_code == 409

    spent = await http.post(
        url("summit", f"{base}/budget/expenditures"),
        headers=planner,
        json={
            "budget_line_id": line_id,
            "amount": "250.00",
            "spent_on": "2030-01-15",
            "description": "Deposit",
        },
    )
    assert spent.status_code == 201, spent.text
    assert (await _resolves(http, planner, spent))["amount"] == "250.00"
    spent_url = url("summit", spent.headers["Location"])
    fixed = await http.patch(spent_url, headers={**planner, "If-Match": '"1"'}, json={"amount": "205.00"})
    assert fixed.status_code == 200 and fixed.json()["amount"] == "205.00" and fixed.json()["version"] == 2
    bad_line = await http.patch(spent_url, headers=planner, json={"budget_line_id": "nope"})
    assert bad_line.status_code == 422 and "budget_line_id" in bad_line.text
    assert (await http.get(line_url, headers=planner)).json()["spent"] == "205.00"
    # A line with spending stays; an empty one goes.
    assert (await http.delete(line_url, headers=planner)).status_code == 409
    spare = await http.post(
        url("summit", f"{base}/budget/lines"),
        headers=planner,
        json={"category": "other", "title": "Contingency", "planned": "10.00"},
    )
    assert (await http.delete(url("summit", spare.headers["Location"]), headers=planner)).status_code == 204
    lines = (await http.get(url("summit", f"{base}/budget/lines"), headers=planner)).json()["items"]
    assert [item["id"] for item in lines] == [line_id]
    assert [
        e["amount"]
        for e in (await http.get(url("summit", f"{base}/budget/expenditures"), headers=planner)).json()[
            "items"
        ]
    ] == ["205.00"]
    audited = (await http.get(url("summit", f"{base}/audit"), headers=planner)).json()["items"]
    assert [(e["subject"], e["action"]) for e in audited] == [
        ("budget_line", "changed"),
        ("expenditure", "changed"),
        ("budget_line", "removed"),
    ]
    assert audited[1]["before"]["amount"] == "250.00" and audited[1]["after"]["amount"] == "205.00"

    # A receipt recorded by mistake is reversed: the summit's books and the pledge's delivered money go back.
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
    receipt = await http.post(
        url("summit", f"{base}/funding/receipts"),
        headers=planner,
        json={
            "member_state": "CHN",
            "pledge_id": pid,
            "amount": "100000.00",
            "currency": "USD",
            "received_on": str(datetime.now(UTC).date()),
        },
    )
    assert receipt.status_code == 201, receipt.text
    receipt_id = receipt.json()["id"]
    assert (await _resolves(http, planner, receipt))["amount"] == "100000.00"

    async def delivered(amount: str) -> Any:
        body = (await http.get(url("pledges", f"/pledges/{pid}"), headers=planner)).json()
        return body if body["delivered"].get("USD") == amount else None

    await eventually(lambda: delivered("100000.00"), timeout=60)
    no_reason = await http.post(
        url("summit", f"{base}/funding/receipts/{receipt_id}/reversal"), headers=planner, json={}
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    reversal = await http.post(
        url("summit", f"{base}/funding/receipts/{receipt_id}/reversal"),
        headers=planner,
        json={"reason": "recorded against the wrong summit"},
    )
    assert reversal.status_code == 201, reversal.text
    entry = await _resolves(http, planner, reversal)
    assert entry["amount"] == "-100000.00" and entry["reverses"] == receipt_id
    assert entry["reason"] == "recorded against the wrong summit"
    again = await http.post(
        url("summit", f"{base}/funding/receipts/{receipt_id}/reversal"),
        headers=planner,
        json={"reason": "twice"},
    )
    assert again.status_code == 409, again.text
    listed = (await http.get(url("summit", f"{base}/funding/receipts"), headers=planner)).json()["items"]
    assert [(r["id"], r["reversed_by"]) for r in listed] == [(receipt_id, entry["id"]), (entry["id"], None)]
    funding = (await http.get(url("summit", f"{base}/funding"), headers=planner)).json()
    assert Decimal(funding["received"]) == 0
    body = await eventually(lambda: delivered("0.00"), timeout=60)
    assert body["status"] == "accepted"
    reversed_audit = (
        await http.get(url("summit", f"{base}/audit?subject_id={receipt_id}"), headers=planner)
    ).json()["items"]
    assert [(e["action"], e["reason"]) for e in reversed_audit] == [
        ("reversed", "recorded against the wrong summit")
    ]
