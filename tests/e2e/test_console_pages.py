"""Every page of the officers' console, in English and in French: `<html lang>` set, a level-one heading,
no serious or critical accessibility violation (axe-core), a screenshot kept for a person to look at."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import expect

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.settings import Settings
from tests.conftest import bearer, url
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
