"""Pledge intake benchmark (issue 4): single-pledge intake against a bare FastAPI endpoint that inserts the
same row with no validation and no outbox, in the same run; then a 10,000-row bulk import.

    .venv/bin/python -m bench.pledges            # prints a Markdown section and writes bench/results/*.json
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.run import BENCH_PORTS
from deploy.stack import REPO, LocalStack
from services.common.auth import Role, issue_token
from services.common.settings import Settings

BARE_PORT = 48011
STATES = ["GHA", "SEN", "NPL", "BGD", "JOR", "RWA", "IND", "EGY", "FRA", "CAN"]


def _body(n: int) -> dict[str, Any]:
    state = STATES[n % len(STATES)]
    return {
        "member_state": state,
        "kind": "gender_parity",
        "title": f"Women in formed police units, step {n} {uuid.uuid4().hex[:6]}",
        "text": "Benchmark pledge.",
        "terms": {
            "indicator": "share of women",
            "target": "30",
            "unit": "percent",
            "target_date": "2030-12-31",
        },
    }


async def _load(url: str, count: int, concurrency: int) -> dict[str, Any]:
    tokens = {s: issue_token(Settings(), Role.STATE_FOCAL_POINT, s) for s in STATES}
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    clients = [httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=4)) for _ in range(8)]

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while not queue.empty():
            n = queue.get_nowait()
            body = _body(n)
            started = time.perf_counter()
            response = await client.post(
                url, json=body, headers={"Authorization": f"Bearer {tokens[body['member_state']]}"}
            )
            latencies.append(time.perf_counter() - started)
            if response.status_code not in (200, 201):
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(clients[i % len(clients)]) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    latencies.sort()
    return {
        "requests": count,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "per_s": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
    }


def _rss_peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
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
    token = issue_token(Settings(), Role.PLANNER)
    async with httpx.AsyncClient(timeout=300) as client:
        started = time.perf_counter()
        response = await client.post(
            url,
            params={"mode": "accept_valid"},
            content=buffer.getvalue().encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        )
        elapsed = time.perf_counter() - started
    report = response.json()
    return {
        "rows": rows,
        "status": response.status_code,
        "seconds": round(elapsed, 2),
        "accepted": report.get("accepted"),
        "rejected": len(report.get("rejected", [])),
    }


def main() -> int:
    run_dir = REPO / ".run" / "bench-pledges"
    shutil.rmtree(run_dir, ignore_errors=True)
    stack = LocalStack(run_dir, BENCH_PORTS, echo=lambda line: print(line, file=sys.stderr))
    stack.acquire()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(),
        "command": "python -m bench.pledges",
        "load_before": os.getloadavg(),
    }
    try:
        stack.start_infrastructure()
        api = stack.start_service("pledges")
        bare = stack.spawn(
            "bare-intake",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.bare_intake:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(BARE_PORT),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            stack.env(
                BARE_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{BENCH_PORTS.postgres}/uncops_pledges"
            ),
        )
        stack.wait_for("bare-intake", lambda: _up(BARE_PORT), 60)
        api_url = f"http://127.0.0.1:{BENCH_PORTS.pledges}/pledges"
        bare_url = f"http://127.0.0.1:{BARE_PORT}/pledges"
        asyncio.run(_load(api_url, 200, 16))  # warm-up of both
        asyncio.run(_load(bare_url, 200, 16))
        rounds = []
        for _ in range(2):
            rounds.append(
                {"bare": asyncio.run(_load(bare_url, 3000, 32)), "api": asyncio.run(_load(api_url, 3000, 32))}
            )
        best_api = max(r["api"]["per_s"] for r in rounds)
        best_bare = max(r["bare"]["per_s"] for r in rounds)
        results["intake"] = {"rounds": rounds, "ratio": round(best_api / best_bare, 2), "goal": ">= 0.7"}
        results["bulk_import"] = asyncio.run(_import(f"{api_url}/import", 10_000))
        results["bulk_import"]["api_peak_rss_mib"] = _rss_peak_mib(api.popen.pid)
        results["bare_pid_rss_mib"] = _rss_peak_mib(bare.popen.pid)
    finally:
        stack.stop_all()
        stack.release()
    out = REPO / "bench" / "results" / f"pledges-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
