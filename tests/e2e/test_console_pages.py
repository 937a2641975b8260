"""Every page of the console (officers, planners, focal points), in English and in French: `<html lang>`
set, a level-one heading, no serious or critical accessibility violation (axe-core), a screenshot kept for
a person to look at."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, expect

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, eventually, url
from tests.e2e.console import accessibility_faults, chromium, shot, signed_in
from tests.e2e.test_console_officer import open_case

ROLE_WORDS = {"en": "Conduct officer", "fr": "Agent déontologie et discipline"}


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_every_officer_page_is_accessible_in_both_languages(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, language: str
) -> None:
    case = await open_case(http, settings)
    case_id = case["case_id"]
    added = await http.post(
        url("cases", f"/cases/{case_id}/victims"),
        headers=bearer(settings, Role.CONDUCT_OFFICER),
        json={"pseudonym": "V-11", "minor": False, "identity": {"name": "A. B."}},
    )
    assert added.status_code == 200, added.text
    victim_id = added.json()["victims"][0]["victim_id"]
    pages = {
        "queue": "/cases",
        "open-case": "/cases/new",
        "case": f"/cases/{case_id}",
        "step": f"/cases/{case_id}/steps/record_note_verbale",
        "victim-new": f"/cases/{case_id}/victims/new",
        "reveal": f"/cases/{case_id}/victims/{victim_id}/reveal",
        "attachment-new": f"/cases/{case_id}/attachments/new",
        "statistics": "/cases/statistics",
        "review-flags": "/cases/review-flags",
        "notifications": "/notifications",
        "notification-settings": "/notifications/settings",
        "caught-mail": "/mail",
        "sign-in": "/sign-in",
        "not-found": "/cases/no-such-case",
    }
    faults: dict[str, list[str]] = {}
    async with chromium() as browser:
        context, page = await signed_in(browser, ROLE_WORDS[language], locale=f"{language}-GB")
        for name, path in pages.items():
            await page.goto(url("console", path))
            await expect(page.locator("html")).to_have_attribute("lang", language)
            await expect(page.get_by_role("heading", level=1)).to_have_count(1)
            await expect(page).to_have_title(re.compile(r"^[^<>]{1,80} — (UNCOPS console|Console UNCOPS)$"))
            await shot(page, f"page-{name}-{language}")
            found = await accessibility_faults(browser, page.url, await context.cookies())
            if found:
                faults[name] = found
        await context.close()
    assert faults == {}


PLANNER_WORDS = {"en": "Planner", "fr": "Planificateur"}
FOCAL_POINT_WORDS = {"en": "State focal point", "fr": "Point focal d'un État"}
TITLE = re.compile(r"^[^<>]{1,100} — (UNCOPS console|Console UNCOPS)$")


async def _summit_with_a_delegation(http: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    """A summit months ahead: Ghana invited and registered, a guest speaking at a session, a release, a
    budget line; and a pledge of Ghana's, acknowledged."""
    planner = bearer(settings, Role.PLANNER)
    ghana = bearer(settings, Role.STATE_FOCAL_POINT, "GHA")
    summit_id = f"UNCOPS-P{uuid.uuid4().hex[:6].upper()}"
    starts = datetime.now(UTC).date() + timedelta(days=200)
    made = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={"id": summit_id, "name": "Pages summit", "starts_on": str(starts), "ends_on": str(starts)},
    )
    assert made.status_code == 201, made.text
    base = f"/summits/{summit_id}"
    invited = await http.post(
        url("summit", f"{base}/invitations"),
        headers=planner,
        json={
            "member_states": ["GHA"],
            "note_verbale": "PD/PAGES/{member_state}",
            "registration_deadline": (datetime.now(UTC) + timedelta(days=60)).isoformat(),
        },
    )
    assert invited.status_code == 201, invited.text
    delegation_id = invited.json()["invited"][0]["id"]

    async def registered() -> bool | None:
        answer = await http.post(
            url("summit", f"{base}/delegations/{delegation_id}/register"),
            headers=ghana,
            json={
                "head": {
                    "full_name": "Ama Mensah",
                    "function": "Inspector-General of Police",
                    "languages": ["en"],
                    "head_of_delegation": "chief_of_police",
                },
                "proof_document": {
                    "file_name": "credentials.pdf",
                    "media_type": "application/pdf",
                    "size_bytes": 1024,
                    "sha256": "a" * 64,
                },
            },
        )
        return True if answer.status_code == 200 else None

    await eventually(registered, timeout=30)
    guest = await http.post(
        url("summit", f"{base}/participants"),
        headers=planner,
        json={
            "full_name": "Li Wei",
            "function": "Chief of Police",
            "organisation": "Police",
            "languages": ["en"],
        },
    )
    assert guest.status_code == 201, guest.text
    session = await http.post(
        url("summit", f"{base}/sessions"),
        headers=planner,
        json={
            "title": "Opening plenary",
            "kind": "plenary",
            "starts_at": f"{starts}T10:00:00-04:00",
            "ends_at": f"{starts}T11:00:00-04:00",
            "room_id": "unhq-ga-hall",
            "speakers": [guest.json()["id"]],
        },
    )
    assert session.status_code == 201, session.text
    released = await http.post(url("summit", f"{base}/programme/releases"), headers=planner, json={})
    assert released.status_code == 201, released.text
    line = await http.post(
        url("summit", f"{base}/budget/lines"),
        headers=planner,
        json={"category": "venue", "title": "Rooms", "planned": "1000"},
    )
    assert line.status_code == 201, line.text
    milestones = await http.get(url("summit", f"{base}/milestones"), headers=planner)
    pledge = await http.post(
        url("pledges", "/pledges"),
        headers=ghana,
        json={
            "member_state": "GHA",
            "kind": "gender_parity",
            "title": f"Pages pledge {uuid.uuid4().hex[:6]}",
        },
    )
    assert pledge.status_code == 201, pledge.text
    acknowledged = await http.post(
        url("pledges", f"/pledges/{pledge.json()['id']}/actions"),
        headers=planner,
        json={"action": "acknowledge"},
    )
    assert acknowledged.status_code == 200, acknowledged.text
    return {
        "summit": summit_id,
        "delegation": delegation_id,
        "milestone": milestones.json()["items"][0]["id"],
        "pledge": pledge.json()["id"],
    }


async def _sweep(
    browser: Browser, role_words: str, member_state: str, language: str, pages: dict[str, str]
) -> dict[str, list[str]]:
    faults: dict[str, list[str]] = {}
    context, page = await signed_in(browser, role_words, member_state, locale=f"{language}-GB")
    for name, path in pages.items():
        answer = await page.goto(url("console", path))
        assert answer is not None and answer.status == 200, f"{path}: {answer and answer.status}"
        await expect(page.locator("html")).to_have_attribute("lang", language)
        await expect(page.get_by_role("heading", level=1)).to_have_count(1)
        if not path.endswith("/print"):
            await expect(page).to_have_title(TITLE)
        await shot(page, f"page-{name}-{language}")
        found = await accessibility_faults(browser, page.url, await context.cookies())
        if found:
            faults[name] = found
    await context.close()
    return faults


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_every_planner_and_focal_point_page_is_accessible_in_both_languages(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient, language: str
) -> None:
    made = await _summit_with_a_delegation(http, settings)
    summit = f"/summits/{made['summit']}"
    pledge = f"/pledges/{made['pledge']}"
    planner_pages = {
        "pledge-queue": "/pledges",
        "pledge": pledge,
        "pledge-step": f"{pledge}/steps/start_review",
        "pledge-follow-up": "/pledges/follow-up",
        "pledge-import": "/pledges/import",
        "summits": "/summits",
        "summit-new": "/summits/new",
        "summit": summit,
        "milestones": f"{summit}/milestones",
        "milestone-reschedule": f"{summit}/milestones/{made['milestone']}/reschedule",
        "delegations": f"{summit}/delegations",
        "delegation": f"{summit}/delegations/{made['delegation']}",
        "budget": f"{summit}/budget",
        "agenda": f"{summit}/agenda",
        "programme": f"{summit}/programme",
        "programme-print": f"{summit}/programme/print",
        "calendars": "/calendars",
        "planner-notifications": "/notifications",
    }
    focal_point_pages = {
        "fp-desk": "/",
        "fp-pledges": "/pledges",
        "fp-pledge-new": "/pledges/new",
        "fp-pledge": pledge,
        "fp-follow-up": "/pledges/follow-up",
        "fp-summits": "/summits",
        "fp-delegation": f"{summit}/delegations/{made['delegation']}",
        "fp-programme": f"{summit}/programme",
        "fp-cases": "/cases",
        "fp-calendars": "/calendars",
        "fp-notifications": "/notifications",
        "fp-notification-settings": "/notifications/settings",
    }
    async with chromium() as browser:
        faults = await _sweep(browser, PLANNER_WORDS[language], "", language, planner_pages)
        faults |= await _sweep(browser, FOCAL_POINT_WORDS[language], "GHA", language, focal_point_pages)
    assert faults == {}
