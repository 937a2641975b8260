"""The console's pages under 20 simulated officers browsing over 100,000 cases, side by side with the very
API calls each page makes, sent straight to the cases API by the same officers in the same run.

Each officer signs in through the sign-in page (its own session cookie), then loops: the queue (next
deadline first), the queue's second page, a case from it (facts, steps, deadlines, audit trail) and the
statistics by mission, reading each page for THINK_SECONDS on average (a quick reader: people read a case
for far longer) before the next. After each console page it makes that page's API calls itself, so both are
measured under the same load. The console tells its own time apart in every answer
(``Server-Timing: api;dur=…, console;dur=…``): what it spent waiting on the APIs, and the rest (sessions,
templates, its own code).

Goals (issue 16): a page's server time p99 < 150 ms; the console adds < 20 ms p50 over its API calls.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.cases import KEEPALIVE_EXPIRY, _fill_cases, officer_headers
from bench.common import summary_ms

THINK_SECONDS = (0.5, 1.5)  # uniform: 1 s on average between an officer's pages
GOAL_PAGE_P99_MS = 150.0
GOAL_ADDED_P50_MS = 20.0
PAGES = ("queue", "queue page 2", "case", "statistics")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_NEXT = re.compile(r'href="(/cases\?[^"]*cursor=[^"]+)" rel="next"')
_CASE = re.compile(r'href="/cases/([0-9a-f-]{36})"')
_TIMING = re.compile(r"(api|console);dur=(-?[\d.]+)")


def server_timing(header: str) -> dict[str, float]:
    """``{"api": ms, "console": ms}`` from a Server-Timing header."""
    return {name: float(value) for name, value in _TIMING.findall(header)}


class Samples:
    def __init__(self) -> None:
        self.page: dict[str, list[float]] = {name: [] for name in PAGES}  # the console page, at the client
        self.server: dict[str, list[float]] = {name: [] for name in PAGES}  # console + API, inside it
        self.own: dict[str, list[float]] = {name: [] for name in PAGES}  # the console's own time
        self.direct: dict[str, list[float]] = {name: [] for name in PAGES}  # the same API calls, straight
        self.errors: dict[str, int] = {}

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def _sign_in(console: httpx.AsyncClient, name: str) -> None:
    page = await console.get("/sign-in")
    token = _CSRF.search(page.text)
    assert token, "no CSRF token on the sign-in page"
    answer = await console.post(
        "/sign-in",
        data={"csrf_token": token.group(1), "role": "conduct_officer", "name": name, "next": "/cases"},
    )
    assert answer.status_code == 303, answer.text


async def _officer(
    number: int, console_url: str, cases_url: str, deadline: float, samples: Samples, seed: int
) -> None:
    rng = random.Random(seed + number)
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2, keepalive_expiry=KEEPALIVE_EXPIRY)
    async with (
        httpx.AsyncClient(base_url=console_url, limits=limits, timeout=60) as console,
        httpx.AsyncClient(base_url=cases_url, headers=officer_headers(), limits=limits, timeout=60) as api,
    ):
        await _sign_in(console, f"Bench officer {number}")

        async def page(name: str, path: str) -> str | None:
            await asyncio.sleep(rng.uniform(*THINK_SECONDS))
            started = time.perf_counter()
            answer = await console.get(path)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                samples.error(f"{name}: HTTP {answer.status_code}")
                return None
            timing = server_timing(answer.headers.get("server-timing", ""))
            samples.page[name].append(elapsed)
            samples.server[name].append((timing["api"] + timing["console"]) / 1000)
            samples.own[name].append(timing["console"] / 1000)
            return answer.text

        async def direct(name: str, calls: list[tuple[str, dict[str, Any]]]) -> None:
            started = time.perf_counter()
            for path, params in calls:
                answer = await api.get(path, params=params)
                if answer.status_code != 200:
                    samples.error(f"{name} (API): HTTP {answer.status_code}")
                    return
            samples.direct[name].append(time.perf_counter() - started)

        queue = {"limit": 25, "sort": "next_due"}
        while time.perf_counter() < deadline:
            first = await page("queue", "/cases")
            await direct("queue", [("/cases", queue)])
            if first is None:
                continue
            following = _NEXT.search(first)
            if following is not None:
                second = following.group(1).replace("&amp;", "&")
                await page("queue page 2", second)
                cursor = httpx.URL(second).params["cursor"]
                await direct("queue page 2", [("/cases", {**queue, "cursor": cursor})])
            ids = _CASE.findall(first)
            if ids:
                case_id = rng.choice(ids)
                await page("case", f"/cases/{case_id}")
                await direct("case", [(f"/cases/{case_id}", {}), (f"/cases/{case_id}/audit", {"limit": 50})])
            await page("statistics", "/cases/statistics?by=mission")
            await direct("statistics", [("/cases/statistics", {"by": "mission"})])


async def _browse(console_url: str, cases_url: str, officers: int, seconds: float, seed: int) -> Samples:
    samples = Samples()
    # Warm-up, not counted: the console's first page fetches the cases API's contract once.
    await _officer(-1, console_url, cases_url, time.perf_counter() + 3, Samples(), seed)
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(_officer(n, console_url, cases_url, deadline, samples, seed) for n in range(officers))
    )
    return samples


def console_pages(
    stack: Any,
    total: int = 100_000,
    officers: int = 20,
    seconds: float = 60,
    seed: int = 2018,
    echo: Callable[[str], None] = print,
    loop_runner: Callable[[Any], Any] = asyncio.run,
) -> dict[str, Any]:
    console_url = f"http://127.0.0.1:{stack.ports.console}"
    cases_url = f"http://127.0.0.1:{stack.ports.cases}"
    dsn = f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/uncops_cases"
    try:
        stack.start_service("cases", "worker")
        stack.start_service("cases")
        stack.start_service("console")
        echo(f"  bulk-loading case_file up to {total:,} cases (COPY)")
        filled = loop_runner(_fill_cases(dsn, total, echo))
        echo(f"  {officers} officers browse for {seconds:.0f} s (console pages, then the same API calls)")
        samples = loop_runner(_browse(console_url, cases_url, officers, seconds, seed))
    finally:
        stack.stop("console")
        stack.stop("cases")
        stack.stop("cases-worker")
    pages: dict[str, Any] = {}
    for name in PAGES:
        page, server, own, direct = (
            summary_ms(samples.page[name]),
            summary_ms(samples.server[name]),
            summary_ms(samples.own[name]),
            summary_ms(samples.direct[name]),
        )
        added = (
            round(page["p50_ms"] - direct["p50_ms"], 2)
            if page["p50_ms"] is not None and direct["p50_ms"] is not None
            else None
        )
        pages[name] = {
            "requests": len(samples.page[name]),
            "page": page,
            "server": server,
            "console_own": own,
            "api_calls_direct": direct,
            "added_p50_ms_vs_direct": added,
            "passed": bool(samples.page[name])
            and (server["p99_ms"] or 0) < GOAL_PAGE_P99_MS
            and (own["p50_ms"] or 0) < GOAL_ADDED_P50_MS,
        }
    worst_server = max((p["server"]["p99_ms"] or 0) for p in pages.values())
    worst_own = max((p["console_own"]["p50_ms"] or 0) for p in pages.values())
    return {
        "goal": (
            f"server time p99 < {GOAL_PAGE_P99_MS:g} ms per page; "
            f"the console adds < {GOAL_ADDED_P50_MS:g} ms "
            "p50 over its API calls"
        ),
        "passed": all(p["passed"] for p in pages.values()) and not samples.errors,
        "officers": officers,
        "seconds": seconds,
        "think_seconds": list(THINK_SECONDS),
        "cases": filled["rows"],
        "worst_server_p99_ms": worst_server,
        "worst_console_own_p50_ms": worst_own,
        "pages": pages,
        "errors": samples.errors,
    }


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    found = results["benchmarks"].get("console_pages")
    if found is None:
        return []
    name = "console: 20 officers' pages"
    if "error" in found:
        return [(name, f"error: {found['error']}", "p99 < 150 ms", "FAIL")]
    return [
        (
            name,
            f"server p99 worst {found['worst_server_p99_ms']:.1f} ms, console's own p50 worst "
            f"{found['worst_console_own_p50_ms']:.1f} ms over {found['cases']:,} cases",
            f"p99 < {GOAL_PAGE_P99_MS:g} ms; adds < {GOAL_ADDED_P50_MS:g} ms p50",
            "PASS" if found["passed"] else "FAIL",
        )
    ]


def markdown_sections(results: dict[str, Any]) -> list[str]:
    found = results["benchmarks"].get("console_pages")
    if found is None or "error" in found:
        return []

    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}"

    out = [
        "## 10. Console: officers' pages",
        "",
        f"{found['officers']} simulated officers, each signed in through the sign-in page, browse for "
        f"{found['seconds']:.0f} s over {found['cases']:,} cases: the queue (next deadline first), its "
        "second page, a case from it (facts, steps, deadlines, audit trail) and the statistics by mission, "
        f"reading each page {found['think_seconds'][0]:g} to {found['think_seconds'][1]:g} s "
        "before the next. "
        "After each page, the same officer sends that page's API calls straight to the cases API, so both "
        "are measured side by side under the same load. *Server* is the page's time inside the console (its "
        "own time plus its API calls, from its `Server-Timing` header); *own* is the console's own part "
        "(sessions, templates, its code); *direct* is the same API calls sent by the client.",
        "",
        "| page | requests | page p50 / p99 (ms, client) | server p50 / p99 | own p50 / p99 "
        "| direct API p50 / p99 | page p50 - direct p50 | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, page in found["pages"].items():
        out.append(
            f"| {name} | {page['requests']:,} | "
            f"{ms(page['page']['p50_ms'])} / {ms(page['page']['p99_ms'])} | "
            f"{ms(page['server']['p50_ms'])} / {ms(page['server']['p99_ms'])} | "
            f"{ms(page['console_own']['p50_ms'])} / {ms(page['console_own']['p99_ms'])} | "
            f"{ms(page['api_calls_direct']['p50_ms'])} / {ms(page['api_calls_direct']['p99_ms'])} | "
            f"{ms(page['added_p50_ms_vs_direct'])} | {'PASS' if page['passed'] else 'FAIL'} |"
        )
    out += ["", f"Errors: {found['errors'] or 'none'}. Goal: {found['goal']}.", ""]
    return out
