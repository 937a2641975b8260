"""What the console's browser tests share: Debian's Chromium driven by Playwright (never a downloaded
browser), signing in through the sign-in page, axe-core from node_modules, screenshots kept as artefacts."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright, expect
from pypdf import PdfReader

from deploy.stack import REPO
from tests.conftest import TEST_RUN_DIR, url

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = TEST_RUN_DIR / "screenshots"
# axe-core's levels that fail a page (WCAG 2.2 AA: moderate and minor ones are reported, not failed).
FAILING_IMPACTS = {"serious", "critical"}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def signed_in(
    browser: Browser, role_words: str, member_state: str = "", name: str = "", locale: str = "en-GB"
) -> tuple[BrowserContext, Page]:
    """A new browser (its own cookies) signed in through the sign-in page, as a person would."""
    context = await browser.new_context(locale=locale)
    page = await context.new_page()
    await page.goto(url("console", "/"))
    await expect(page).to_have_url(url("console", "/sign-in"))
    await page.get_by_label("Role" if locale.startswith("en") else "Rôle").select_option(label=role_words)
    if member_state:
        await page.get_by_label("Member State" if locale.startswith("en") else "État Membre").fill(
            member_state
        )
    if name:
        await page.get_by_label("Name" if locale.startswith("en") else "Nom").fill(name)
    await page.get_by_role("button", name="Sign in" if locale.startswith("en") else "Se connecter").click()
    await page.wait_for_load_state()
    return context, page


def field(page: Page, label: str) -> Locator:
    """A form control by its label's words (an optional field's label ends "(optional)")."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}(?: \(|$)"))


async def shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"console-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def accessibility_faults(browser: Browser, address: str, cookies: list[Any]) -> list[str]:
    """axe-core's serious and critical violations on the page at ``address`` (in a context that lets the
    test inject axe despite the console's Content-Security-Policy, with the same session cookie)."""
    context = await browser.new_context(bypass_csp=True)
    try:
        await context.add_cookies(cookies)
        page = await context.new_page()
        await page.goto(address)
        await page.add_script_tag(path=str(AXE))
        result: dict[str, Any] = await page.evaluate(
            "async (tags) => await axe.run(document, {runOnly: tags})", AXE_TAGS
        )
    finally:
        await context.close()
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {json.dumps([n['target'] for n in v['nodes']][:3])}"
        for v in result["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]


async def fill_session(
    page: Page, day: str, title: str, start: str, end: str, room: str, speakers: list[str]
) -> None:
    """Fills the agenda's session form (a thematic session on ``day``, times at the venue)."""
    await field(page, "Title").fill(title)
    await field(page, "Kind").select_option(label="Thematic")
    await field(page, "Starts at").fill(f"{day}T{start}")
    await field(page, "Ends at").fill(f"{day}T{end}")
    await field(page, "Room ID").select_option(label=room)
    await field(page, "Speakers").select_option(label=speakers)


async def pdf_text(page: Page, link: str) -> str:
    """Downloads the PDF behind a link; checks it is one, with pages; its text."""
    async with page.expect_download() as download:
        await page.get_by_role("link", name=link).click()
    saved = await (await download.value).path()
    data = saved.read_bytes()
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) > 0
    return "\n".join(p.extract_text() for p in reader.pages)
