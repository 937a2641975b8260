"""A focal point's desk in Debian's Chromium: signed in, it sees first what its State owes now — a question
from the secretariat on a pledge, its delegation to a summit with the registration deadline, its State's
cases — each a link to the page where it acts; in English and in French, axe-core clean."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from playwright.async_api import expect

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, url
from tests.e2e.console import accessibility_faults, chromium, shot, signed_in

STATE = "TGO"


async def test_a_focal_point_sees_what_its_state_owes_first(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER)
    title = f"Deploy 20 French-speaking officers ({uuid.uuid4().hex[:6]})"
    pledge = await http.post(
        url("pledges", "/pledges"),
        headers=bearer(settings, Role.STATE_FOCAL_POINT, STATE),
        json={"member_state": STATE, "kind": "french_speaking_officers", "title": title},
    )
    assert pledge.status_code == 201, pledge.text
    for step in (
        {"action": "acknowledge"},
        {"action": "start_review"},
        {"action": "request_clarification", "questions": "From which units?"},
    ):
        answer = await http.post(
            url("pledges", f"/pledges/{pledge.json()['id']}/actions"), headers=planner, json=step
        )
        assert answer.status_code == 200, answer.text
    summit_id = f"UNCOPS-D{uuid.uuid4().hex[:6].upper()}"
    starts = datetime.now(UTC).date() + timedelta(days=150)
    made = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={"id": summit_id, "name": "Desk summit", "starts_on": str(starts), "ends_on": str(starts)},
    )
    assert made.status_code == 201, made.text
    invited = await http.post(
        url("summit", f"/summits/{summit_id}/invitations"),
        headers=planner,
        json={
            "member_states": [STATE],
            "note_verbale": "PD/DESK/{member_state}",
            "registration_deadline": (datetime.now(UTC) + timedelta(days=45)).isoformat(),
        },
    )
    assert invited.status_code == 201, invited.text

    async with chromium() as browser:
        context, page = await signed_in(browser, "State focal point", STATE, "Focal Point Togo")
        await expect(page).to_have_url(url("console", "/"))
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"What {STATE} owes now")
        pledges = page.get_by_role("region", name="Pledges")
        await expect(pledges).to_contain_text("Questions from the secretariat to answer")
        delegations = page.get_by_role("region", name="Delegations to the summits")
        await expect(delegations.get_by_role("listitem").filter(has_text="Desk summit")).to_contain_text(
            re.compile(r"Invited, register by .+ \(in 4[45] days\)")
        )
        await expect(page.get_by_role("region", name="Cases")).to_be_visible()
        await shot(page, "desk")
        faults = await accessibility_faults(browser, page.url, await context.cookies())
        await pledges.get_by_role("link", name=title).click()
        await expect(page).to_have_url(url("console", f"/pledges/{pledge.json()['id']}"))
        await expect(page.get_by_role("heading", level=1)).to_have_text(title)

        await page.goto(url("console", "/"))
        await page.get_by_role("button", name="Français").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            f"Ce que {STATE} doit faire maintenant"
        )
        await expect(page.get_by_role("region", name="Délégations aux sommets")).to_contain_text(
            "Desk summit"
        )
        await shot(page, "desk-fr")
        faults += await accessibility_faults(browser, page.url, await context.cookies())
        await context.close()
    assert faults == []
