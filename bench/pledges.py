"""Pledge intake benchmarks (issue 4), run by ``make bench`` (bench/run.py):

- ``pledges_intake``: single-pledge intake (``POST /pledges``) against a bare FastAPI endpoint that inserts
  the same row with no validation, authentication, duplicate check or outbox (bench/bare_intake.py), in the
  same run, rounds alternating bare and API;
- ``pledges_import``: one bulk import of 10,000 CSV rows, its time and the API's peak memory.

    .venv/bin/python -m bench.run --only pledges_intake --only pledges_import
"""

from __future__ import annotations

import asyncio
import csv
import io
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.common import cpu_snapshot, cpu_usage, process_cpu_seconds
from deploy.stack import LocalStack
from services.common.auth import Role, issue_token
from services.common.settings import Settings

T = TypeVar("T")
LoopRunner = Callable[[Coroutine[Any, Any, T]], T]

STATES = ["GHA", "SEN", "NPL", "BGD", "JOR", "RWA", "IND", "EGY", "FRA", "CAN"]
GOAL_RATIO = 0.7
BARE_PORT_SHIFT = 10  # the bare endpoint listens on the pledges API's port + 10
CLIENTS = 8
WARMUP = 200


def _body(n: int) -> dict[str, Any]:
    state = STATES[n % len(STATES)]
    return {
        "member_state": state,
        "kind": "gender_parity",
        # Look-alike titles on purpose: every one shares most of its letter pairs with every other of its
        # State, the hardest case for the duplicate check (each stored title is a plausible duplicate).
        "title": f"Women in formed police units, step {n} {uuid.uuid4().hex[:6]}",
        "text": "Benchmark pledge.",
        "terms": {
            "indicator": "share of women",
            "target": "30",
            "unit": "percent",
            "target_date": "2030-12-31",
        },
    }


async def _load(url: str, start: int, count: int, concurrency: int) -> dict[str, Any]:
    tokens = {s: issue_token(Settings(), Role.STATE_FOCAL_POINT, s) for s in STATES}
    latencies: list[float] = []
    errors: dict[str, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(start, start + count):
        queue.put_nowait(n)
    clients = [
        httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency // CLIENTS or 1))
        for _ in range(CLIENTS)
    ]

    retries = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal retries
        while not queue.empty():
            body = _body(queue.get_nowait())
            headers = {"Authorization": f"Bearer {tokens[body['member_state']]}"}
            started = time.perf_counter()
            try:
                response = await client.post(url, json=body, headers=headers)
            except httpx.TransportError:
                # A kept-alive connection the server closed as the request went out: sent again once,
                # counted (the pledges stored are counted too, so a double insert would show).
                retries += 1
                response = await client.post(url, json=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 201:
                errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(clients[i % CLIENTS]) for i in range(concurrency)))
    finally:
        for client in clients:
            await client.aclose()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": count,
        "errors": errors,
        "transport_retries": retries,
        "seconds": round(elapsed, 2),
        "per_s": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 1),
    }


_LOAD_GENERATOR = "this process (bench.run: load generator, producer, relay)"  # cpu_snapshot's name


def _round(
    kind: str,
    url: str,
    pids: dict[str, tuple[int, bool]],
    start: int,
    count: int,
    concurrency: int,
    run: LoopRunner[Any],
) -> dict[str, Any]:
    """One timed round against ``url``; ``pids`` names the server (``kind``) and the servers behind it.

    Both kinds share one 2-core machine with the load generator, so besides the rate the round reports
    where the CPU went, per request: the machine's busy time and each process's share.
    """
    before, started = cpu_snapshot(pids), time.monotonic()
    result: dict[str, Any] = run(_load(url, start, count, concurrency))
    seconds = time.monotonic() - started
    cpu = cpu_usage(before, cpu_snapshot(pids), seconds)
    result["kind"] = kind
    result["server_cores"] = cpu["cores_used"][kind]
    per_request = {
        name: round(cores * seconds * 1000 / count, 2)
        for name, cores in cpu["cores_used"].items()
        if name in pids or name == _LOAD_GENERATOR
    }
    result["server_cpu_ms_per_request"] = per_request.pop(kind)
    result["cpu_ms_per_request"] = {"load generator": per_request.pop(_LOAD_GENERATOR), **per_request}
    busy = cpu["machine_share"].get("busy", 0.0) * (cpu["machine_cores"] or 1)
    result["machine_cpu_ms_per_request"] = round(busy * seconds * 1000 / count, 2)
    result["machine_share"] = cpu["machine_share"]
    return result


async def _outbox_rows(dsn: str) -> int:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM outbox"))
    finally:
        await conn.close()


def _drain(dsn: str, api_pid: int, run: LoopRunner[Any], timeout: float = 300) -> float:
    """Seconds until the API's own downstream work is done: its outbox published, and its process quiet
    (under 3 % of a core for a second: its relay and consumers are idle). Each round
    starts from a quiet machine, so the bare endpoint is not slowed by work the API left behind."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = process_cpu_seconds(api_pid)
        time.sleep(1)
        if process_cpu_seconds(api_pid) - before < 0.03 and run(_outbox_rows(dsn)) == 0:
            return round(time.monotonic() - started, 1)
    raise RuntimeError(f"the pledges API did not catch up within {timeout:.0f} s")


async def _pledge_counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS pledges, count(*) FILTER (WHERE cardinality(possible_duplicate_of) > 0)"
            " AS flagged FROM pledge WHERE submitted_by <> 'bare'"
        )
        bare = await conn.fetchval("SELECT count(*) FROM pledge WHERE submitted_by = 'bare'")
    finally:
        await conn.close()
    assert row is not None
    return {"api_pledges": row["pledges"], "api_flagged_duplicates": row["flagged"], "bare_pledges": bare}


_COUNTED = (
    "uncops_outbox_published_total",  # the relay's events...
    "uncops_outbox_batch_seconds_count",  # ...and batches
    "uncops_pledge_intake_batch_size_sum",  # submissions stored...
    "uncops_pledge_intake_batch_size_count",  # ...and the statements that stored them
)


def _counters(port: int) -> tuple[float, ...]:
    """The API's counts of _COUNTED so far, from its /metrics."""
    families = text_string_to_metric_families(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
    found = {sample.name: sample.value for family in families for sample in family.samples}
    return tuple(found.get(name, 0.0) for name in _COUNTED)


def _dsn(stack: LocalStack) -> str:
    return f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/uncops_pledges"


def pledges_intake(
    stack: LocalStack,
    requests: int,
    rounds: int,
    concurrency: int,
    echo: Callable[[str], None],
    loop_runner: LoopRunner[Any],
) -> dict[str, Any]:
    bare_port = stack.ports.pledges + BARE_PORT_SHIFT
    api = stack.start_service("pledges")  # with its in-process relay and consumers
    bare = stack.spawn(
        "bare-intake",
        [
            sys.executable, "-m", "uvicorn", "bench.bare_intake:app", "--host", "127.0.0.1",
            "--port", str(bare_port), "--log-level", "warning", "--no-access-log",
        ],
        stack.env(BARE_DATABASE_URL=_dsn(stack)),
    )  # fmt: skip
    try:
        stack.wait_for("bare-intake", lambda: _up(bare_port), 60)
        api_url = f"http://127.0.0.1:{stack.ports.pledges}/pledges"
        bare_url = f"http://127.0.0.1:{bare_port}/pledges"
        echo(f"  warm-up: {WARMUP} requests each")
        loop_runner(_load(api_url, 0, WARMUP, 16))
        loop_runner(_load(bare_url, 0, WARMUP, 16))
        runs = []
        next_n = WARMUP
        _drain(_dsn(stack), api.popen.pid, loop_runner)
        behind = {
            "PostgreSQL": (stack.processes["postgres"].popen.pid, True),
            "Kafka": (stack.processes["kafka"].popen.pid, False),
        }
        for number in range(1, rounds + 1):
            for kind, url, pid in (("bare", bare_url, bare.popen.pid), ("api", api_url, api.popen.pid)):
                pids = {kind: (pid, False), **behind}
                counted_before = _counters(stack.ports.pledges)
                result = _round(kind, url, pids, next_n, requests, concurrency, loop_runner)
                result["round"] = number
                if kind == "api":
                    # The relay (and any consumer work) runs on after the last answer.
                    cpu_before = process_cpu_seconds(pid)
                    result["caught_up_after_s"] = _drain(_dsn(stack), pid, loop_runner)
                    result["server_cpu_ms_per_request_after"] = round(
                        (process_cpu_seconds(pid) - cpu_before) * 1000 / requests, 2
                    )
                    # Kafka's cost is mostly per produce request (about 1 ms of broker CPU each, measured
                    # here), so the relay's batch size shows in the Kafka column.
                    published, batches, submissions, statements = (
                        after - before
                        for after, before in zip(_counters(stack.ports.pledges), counted_before, strict=True)
                    )
                    result["relay_events_per_batch"] = round(published / batches, 1) if batches else None
                    result["submissions_per_insert"] = (
                        round(submissions / statements, 1) if statements else None
                    )
                runs.append(result)
                echo(
                    f"  round {number} {kind}: {result['per_s']}/s, p99 {result['p99_ms']} ms, "
                    f"server {result['server_cpu_ms_per_request']} ms CPU per request"
                    f" (machine {result['machine_cpu_ms_per_request']}: "
                    + ", ".join(f"{name} {ms}" for name, ms in result["cpu_ms_per_request"].items())
                    + ")"
                    + (
                        f", caught up {result['caught_up_after_s']} s later,"
                        f" relay {result['relay_events_per_batch']} events per batch,"
                        f" {result['submissions_per_insert']} submissions per insert"
                        if kind == "api"
                        else ""
                    )
                )
            next_n += requests
        counts = loop_runner(_pledge_counts(_dsn(stack)))
    finally:
        stack.stop("bare-intake")
        stack.stop("pledges")
    best = {kind: max(r["per_s"] for r in runs if r["kind"] == kind) for kind in ("api", "bare")}
    ratio = round(best["api"] / best["bare"], 2)
    # Also each API round over the bare round just before it: the machine's speed drifts within a run
    # (by a fifth, measured), and neighbouring rounds share its state. Reported beside the verdict.
    paired = [round(a["per_s"] / b["per_s"], 2) for b, a in zip(runs[::2], runs[1::2], strict=True)]
    return {
        "requests_per_round": requests,
        "rounds": rounds,
        "concurrency": concurrency,
        "clients": CLIENTS,
        "warmup": WARMUP,
        "expected_pledges_each": WARMUP + rounds * requests,
        "runs": runs,
        "best_api_per_s": best["api"],
        "best_bare_per_s": best["bare"],
        "ratio": ratio,
        "paired_ratios": paired,
        "paired_median": statistics.median(paired),
        "goal": GOAL_RATIO,
        **counts,
        "passed": ratio >= GOAL_RATIO and not any(r["errors"] for r in runs),
    }


def _rss_peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def _import(url: str, rows: int) -> dict[str, Any]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["member_state", "kind", "title", "target_date"])
    for n in range(rows):
        writer.writerow(
            [
                STATES[n % len(STATES)],
                "equipment_training",
                f"Bulk pledge {n} {uuid.uuid4().hex}",
                "2031-06-30",
            ]
        )
    body = buffer.getvalue().encode()
    token = issue_token(Settings(), Role.PLANNER)
    async with httpx.AsyncClient(timeout=600) as client:
        started = time.perf_counter()
        response = await client.post(
            url,
            params={"mode": "accept_valid"},
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        )
        elapsed = time.perf_counter() - started
    report = response.json()
    return {
        "rows": rows,
        "body_mib": round(len(body) / 2**20, 2),
        "status": response.status_code,
        "seconds": round(elapsed, 2),
        "accepted": report.get("accepted"),
        "rejected": len(report.get("rejected", [])),
        "flagged_duplicates": len(report.get("possible_duplicates", [])),
    }


def pledges_import(
    stack: LocalStack, rows: int, echo: Callable[[str], None], loop_runner: LoopRunner[Any]
) -> dict[str, Any]:
    """A fresh API process, so its peak RSS (VmHWM) is the import's, not an earlier load's."""
    api = stack.start_service("pledges")
    try:
        rss_before = _rss_mib(api.popen.pid)
        echo(f"  importing {rows:,} CSV rows in one request (accept_valid)")
        cpu_before = process_cpu_seconds(api.popen.pid)
        result: dict[str, Any] = loop_runner(
            _import(f"http://127.0.0.1:{stack.ports.pledges}/pledges/import", rows)
        )
        result["api_cpu_seconds"] = round(process_cpu_seconds(api.popen.pid) - cpu_before, 2)
        result["api_rss_before_mib"] = rss_before
        result["api_peak_rss_mib"] = _rss_peak_mib(api.popen.pid)
        result["stored_pledges_after"] = loop_runner(_pledge_counts(_dsn(stack)))["api_pledges"]
    finally:
        stack.stop("pledges")
    result["passed"] = result["status"] == 201 and result["accepted"] == rows
    return result


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# ---- reporting (bench/run.py's summary table and BENCHMARKS.md)


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    table = []
    intake = results["benchmarks"].get("pledges_intake")
    if intake is not None:
        if "error" in intake:
            table.append(
                ("pledges: intake vs bare endpoint", f"error: {intake['error']}", "ratio >= 0.7", "FAIL")
            )
        else:
            api = max((r for r in intake["runs"] if r["kind"] == "api"), key=lambda r: r["per_s"])
            table.append(
                (
                    "pledges: intake vs bare endpoint",
                    f"{intake['ratio']:.2f} (API {intake['best_api_per_s']:,.1f}/s "
                    f"p99 {api['p99_ms']:,.1f} ms, bare {intake['best_bare_per_s']:,.1f}/s, "
                    f"best of {intake['rounds']}; paired median {intake.get('paired_median', 0):.2f})",
                    f"ratio >= {intake['goal']}",
                    "PASS" if intake["passed"] else "FAIL",
                )
            )
    bulk = results["benchmarks"].get("pledges_import")
    if bulk is not None:
        if "error" in bulk:
            table.append(
                ("pledges: bulk import of 10,000", f"error: {bulk['error']}", "all rows stored", "FAIL")
            )
        else:
            table.append(
                (
                    f"pledges: bulk import of {bulk['rows']:,}",
                    f"{bulk['seconds']:,.2f} s, {bulk['accepted']:,} accepted; API peak RSS "
                    f"{bulk['api_peak_rss_mib']:,.1f} MiB",
                    "all rows stored; time and memory recorded",
                    "PASS" if bulk["passed"] else "FAIL",
                )
            )
    return table


# The story of how the intake got here, run by run, is docs/decisions/0002-pledge-intake-path.md.
CAUSE = [
    "How the API got here, run by run with the figures of each: "
    "[docs/decisions/0002-pledge-intake-path.md](docs/decisions/0002-pledge-intake-path.md).",
]


def markdown_sections(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
    intake = results["benchmarks"].get("pledges_intake")
    bulk = results["benchmarks"].get("pledges_import")
    when = (
        f"Run {results['started_at']} (`{results['command']}`; load average before "
        f"{results['load_average_at_start']})."
    )
    if intake is not None and "error" not in intake:
        out += [
            "## 6. Pledge intake against a bare endpoint (issue 4)",
            "",
            when,
            "",
            "Goal: `POST /pledges` at least 0.7 of the requests per second of a bare FastAPI endpoint "
            "(bench/bare_intake.py) that inserts the same row with asyncpg and no validation, "
            "authentication, idempotency, duplicate check or outbox, in the same run. The pledges API runs "
            "as a process with its in-process outbox relay and consumers, as `make run` starts it; requests "
            "carry a focal point's token. After each API round the benchmark waits until the API's outbox "
            'is published and its process is quiet ("caught up"), so the next bare round does not run '
            "beside work the API left behind. Load: "
            f"{intake['requests_per_round']:,} requests per round, {intake['concurrency']} in flight over "
            f"{intake['clients']} httpx clients; rounds alternate bare and API after a warm-up of "
            f"{intake['warmup']} each; the titles look alike (the duplicate check's hardest case). Server "
            "CPU per request = the server process's CPU time over the round / requests; machine CPU per "
            "request = the whole machine's busy time over the round / requests, with the load generator's, "
            "PostgreSQL's (all its processes) and the Kafka broker's shares. The load generator shares the "
            "machine's 2 cores: in bare rounds it is the bottleneck (one core, its own), in API rounds the "
            "machine as a whole is.",
            "",
            "| round | kind | req/s | p50 ms | p99 ms | server cores | server CPU ms per request | "
            "machine CPU ms per request (load generator, PostgreSQL, Kafka) | machine busy / steal | "
            "caught up after | relay events per batch; submissions per insert | errors; transport retries |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *[
                f"| {r['round']} | {r['kind']} | {r['per_s']:,.1f} | {r['p50_ms']:,.1f} | "
                f"{r['p99_ms']:,.1f} | {r['server_cores']:.2f} | {r['server_cpu_ms_per_request']:.2f} | "
                + (
                    f"{r['machine_cpu_ms_per_request']:.2f} ("
                    + ", ".join(f"{ms:.2f}" for ms in r["cpu_ms_per_request"].values())
                    + ") | "
                    if "machine_cpu_ms_per_request" in r
                    else "| "
                )
                + f"{r['machine_share'].get('busy', 0) * 100:.0f} % / "
                f"{r['machine_share'].get('steal', 0) * 100:.0f} % | "
                + (f"{r['caught_up_after_s']} s | " if "caught_up_after_s" in r else "| ")
                + (
                    f"{r['relay_events_per_batch']}; {r['submissions_per_insert']} | "
                    if "relay_events_per_batch" in r
                    else "| "
                )
                + f"{r['errors'] or 'none'}; {r['transport_retries']} sent again |"
                for r in intake["runs"]
            ],
            "",
            f"Ratio (best API / best bare): **{intake['ratio']:.2f}** (goal >= {intake['goal']}): "
            f"**{'PASS' if intake['passed'] else 'FAIL'}**."
            + (
                " Each API round over the bare round before it: "
                f"{', '.join(map(str, intake['paired_ratios']))} (median {intake['paired_median']:.2f}; "
                "the machine's speed drifts within a run)."
                if "paired_ratios" in intake
                else ""
            )
            + f" Stored by the API: {intake['api_pledges']:,} "
            f"pledges, {intake['api_flagged_duplicates']:,} flagged as possible duplicates; by the bare "
            f"endpoint {intake['bare_pledges']:,} (each sent {intake['expected_pledges_each']:,}).",
            "",
            *CAUSE,
            "",
        ]
    if bulk is not None and "error" not in bulk:
        out += [
            f"## 7. Pledges: bulk import of {bulk['rows']:,} (issue 4)",
            "",
            when,
            "",
            f"Bulk import: {bulk['rows']:,} CSV rows ({bulk['body_mib']} MiB) in one "
            "`POST /pledges/import?mode=accept_valid` to a freshly started API, after the intake rounds.",
            "",
            "| rows | status | seconds | API CPU seconds | accepted | rejected | flagged duplicates | "
            "API RSS before | API peak RSS (VmHWM) |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {bulk['rows']:,} | {bulk['status']} | {bulk['seconds']:,.2f} | "
            f"{bulk['api_cpu_seconds']:,.2f} | {bulk['accepted']:,} | "
            f"{bulk['rejected']:,} | {bulk['flagged_duplicates']:,} | "
            f"{bulk['api_rss_before_mib']:,.1f} MiB | {bulk['api_peak_rss_mib']:,.1f} MiB |",
            "",
        ]
    return out
