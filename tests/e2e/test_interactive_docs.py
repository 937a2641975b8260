"""``/docs`` of each running service works with no internet access: Debian's Chromium, driven by Playwright,
is allowed to reach 127.0.0.1 only, and Swagger UI still lists every operation of the service (its script
and styles are served by the service itself, services/common/interactive_docs.py).

Chromium comes from Debian (deploy/ensure-debian-packages.sh, run by `make test`), never from
`playwright install`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Route, async_playwright, expect

from deploy.stack import LocalStack
from services.common.settings import SERVICES
from tests.conftest import TEST_RUN_DIR, url

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
METHODS = {"get", "post", "put", "patch", "delete"}


async def test_swagger_ui_lists_every_operation_with_no_internet(
    platform: LocalStack, http: httpx.AsyncClient
) -> None:
    shots = TEST_RUN_DIR / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    local: list[str] = []

    async def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            local.append(route.request.url)
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort("internetdisconnected")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for service in SERVICES:
                spec = (await http.get(url(service, "/openapi.json"))).json()
                operations = [
                    (method, path, operation)
                    for path, item in spec["paths"].items()
                    for method, operation in item.items()
                    if method in METHODS
                ]
                page = await browser.new_page(viewport={"width": 1280, "height": 1000})
                await page.route("**/*", loopback_only)
                await page.goto(url(service, "/docs"))

                await expect(
                    page.get_by_role("heading", name=re.compile(spec["info"]["title"]))
                ).to_be_visible()
                # Every operation is listed once, under its method and path, with its summary, in the section
                # of its one tag (Swagger UI's id of a block: operations-<tag>-<operationId>).
                assert all(len(operation.get("tags", [])) == 1 for _, _, operation in operations)
                await expect(page.locator(".opblock")).to_have_count(len(operations))
                for method, path, operation in operations:
                    block = page.locator(f".opblock-{method}").filter(
                        has=page.locator(".opblock-summary-path", has_text=re.compile(f"^{re.escape(path)}$"))
                    )
                    await expect(block).to_have_count(1)
                    tag, operation_id = operation["tags"][0], operation["operationId"]
                    await expect(page.locator(f"#operations-{tag}-{operation_id}")).to_have_count(1)
                    await expect(block.locator(".opblock-summary-description").first).to_have_text(
                        operation["summary"]
                    )
                # An authenticated operation opened: its errors are problems (application/problem+json).
                method, path, operation = next(op for op in operations if op[2].get("security"))
                await page.get_by_text(operation["summary"], exact=True).first.click()
                opened = page.locator(".opblock.is-open")
                await expect(
                    opened.locator(".response-col_status", has_text=re.compile(r"^401$"))
                ).to_be_visible()
                await expect(opened.get_by_text("application/problem+json").first).to_be_attached()
                await opened.locator(
                    ".response-col_status", has_text=re.compile(r"^401$")
                ).scroll_into_view_if_needed()
                await page.screenshot(path=str(shots / f"docs-{service}.png"))
                await page.close()
        finally:
            await browser.close()

    assert outside == []
    assert any(request.endswith("/docs/assets/swagger-ui-bundle.js") for request in local)
