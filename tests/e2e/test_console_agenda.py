"""A planner's agenda and programme in the console, in Debian's Chromium: a session that clashes (same room
and time, a speaker in two places) is refused with every conflict in words beside the form, fixed after a
check, saved; the programme released (and released again: "nothing changed" in words); the printable
programme downloaded as a PDF in English and French; a calendar subscription made, polled with no
credentials (ETag, 304) and revoked; no serious accessibility fault on these pages in either language."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, expect

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, url
from tests.e2e.console import accessibility_faults, chromium, field, fill_session, pdf_text, shot, signed_in

DAY = "2033-06-07"


async def _summit(http: httpx.AsyncClient, planner: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A summit with two registered guests and an opening plenary in the General Assembly Hall."""
    summit_id = f"UNCOPS-G{uuid.uuid4().hex[:6]}"
    made = await http.post(
        url("summit", "/summits"),
        headers=planner,
        json={"id": summit_id, "name": "UNCOPS III (browser)", "starts_on": DAY, "ends_on": "2033-06-08"},
    )
    assert made.status_code == 201, made.text
    people = {}
    for name, function in (("Ama Mensah", "Inspector-General"), ("Li Wei", "Chief of Police")):
        guest = await http.post(
            url("summit", f"/summits/{summit_id}/participants"),
            headers=planner,
            json={"full_name": name, "function": function, "organisation": "Police", "languages": ["en"]},
        )
        assert guest.status_code == 201, guest.text
        people[name] = guest.json()["id"]
    opening = await http.post(
        url("summit", f"/summits/{summit_id}/sessions"),
        headers=planner,
        json={
            "title": "Opening plenary",
            "kind": "plenary",
            "starts_at": f"{DAY}T10:00:00-04:00",
            "ends_at": f"{DAY}T12:00:00-04:00",
            "room_id": "unhq-ga-hall",
            "speakers": [people["Ama Mensah"]],
        },
    )
    assert opening.status_code == 201, opening.text
    return summit_id, people


async def _faults(browser: Browser, context: BrowserContext, addresses: list[str]) -> list[str]:
    faults: list[str] = []
    for address in addresses:
        faults += [
            f"{address}: {f}" for f in await accessibility_faults(browser, address, await context.cookies())
        ]
    return faults


async def test_a_planner_fixes_a_clash_releases_prints_and_subscribes(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    planner = bearer(settings, Role.PLANNER)
    summit_id, _ = await _summit(http, planner)
    agenda = url("console", f"/summits/{summit_id}/agenda")
    async with chromium() as browser:
        context, page = await signed_in(browser, "Planner", name="Grace Planner")
        await page.goto(agenda)
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Agenda")
        nav = page.get_by_role("navigation", name="Summit: UNCOPS III (browser)")
        await expect(nav.get_by_role("link", name="Programme")).to_be_visible()
        grid = page.get_by_role("table", name="Sessions of")
        await expect(grid.get_by_role("columnheader", name="General Assembly Hall")).to_be_visible()
        await expect(grid.get_by_role("rowheader", name="10:00")).to_be_visible()
        await expect(grid.get_by_role("cell", name="Opening plenary")).to_be_visible()
        await shot(page, "agenda")

        # A clash: the same room at the same time, and Ama Mensah in two places. Nothing is saved.
        await fill_session(
            page,
            DAY,
            "Police and peace",
            "11:00",
            "12:30",
            "General Assembly Hall (1800)",
            ["Ama Mensah (Inspector-General)"],
        )
        conflicts = page.locator("#conflicts")
        # With JavaScript, htmx asks the summit API's check as the form changes: the conflicts come first.
        await expect(conflicts).to_contain_text("Conflicts found: 2. Nothing was saved.")
        await page.get_by_role("button", name="Save session").click()
        await expect(conflicts).to_contain_text("Conflicts found: 2. Nothing was saved.")
        await expect(conflicts).to_contain_text(
            "Room General Assembly Hall is already booked for “Opening plenary” from 10:00\N{EN DASH}12:00."
        )
        await expect(conflicts).to_contain_text(
            "Ama Mensah (Inspector-General) is already at “Opening plenary” in General Assembly Hall"
        )
        await expect(field(page, "Title")).to_have_value("Police and peace")  # the form kept what was typed
        await shot(page, "agenda-conflicts")
        listed = await http.get(url("summit", f"/summits/{summit_id}/sessions"), headers=planner)
        assert [s["title"] for s in listed.json()["items"]] == ["Opening plenary"]

        # Fixed: another room, another time, another speaker; "Check" says so before saving.
        await field(page, "Room ID").select_option(label="Conference Room 4 (600)")
        await field(page, "Starts at").fill(f"{DAY}T14:00")
        await field(page, "Ends at").fill(f"{DAY}T15:30")
        await field(page, "Speakers").select_option(label=["Li Wei (Chief of Police)"])
        await page.get_by_role("button", name="Check").click()
        await expect(page.locator("#conflicts")).to_contain_text("No conflict: the session can be saved.")
        await page.get_by_role("button", name="Save session").click()
        await expect(page.get_by_role("status")).to_contain_text("The session is saved")
        await expect(page.get_by_role("cell", name="Police and peace")).to_be_visible()
        await shot(page, "agenda-saved")

        # Moving it: its title opens it in the form, which sends its version (If-Match).
        await page.get_by_role("link", name="Police and peace").click()
        await expect(page.get_by_role("heading", name="Move or change a session")).to_be_visible()
        await expect(field(page, "Starts at")).to_have_value(f"{DAY}T14:00")
        await field(page, "Ends at").fill(f"{DAY}T16:00")
        await page.get_by_role("button", name="Save session").click()
        await expect(page.get_by_role("status")).to_contain_text("The session is saved")
        moved = page.get_by_role("cell", name="Police and peace")
        await expect(moved).to_contain_text("14:00\N{EN DASH}16:00")

        # The programme: released, then released again with nothing changed.
        await nav.get_by_role("link", name="Programme").click()
        await page.get_by_role("button", name="Release the programme").click()
        await expect(page.get_by_role("status")).to_contain_text("Release 1 of the programme is published.")
        await expect(page.get_by_role("table", name="Changes in release 1")).to_contain_text(
            "Police and peace"
        )
        await page.get_by_role("button", name="Release the programme").click()
        await expect(page.get_by_role("alert")).to_contain_text("Nothing changed since the last release")
        await page.goto(url("console", f"/summits/{summit_id}/programme"))
        await shot(page, "programme")
        text = await pdf_text(page, "Printable programme (PDF)")
        assert "Police and peace" in text and "Page 1 of" in text

        async with page.expect_download() as download:
            await page.get_by_role("link", name="programme.ics").click()
        assert (await (await download.value).path()).read_bytes().startswith(b"BEGIN:VCALENDAR")

        # French: the same pages, and the PDF in French.
        await page.get_by_role("button", name="Français").click()
        await expect(page.locator("html")).to_have_attribute("lang", "fr")
        await shot(page, "programme-fr")
        text = await pdf_text(page, "Programme imprimable (PDF)")
        assert "Police and peace" in text and "Page 1 sur" in text and "Intervenants" in text
        await page.goto(agenda)
        await expect(page.get_by_role("table", name="Séances du")).to_be_visible()
        await shot(page, "agenda-fr")
        french_faults = await _faults(
            browser,
            context,
            [agenda, url("console", f"/summits/{summit_id}/programme"), url("console", "/calendars")],
        )
        await page.get_by_role("button", name="English").click()

        # A calendar subscription, polled by a calendar application with no credentials at all.
        await page.goto(url("console", "/calendars"))
        await field(page, "Name").fill("My phone")
        await page.get_by_role("button", name="Create a subscription").click()
        address = await field(page, "The same address for Google Calendar (From URL)").input_value()
        webcal = await field(page, "Address to subscribe to (webcal)").input_value()
        assert webcal.startswith("webcal://") and webcal.endswith(".ics")
        await shot(page, "calendars")
        async with httpx.AsyncClient() as calendar_app:
            polled = await calendar_app.get(address)
            assert polled.status_code == 200, polled.text
            assert polled.headers["content-type"].startswith("text/calendar") and polled.headers["etag"]
            assert "Police and peace" in polled.text
            again = await calendar_app.get(address, headers={"If-None-Match": polled.headers["etag"]})
            assert again.status_code == 304 and again.headers["etag"] == polled.headers["etag"]
            english_faults = await _faults(
                browser,
                context,
                [agenda, url("console", f"/summits/{summit_id}/programme"), url("console", "/calendars")],
            )
            await page.goto(url("console", "/calendars"))
            await page.get_by_role("button", name="Revoke My phone").first.click()
            await expect(page.get_by_role("status")).to_contain_text("The subscription is revoked")
            gone = await calendar_app.get(address)
            assert gone.status_code == 404
        await context.close()
    assert french_faults == [] and english_faults == []


async def test_the_feed_route_needs_no_session_and_refuses_what_is_no_token(
    platform: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    for token in ("x" * 43, "../../summits", "short"):
        answer = await http.get(url("console", f"/calendars/{token}.ics"), follow_redirects=False)
        assert answer.status_code == 404, token
    made = await http.post(url("summit", "/calendars"), headers=bearer(settings, Role.PLANNER), json={})
    body: dict[str, Any] = made.json()
    answer = await http.get(url("console", body["path"]), follow_redirects=False)
    assert answer.status_code == 200 and answer.text.startswith("BEGIN:VCALENDAR")
    assert "set-cookie" not in answer.headers
