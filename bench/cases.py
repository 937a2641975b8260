"""Benchmarks of misconduct case tracking (issue 3): throughput, live timers, list and statistics queries.

``cases_throughput``: cases opened over HTTP (``POST /cases``) and taken through five transitions each
(start_assessment, refer_for_investigation, extend_deadline, record_finding substantiated,
record_un_action), at most ``concurrency`` cases in flight; completed cases/s and each step's latency.
Against it, in the same run and on the same Temporal server: plain Temporal workflows
(bench/plain_workflow.py) started by this process and taken through five Updates, each running one
activity that does one INSERT, by a worker in its own process on its own task queue; workflows/s. Rounds
alternate plain, cases (best of each). Goal: cases/s >= 0.5 x plain workflows/s.

``cases_timers``: ``count`` open cases with a live deadline timer each. Case rows are inserted directly
(the state ``open_case`` then ``apply(start_assessment)`` give), each CaseWorkflow is started through the
Temporal client with that case and referred for investigation through its ``act`` Update (the real
activity stores the referral), so every workflow sleeps on a deadline: the investigation's, or for a formed
police unit's case referred to its country, the 10-working-day reply's. Then, over
``sample_seconds``: the cases worker's and the Temporal server's RSS (/proc/<pid>/status VmRSS) and CPU;
``temporal operator cluster health``; and a new case opened and stepped over HTTP, compared with the same
probe before the load.

``cases_queries``: ``total`` cases in case_file (bulk COPY of synthetic rows, bench/case_data.py), then
``GET /cases`` with five filter combinations, first page and second page (through the cursor), and
``GET /cases/statistics`` by year and mission and by nationality and result (sums over the case_statistics
summary that case_file's triggers keep), each ``repeats`` times, sequentially over HTTP against the running
API. Goal: p99 < 50 ms. The SQL of every query is then captured
from PostgreSQL with auto_explain (EXPLAIN ANALYZE of the very statement the API sent), and the write
path's queries too, since every change of a case runs them over the same table. For a query that misses,
a candidate index is tried in a transaction that is rolled back (the migrations are left alone).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.case_data import COLUMNS, COUNTRIES, OFFICER, Templates, case_rows, check_row, intake_body
from bench.common import cpu_snapshot, cpu_usage, summary_ms
from bench.plain_workflow import DATABASE as PLAIN_DATABASE
from bench.plain_workflow import SCRATCH_TABLE, STEPS, PlainWorkflow
from bench.plain_workflow import TASK_QUEUE as PLAIN_QUEUE
from services.common.auth import Role, issue_token
from services.common.settings import Settings

GOAL_RATIO = 1.0  # issue 19: at least as fast as the plain baseline (it was 0.5 before)
GOAL_QUERY_P99_MS = 50.0
# A new case's step after the timers are live is "normal" within this factor of the same step before.
TIMER_STEP_FACTOR = 3.0
TIMER_STEP_SLACK_MS = 50.0
WORKER_RSS_LIMIT_MIB = 1024
RSS_GROWTH_LIMIT = 0.10
KEEPALIVE_EXPIRY = 4.0  # below uvicorn's keep-alive timeout, as in bench/latency.py
CONNECTIONS_PER_CLIENT = 8  # see bench/latency.py: several small httpx clients, not one large one
TODAY = datetime.now(UTC).date()


def transitions() -> list[tuple[str, dict[str, Any]]]:
    today = str(datetime.now(UTC).date())
    return [
        ("start_assessment", {}),
        ("refer_for_investigation", {}),
        ("extend_deadline", {"kind": "investigation", "days": 30, "reason": "Synthetic: witness travel"}),
        ("record_finding", {"finding": "substantiated", "summary": "Synthetic finding."}),
        ("record_un_action", {"taken": "repatriation", "on": today, "note": "Synthetic."}),
    ]


def rss_mib(pid: int) -> float | None:
    """Resident set size of ``pid`` in MiB (VmRSS of /proc/<pid>/status), None when it is gone."""
    try:
        match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    except OSError:
        return None
    return round(int(match.group(1)) / 1024, 1) if match else None


def officer_headers() -> dict[str, str]:
    token = issue_token(Settings(), Role.CONDUCT_OFFICER, subject="bench-cdo")
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _clients(base_url: str, headers: dict[str, str], concurrency: int) -> list[httpx.AsyncClient]:
    per_client = min(CONNECTIONS_PER_CLIENT, concurrency)
    limits = httpx.Limits(
        max_connections=per_client, max_keepalive_connections=per_client, keepalive_expiry=KEEPALIVE_EXPIRY
    )
    return [
        httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60)
        for _ in range(-(-concurrency // per_client))
    ]


class Refused(Exception):
    """The service answered a benchmark request with an unexpected status."""


async def _call(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], expect: int
) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    response = await client.post(path, content=json.dumps(body).encode())
    elapsed = time.perf_counter() - started
    if response.status_code != expect:
        raise Refused(f"{path} {body.get('action', 'open')}: {response.status_code} {response.text[:300]}")
    return dict(response.json()), elapsed


async def _case_through(
    client: httpx.AsyncClient, body: dict[str, Any], samples: dict[str, list[float]]
) -> str:
    """Open one case and take it through the five transitions, recording each step's latency."""
    opened, elapsed = await _call(client, "/cases", body, 201)
    samples["open"].append(elapsed)
    case_id = str(opened["case_id"])
    for action, fields in transitions():
        _, elapsed = await _call(client, f"/cases/{case_id}/actions", {"action": action, **fields}, 200)
        samples[action].append(elapsed)
    return case_id


# ---------------------------------------------------------------- 1. throughput


async def _cases_round(
    base_url: str, n: int, concurrency: int, time_limit: float, seed: int, pids: dict[str, tuple[int, bool]]
) -> dict[str, Any]:
    rng = random.Random(seed)
    bodies = [intake_body(rng, TODAY, i) for i in range(n)]
    samples: dict[str, list[float]] = {"open": [], **{action: [] for action, _ in transitions()}}
    per_case: list[float] = []
    errors: dict[str, int] = {}
    error_examples: list[str] = []
    clients = _clients(base_url, officer_headers(), concurrency)
    next_index = 0
    completed = 0

    async def lane(k: int) -> None:
        nonlocal next_index, completed
        client = clients[k % len(clients)]
        while next_index < n and time.perf_counter() < give_up:
            body = bodies[next_index]
            next_index += 1
            started = time.perf_counter()
            try:
                await _case_through(client, body, samples)
            except (httpx.HTTPError, Refused) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                if len(error_examples) < 3:
                    error_examples.append(str(exc)[:400])
                continue
            per_case.append(time.perf_counter() - started)
            completed += 1

    try:
        cpu_before, started = cpu_snapshot(pids), time.perf_counter()
        give_up = started + time_limit
        await asyncio.wait_for(asyncio.gather(*(lane(k) for k in range(concurrency))), time_limit + 120)
        elapsed = time.perf_counter() - started
        cpu = cpu_usage(cpu_before, cpu_snapshot(pids), elapsed)
    finally:
        for client in clients:
            await client.aclose()
    return {
        "kind": "cases",
        "cases": n,
        "completed": completed,
        "seconds": round(elapsed, 2),
        "per_s": round(completed / elapsed, 2),
        "steps_per_s": round(completed * (1 + len(transitions())) / elapsed, 1),
        "errors": errors,
        "error_examples": error_examples,
        "step_ms": {name: summary_ms(values) for name, values in samples.items()},
        "case_ms": summary_ms(per_case),
        "cpu": cpu,
    }


async def _plain_round(
    address: str, n: int, concurrency: int, time_limit: float, tag: str, pids: dict[str, tuple[int, bool]]
) -> dict[str, Any]:
    from temporalio.client import Client

    client = await asyncio.wait_for(Client.connect(address), 30)
    samples: dict[str, list[float]] = {"start": [], **{f"update {s}": [] for s in range(1, STEPS + 1)}}
    per_workflow: list[float] = []
    errors: dict[str, int] = {}
    error_examples: list[str] = []
    next_index = 0
    completed = 0

    async def one(index: int) -> None:
        started = time.perf_counter()
        handle = await client.start_workflow(
            PlainWorkflow.run, id=f"bench-plain-{tag}-{index}", task_queue=PLAIN_QUEUE
        )
        samples["start"].append(time.perf_counter() - started)
        for step in range(1, STEPS + 1):
            step_started = time.perf_counter()
            await handle.execute_update(PlainWorkflow.step, step)
            samples[f"update {step}"].append(time.perf_counter() - step_started)
        per_workflow.append(time.perf_counter() - started)

    async def lane() -> None:
        nonlocal next_index, completed
        while next_index < n and time.perf_counter() < give_up:
            index = next_index
            next_index += 1
            try:
                await one(index)
            except Exception as exc:  # any client or update failure counts; the run goes on
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                if len(error_examples) < 3:
                    error_examples.append(repr(exc)[:400])
                continue
            completed += 1

    cpu_before, started = cpu_snapshot(pids), time.perf_counter()
    give_up = started + time_limit
    await asyncio.wait_for(asyncio.gather(*(lane() for _ in range(concurrency))), time_limit + 120)
    elapsed = time.perf_counter() - started
    return {
        "kind": "plain",
        "workflows": n,
        "completed": completed,
        "seconds": round(elapsed, 2),
        "per_s": round(completed / elapsed, 2),
        "steps_per_s": round(completed * (1 + STEPS) / elapsed, 1),
        "errors": errors,
        "error_examples": error_examples,
        "step_ms": {name: summary_ms(values) for name, values in samples.items()},
        "workflow_ms": summary_ms(per_workflow),
        "cpu": cpu_usage(cpu_before, cpu_snapshot(pids), elapsed),
    }


async def _scratch_database(postgres_port: int) -> str:
    admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{postgres_port}/postgres", timeout=10)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PLAIN_DATABASE):
            await admin.execute(f'CREATE DATABASE "{PLAIN_DATABASE}"')
    finally:
        await admin.close()
    dsn = f"postgresql://postgres@127.0.0.1:{postgres_port}/{PLAIN_DATABASE}"
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(SCRATCH_TABLE)
    finally:
        await conn.close()
    return dsn


async def _scratch_rows(dsn: str) -> int:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM bench_plain_step"))
    finally:
        await conn.close()


async def _queue_polled(address: str, queue: str) -> bool:
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
    from temporalio.client import Client

    try:
        client = await asyncio.wait_for(Client.connect(address), 3)
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace="default",
                task_queue=TaskQueue(name=queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        return len(response.pollers) > 0
    except Exception:
        return False


def cases_throughput(
    stack: Any,
    cases: int = 200,
    concurrency: int = 16,
    rounds: int = 2,
    warmup: int = 4,
    time_limit: float = 600,
    echo: Callable[[str], None] = print,
    loop_runner: Callable[[Any], Any] = asyncio.run,
) -> dict[str, Any]:
    """Runs against ``stack`` (started infrastructure): starts the cases worker and API and the plain
    worker, measures, stops them."""
    address = f"127.0.0.1:{stack.ports.temporal}"
    base_url = f"http://127.0.0.1:{stack.ports.cases}"
    dsn = loop_runner(_scratch_database(stack.ports.postgres))
    runs: list[dict[str, Any]] = []
    try:
        worker = stack.start_service("cases", "worker")
        api = stack.start_service("cases")  # with its in-process outbox relay, the default
        plain = stack.spawn(
            "bench-plain-worker",
            [sys.executable, "-m", "bench.plain_workflow", "--address", address, "--dsn", dsn],
        )
        stack.wait_for("bench-plain-worker", lambda: asyncio.run(_queue_polled(address, PLAIN_QUEUE)), 60)
        pids = {
            "cases API + in-process relay": (api.popen.pid, False),
            "cases worker": (worker.popen.pid, False),
            "plain worker (bench.plain_workflow)": (plain.popen.pid, False),
            "PostgreSQL (all backends)": (stack.processes["postgres"].popen.pid, True),
            "Temporal dev server": (stack.processes["temporal"].popen.pid, True),
            "Kafka broker": (stack.processes["kafka"].popen.pid, False),
        }
        # Warm-up, not timed: connections, caches, the first workflow tasks of each kind.
        warm_cases = loop_runner(_cases_round(base_url, warmup, min(warmup, concurrency), 120, 1, pids))
        warm_plain = loop_runner(_plain_round(address, warmup, min(warmup, concurrency), 120, "warmup", pids))
        for warm in (warm_cases, warm_plain):
            if warm["completed"] != warmup:
                raise RuntimeError(f"warm-up failed: {warm['errors']} {warm['error_examples']}")
        for round_no in range(1, rounds + 1):
            plain_run = loop_runner(
                _plain_round(address, cases, concurrency, time_limit, f"r{round_no}", pids)
            )
            runs.append({"round": round_no, **plain_run})
            echo(
                f"  round {round_no} plain workflows: {plain_run['per_s']:.1f} workflows/s "
                f"({plain_run['completed']}/{cases}, {plain_run['seconds']:.0f}s)"
            )
            cases_run = loop_runner(
                _cases_round(base_url, cases, concurrency, time_limit, 1000 + round_no, pids)
            )
            runs.append({"round": round_no, **cases_run})
            echo(
                f"  round {round_no} cases:           {cases_run['per_s']:.1f} cases/s "
                f"({cases_run['completed']}/{cases}, {cases_run['seconds']:.0f}s)"
            )
        scratch = loop_runner(_scratch_rows(dsn))
    finally:
        stack.stop("bench-plain-worker")
        stack.stop("cases")
        stack.stop("cases-worker")
    best_plain = max(r["per_s"] for r in runs if r["kind"] == "plain")
    best_cases = max(r["per_s"] for r in runs if r["kind"] == "cases")
    complete = all(r["completed"] == cases and not r["errors"] for r in runs)
    expected_rows = (warmup + cases * rounds) * STEPS
    ratio = best_cases / best_plain if best_plain else 0.0
    return {
        "goal": f"cases/s >= {GOAL_RATIO} x plain workflows/s",
        "passed": complete and scratch == expected_rows and ratio >= GOAL_RATIO,
        "ratio": round(ratio, 3),
        "cases_per_s": best_cases,
        "plain_workflows_per_s": best_plain,
        "cases": cases,
        "concurrency": concurrency,
        "rounds": rounds,
        "warmup": warmup,
        "transitions": [action for action, _ in transitions()],
        "plain_scratch_rows": scratch,
        "plain_scratch_rows_expected": expected_rows,
        "runs": runs,
    }


# ---------------------------------------------------------------- 2. live timers


async def _probe(base_url: str, probes: int, seed: int) -> dict[str, Any]:
    """Open ``probes`` cases one after the other and step each twice; latencies of each kind."""
    rng = random.Random(seed)
    opened: list[float] = []
    stepped: list[float] = []
    referred: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, headers=officer_headers(), timeout=60) as client:
        for i in range(probes):
            case, elapsed = await _call(client, "/cases", intake_body(rng, TODAY, i), 201)
            opened.append(elapsed)
            path = f"/cases/{case['case_id']}/actions"
            _, elapsed = await _call(client, path, {"action": "start_assessment"}, 200)
            stepped.append(elapsed)
            _, elapsed = await _call(client, path, {"action": "refer_for_investigation"}, 200)
            referred.append(elapsed)
    return {
        "open": summary_ms(opened),
        "start_assessment": summary_ms(stepped),
        "refer": summary_ms(referred),
    }


async def _insert_rows(dsn: str, records: list[tuple[Any, ...]], chunk: int = 5000) -> float:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        started = time.perf_counter()
        for first in range(0, len(records), chunk):
            await conn.copy_records_to_table(
                "case_file", records=records[first : first + chunk], columns=list(COLUMNS)
            )
        return time.perf_counter() - started
    finally:
        await conn.close()


def _timer_cases(count: int, seed: int) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """``count`` cases under preliminary assessment (their rows stored as the service stores them),
    ready to be referred for investigation."""
    from services.cases.domain.commands import StartAssessment
    from services.cases.domain.intake import CaseIntake, open_case
    from services.cases.domain.lifecycle import apply
    from services.cases.store import row_values

    policy = Settings().case_policy
    rng = random.Random(seed)
    now = datetime.now(UTC)
    cases, records = [], []
    for i in range(count):
        intake = CaseIntake.model_validate(intake_body(rng, now.date(), i, investigable=False))
        opened = open_case(str(uuid.uuid4()), f"{intake.mission}-{now.year}-T{i:06d}", intake, now)
        case = apply(opened, StartAssessment(), OFFICER, now, policy).case
        values = {"id": case.case_id, "opened_at": now, **row_values(case, now)}
        values["state"] = json.dumps(values["state"], separators=(",", ":"))
        cases.append(case)
        records.append(tuple(values[c] for c in COLUMNS))
    return cases, records


async def _start_timers(
    stack: Any, cases: list[Any], concurrency: int, time_limit: float, echo: Callable[[str], None]
) -> dict[str, Any]:
    from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
    from temporalio.common import WorkflowIDReusePolicy

    from services.cases.domain.commands import ReferForInvestigation
    from services.cases.gateway import CASE, CaseCommandRequest, CaseStart, workflow_id
    from services.common.temporal import connect
    from workflows.cases.workflows import CaseWorkflow

    settings = Settings(temporal_address=f"127.0.0.1:{stack.ports.temporal}")
    policy = settings.case_policy
    client = await connect(settings)
    starts: list[float] = []
    refers: list[float] = []
    errors: dict[str, int] = {}
    error_examples: list[str] = []
    late: list[str] = []
    next_index = 0
    done = 0

    async def one(case: Any) -> None:
        started = time.perf_counter()
        handle = await client.start_workflow(
            CaseWorkflow.run,
            CaseStart(case=case, policy=policy),
            id=workflow_id(case.case_id),
            task_queue=CASE.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        referred = time.perf_counter()
        starts.append(referred - started)
        request = CaseCommandRequest(command=ReferForInvestigation(), actor=OFFICER, policy=policy)
        update_id = f"refer-{case.case_id}"
        try:
            await handle.execute_update(CaseWorkflow.act, request, id=update_id)
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            # The call gave up waiting, not the Update (4 of 10,000 on two cores at load average 12, the
            # cases all referred in the end): wait for its outcome again, and count it.
            late.append(case.case_id)
            await handle.get_update_handle_for(CaseWorkflow.act, update_id).result()
        refers.append(time.perf_counter() - referred)

    async def lane() -> None:
        nonlocal next_index, done
        while next_index < len(cases) and time.perf_counter() < give_up:
            case = cases[next_index]
            next_index += 1
            try:
                await one(case)
            except Exception as exc:  # counted; the run goes on
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                if len(error_examples) < 3:
                    error_examples.append(repr(exc)[:400])
                continue
            done += 1
            if done % 1000 == 0:
                echo(f"    {done:,} cases live ({time.perf_counter() - started:.0f}s)")

    started = time.perf_counter()
    give_up = started + time_limit
    await asyncio.wait_for(asyncio.gather(*(lane() for _ in range(concurrency))), time_limit + 120)
    elapsed = time.perf_counter() - started
    return {
        "started_and_referred": done,
        "seconds": round(elapsed, 1),
        "per_s": round(done / elapsed, 1),
        "start_workflow_ms": summary_ms(starts),
        "refer_update_ms": summary_ms(refers),
        "errors": errors,
        "error_examples": error_examples,
        "update_calls_timed_out_then_awaited": len(late),
    }


async def _live_state(stack: Any, ids: list[str]) -> dict[str, Any]:
    from services.common.temporal import connect

    settings = Settings(temporal_address=f"127.0.0.1:{stack.ports.temporal}")
    client = await connect(settings)
    healthy = await client.service_client.check_health()
    running = await client.count_workflows("WorkflowType = 'CaseWorkflow' AND ExecutionStatus = 'Running'")
    conn = await asyncpg.connect(
        f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/uncops_cases", timeout=10
    )
    try:
        with_deadline = await conn.fetchval(
            "SELECT count(*) FROM case_file WHERE id = ANY($1::text[]) "
            "AND status IN ('under_investigation', 'awaiting_pcc_reply') AND next_due_at IS NOT NULL",
            ids,
        )
    finally:
        await conn.close()
    return {
        "grpc_health_serving": bool(healthy),
        "running_case_workflows": running.count,
        "benchmark_cases_with_running_deadline": int(with_deadline),
    }


def _cli_health(stack: Any) -> dict[str, Any]:
    binary = Path(sys.executable).parent / "temporal"
    argv = [str(binary), "operator", "cluster", "health", "--address", f"127.0.0.1:{stack.ports.temporal}"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return {"command": " ".join(argv[1:]), "serving": False, "output": repr(exc)}
    output = (result.stdout + result.stderr).strip()
    return {
        "command": "temporal " + " ".join(argv[1:]),
        "serving": result.returncode == 0 and "SERVING" in output and "NOT_SERVING" not in output,
        "output": output[-500:],
    }


def _rss_window(pids: dict[str, int], seconds: float, every: float = 2.0) -> dict[str, Any]:
    series: dict[str, list[float]] = {name: [] for name in pids}
    deadline = time.monotonic() + seconds
    while True:
        for name, pid in pids.items():
            value = rss_mib(pid)
            if value is not None:
                series[name].append(value)
        if time.monotonic() + every > deadline:
            break
        time.sleep(every)
    return {
        name: {
            "first_mib": values[0] if values else None,
            "last_mib": values[-1] if values else None,
            "min_mib": min(values) if values else None,
            "max_mib": max(values) if values else None,
            "growth": round(values[-1] / values[0] - 1, 3) if values else None,
            "samples": len(values),
        }
        for name, values in series.items()
    }


def cases_timers(
    stack: Any,
    count: int = 10_000,
    sample_seconds: float = 60,
    concurrency: int = 32,
    probes: int = 5,
    # For starting them: 10,000 went at 3/s while other stacks shared the two cores (load average 13),
    # at 10/s on a quieter machine; at least 2,400 s.
    time_limit: float | None = None,
    echo: Callable[[str], None] = print,
    loop_runner: Callable[[Any], Any] = asyncio.run,
) -> dict[str, Any]:
    base_url = f"http://127.0.0.1:{stack.ports.cases}"
    dsn = f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/uncops_cases"
    try:
        worker = stack.start_service("cases", "worker")
        api = stack.start_service("cases")
        temporal_pid = stack.processes["temporal"].popen.pid
        rss_pids = {
            "cases worker": worker.popen.pid,
            "Temporal server": temporal_pid,
            "cases API": api.popen.pid,
        }
        loop_runner(_probe(base_url, 2, 7))  # warm-up, not counted
        before = loop_runner(_probe(base_url, probes, 8))
        rss_before = {name: rss_mib(pid) for name, pid in rss_pids.items()}
        echo(f"  building {count:,} cases and inserting their rows")
        cases, records = _timer_cases(count, 2272)
        insert_seconds = loop_runner(_insert_rows(dsn, records))
        del records
        echo(f"  starting {count:,} case workflows and referring each for investigation")
        start_pids = {
            "cases worker": (worker.popen.pid, False),
            "Temporal dev server": (temporal_pid, True),
            "PostgreSQL (all backends)": (stack.processes["postgres"].popen.pid, True),
            "cases API + in-process relay": (api.popen.pid, False),
        }
        cpu_before, start_started = cpu_snapshot(start_pids), time.monotonic()
        limit = time_limit if time_limit is not None else max(2400.0, count / 2.5)
        created = loop_runner(_start_timers(stack, cases, concurrency, limit, echo))
        created["cpu"] = cpu_usage(cpu_before, cpu_snapshot(start_pids), time.monotonic() - start_started)
        echo(
            f"  {created['started_and_referred']:,} live in {created['seconds']:.0f}s; "
            f"sampling {sample_seconds:g}s"
        )
        cpu_pids = {
            "cases worker": (worker.popen.pid, False),
            "Temporal dev server": (temporal_pid, True),
            "cases API + in-process relay": (api.popen.pid, False),
        }
        cpu_before, sampling_started = cpu_snapshot(cpu_pids), time.monotonic()
        window = _rss_window(rss_pids, sample_seconds)
        cpu = cpu_usage(cpu_before, cpu_snapshot(cpu_pids), time.monotonic() - sampling_started)
        cli_health = _cli_health(stack)
        live = loop_runner(_live_state(stack, [c.case_id for c in cases]))
        after = loop_runner(_probe(base_url, probes, 9))
        alive = {name: process.alive for name, process in stack.processes.items()}
    finally:
        stack.stop("cases")
        stack.stop("cases-worker")
    worker_max = window["cases worker"]["max_mib"] or 0.0
    step_before = before["start_assessment"]["p50_ms"] or 0.0
    step_after = after["start_assessment"]["p50_ms"] or float("inf")
    step_limit = max(step_before * TIMER_STEP_FACTOR, step_before + TIMER_STEP_SLACK_MS)
    checks = {
        "all cases live": created["started_and_referred"] == count and not created["errors"],
        "every one referred, with a running deadline": live["benchmark_cases_with_running_deadline"] == count,
        "temporal operator cluster health: SERVING": cli_health["serving"],
        "gRPC health check serving": live["grpc_health_serving"],
        "all processes alive": all(alive.values()),
        f"worker RSS < {WORKER_RSS_LIMIT_MIB} MiB": worker_max < WORKER_RSS_LIMIT_MIB,
        f"worker RSS growth over the window < {RSS_GROWTH_LIMIT:.0%}": (
            window["cases worker"]["growth"] or 0.0
        )
        < RSS_GROWTH_LIMIT,
        f"new case's step p50 <= max({TIMER_STEP_FACTOR:g}x before, before + {TIMER_STEP_SLACK_MS:g} ms)": (
            step_after <= step_limit
        ),
    }
    return {
        "goal": "cases live, server SERVING, worker memory bounded, a new case steps at normal latency",
        "passed": all(checks.values()),
        "checks": checks,
        "count": count,
        "concurrency": concurrency,
        "sample_seconds": sample_seconds,
        "insert_rows_seconds": round(insert_seconds, 1),
        "start": created,
        "rss_before_mib": rss_before,
        "rss_window": window,
        "cpu_during_window": cpu,
        "temporal_cli_health": cli_health,
        "live": live,
        "probe_before": before,
        "probe_after": after,
        "probes": probes,
        "step_limit_ms": round(step_limit, 1),
        "processes_alive": alive,
    }


# ---------------------------------------------------------------- 3. queries


def query_kinds(today: Any) -> list[tuple[str, str, dict[str, str]]]:
    """(name, path, params); "page 2" kinds follow their first page's cursor."""
    filters = [
        ("all cases, newest first", {}),
        ("mission + status", {"mission": "MINUSCA", "status": "under_investigation"}),
        (
            "country + allegation type",
            {"police_contributing_country": "RWA", "allegation_type": "sexual_exploitation"},
        ),
        ("overdue, oldest first", {"overdue": "true", "sort": "reported_on"}),
        (
            "FPU + category 1 + reported in a year",
            {
                "personnel_category": "formed_police_unit",
                "category": "category_1",
                "reported_from": str(today - timedelta(days=730)),
                "reported_to": str(today - timedelta(days=365)),
            },
        ),
    ]  # fmt: skip
    kinds: list[tuple[str, str, dict[str, str]]] = []
    for name, params in filters:
        kinds.append((f"list: {name}, page 1", "/cases", params))
        kinds.append((f"list: {name}, page 2", "/cases", params))
    kinds.append(("statistics by year, mission", "/cases/statistics", {"by": "year&mission"}))
    kinds.append(("statistics by nationality, result", "/cases/statistics", {"by": "nationality&result"}))
    return kinds


def _query_params(params: dict[str, str], cursor: str | None) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if key == "by":
            pairs += [("by", v) for v in value.split("&")]
        else:
            pairs.append((key, value))
    if cursor:
        pairs.append(("cursor", cursor))
    return pairs


# The summaries the statistics read, by their key (migration 0003), and a count over case_file to check them.
STATISTICS_SUMMARIES = {
    "case_statistics": "year, mission, personnel_category, police_contributing_country, allegation_type, "
    "category, result",
    "case_statistics_headline": "year, mission, police_contributing_country, result",
}
DIRECT_COUNT = (
    "SELECT extract(year FROM reported_on)::int AS year, mission, personnel_category, "
    "police_contributing_country, allegation_type, category, coalesce(finding, 'pending') AS result, "
    "victims_adult, victims_minor FROM case_file"
)


def statistics_check(summary: str) -> str:
    key = STATISTICS_SUMMARIES[summary]
    return (
        f"SELECT (SELECT count(*) FROM {summary}) AS rows, count(*) AS mismatched FROM {summary} AS s "
        f"FULL JOIN (SELECT {key}, count(*) AS allegations, sum(victims_adult) AS victims_adult, "
        f"sum(victims_minor) AS victims_minor FROM ({DIRECT_COUNT}) AS c GROUP BY {key}) AS d USING ({key}) "
        "WHERE s.allegations IS DISTINCT FROM d.allegations OR s.victims_adult IS DISTINCT FROM "
        "d.victims_adult OR s.victims_minor IS DISTINCT FROM d.victims_minor"
    )


async def _fill_cases(dsn: str, total: int, echo: Callable[[str], None]) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        existing = int(await conn.fetchval("SELECT count(*) FROM case_file"))
        missing = max(0, total - existing)
        now = datetime.now(UTC)
        templates = Templates(now, Settings().case_policy)
        generate_seconds = copy_seconds = 0.0
        chunk = 5000
        for first in range(0, missing, chunk):
            started = time.perf_counter()
            rows = list(case_rows(min(chunk, missing - first), first, now, templates))
            for row in rows[:: max(1, len(rows) // 5)]:
                check_row(
                    row, now
                )  # the synthetic state is a valid Case, its columns what the service stores
            generate_seconds += time.perf_counter() - started
            started = time.perf_counter()
            await conn.copy_records_to_table("case_file", records=rows, columns=list(COLUMNS))
            copy_seconds += time.perf_counter() - started
            if (first // chunk) % 4 == 3:
                echo(f"    {first + len(rows):,} of {missing:,} rows")
        started = time.perf_counter()
        await conn.execute("VACUUM ANALYZE case_file")
        vacuum_seconds = time.perf_counter() - started
        rows_now = int(await conn.fetchval("SELECT count(*) FROM case_file"))
        # The COPY went through case_file's triggers like any write: the summary must count every row.
        summaries = {name: dict(await conn.fetchrow(statistics_check(name))) for name in STATISTICS_SUMMARIES}
        table_bytes = int(await conn.fetchval("SELECT pg_total_relation_size('case_file')"))
        counts = "SELECT {0}, count(*) FROM case_file GROUP BY 1 ORDER BY 2 DESC"
        distribution = {
            "status": dict(await conn.fetch(counts.format("status"))),
            "mission": dict(await conn.fetch(counts.format("mission"))),
            "countries": int(
                await conn.fetchval("SELECT count(DISTINCT police_contributing_country) FROM case_file")
            ),
            "busiest_country": await conn.fetchval(
                "SELECT police_contributing_country FROM case_file GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ),
            "overdue": int(await conn.fetchval("SELECT count(*) FROM case_file WHERE overdue")),
            "reported_on": [
                str(d)
                for d in await conn.fetchrow("SELECT min(reported_on), max(reported_on) FROM case_file")
            ],
        }  # fmt: skip
    finally:
        await conn.close()
    return {
        "rows_before": existing,
        "rows_inserted": missing,
        "rows": rows_now,
        "generate_seconds": round(generate_seconds, 1),
        "copy_seconds": round(copy_seconds, 1),
        "copy_rows_per_s": round(missing / copy_seconds) if copy_seconds else None,
        "vacuum_analyze_seconds": round(vacuum_seconds, 1),
        "table_mib_with_indexes_and_toast": round(table_bytes / 1024 / 1024, 1),
        "distribution": distribution,
        "statistics_summaries": summaries,
    }


async def _measure_queries(base_url: str, repeats: int, time_limit: float) -> dict[str, Any]:
    kinds = query_kinds(TODAY)
    timings: dict[str, list[float]] = {name: [] for name, _, _ in kinds}
    info: dict[str, dict[str, Any]] = {}
    cursors: dict[str, str | None] = {}
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=KEEPALIVE_EXPIRY)
    async with httpx.AsyncClient(
        base_url=base_url, headers=officer_headers(), limits=limits, timeout=60
    ) as client:

        async def get(name: str, path: str, params: dict[str, str]) -> tuple[httpx.Response, float] | None:
            cursor = None
            if name.endswith("page 2"):
                cursor = cursors.get(name.replace("page 2", "page 1"))
                if cursor is None:
                    return None
            started = time.perf_counter()
            response = await client.get(path, params=httpx.QueryParams(tuple(_query_params(params, cursor))))
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                key = f"{name}: HTTP {response.status_code}"
                errors[key] = errors.get(key, 0) + 1
                return None
            return response, elapsed

        # First pass: cursors for the second pages, sizes, and warm-up (not counted).
        for _ in range(3):
            for name, path, params in kinds:
                answered = await get(name, path, params)
                if answered is None:
                    continue
                body = answered[0].json()
                if name.endswith("page 1"):
                    cursors[name] = body.get("next_cursor")
                info[name] = {
                    "rows": len(body["items"]) if isinstance(body, dict) else len(body),
                    "response_kib": round(len(answered[0].content) / 1024, 1),
                    "params": _query_params(params, None),
                }
        # Measured: round-robin over the kinds, so that noise from the machine falls on all alike.
        give_up = time.perf_counter() + time_limit
        for _ in range(repeats):
            if time.perf_counter() > give_up:
                break
            for name, path, params in kinds:
                answered = await get(name, path, params)
                if answered is not None:
                    timings[name].append(answered[1])
    results = {}
    for name, _, _ in kinds:
        summary = summary_ms(timings[name])
        results[name] = {
            **summary,
            "requests": len(timings[name]),
            **info.get(name, {}),
            "passed": bool(timings[name]) and (summary["p99_ms"] or 0) < GOAL_QUERY_P99_MS,
        }
    return {"queries": results, "errors": errors, "cursors": cursors}


# ---- EXPLAIN ANALYZE of the statements the services really send, from PostgreSQL's log (auto_explain)

AUTO_EXPLAIN = {
    "session_preload_libraries": "auto_explain",
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_analyze": "on",
    "auto_explain.log_buffers": "on",
    "auto_explain.log_nested_statements": "on",
}
_PLAN_START = re.compile(r"LOG:\s+duration: ([\d.]+) ms\s+plan:")


async def _auto_explain(port: int, enable: bool) -> None:
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", timeout=10)
    try:
        for name, value in AUTO_EXPLAIN.items():
            if enable:
                await conn.execute(f"ALTER DATABASE uncops_cases SET {name} = '{value}'")
            else:
                await conn.execute(f"ALTER DATABASE uncops_cases RESET {name}")
    finally:
        await conn.close()


def plans_in(text: str) -> list[tuple[float, str]]:
    """(duration ms, plan text) of every auto_explain entry in a piece of PostgreSQL's stderr log."""
    plans: list[tuple[float, str]] = []
    current: list[str] | None = None
    duration = 0.0
    for line in text.splitlines():
        match = _PLAN_START.search(line)
        if match:
            if current is not None:
                plans.append((duration, "\n".join(current)))
            duration, current = float(match.group(1)), []
        elif current is not None and line.startswith("\t"):
            current.append(line[1:])
        elif current is not None:
            plans.append((duration, "\n".join(current)))
            current = None
    if current is not None:
        plans.append((duration, "\n".join(current)))
    return plans


def _log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _log_since(path: Path, offset: int) -> str:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


async def _get_once(base_url: str, path: str, params: list[tuple[str, str]]) -> float:
    async with httpx.AsyncClient(base_url=base_url, headers=officer_headers(), timeout=60) as client:
        started = time.perf_counter()
        response = await client.get(path, params=httpx.QueryParams(tuple(params)))
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        return time.perf_counter() - started


async def _write_probe(base_url: str, country: str, cases: int) -> dict[str, Any]:
    """Cases of the busiest contributing country opened and taken through the five transitions."""
    rng = random.Random(31)
    samples: dict[str, list[float]] = {"open": [], **{action: [] for action, _ in transitions()}}
    async with httpx.AsyncClient(base_url=base_url, headers=officer_headers(), timeout=60) as client:
        for i in range(cases):
            body = {**intake_body(rng, TODAY, i), "police_contributing_country": country}
            await _case_through(client, body, samples)
    return {name: summary_ms(values) for name, values in samples.items()}


def _capture_plans(
    stack: Any,
    kinds: list[tuple[str, str, dict[str, str]]],
    cursors: dict[str, str | None],
    country: str,
    loop_runner: Callable[[Any], Any],
) -> dict[str, Any]:
    """Restarts the cases API and worker with auto_explain on for the cases database, sends each query
    once (and one case through its transitions), and returns the plans PostgreSQL logged for them."""
    base_url = f"http://127.0.0.1:{stack.ports.cases}"
    log = stack.logs / "postgres.log"
    captured: dict[str, Any] = {}
    loop_runner(_auto_explain(stack.ports.postgres, True))
    try:
        stack.stop("cases")
        stack.stop("cases-worker")
        stack.start_service("cases", "worker")
        stack.start_service("cases")
        for name, path, params in kinds:
            cursor = cursors.get(name.replace("page 2", "page 1")) if name.endswith("page 2") else None
            if name.endswith("page 2") and cursor is None:
                continue
            # A first request, not captured: the pooled connection's first statements (introspection).
            loop_runner(_get_once(base_url, path, _query_params(params, None)))
            # An unnamed portal's plan is logged when the portal closes, which may be after the response.
            time.sleep(0.5)
            offset = _log_size(log)
            elapsed = loop_runner(_get_once(base_url, path, _query_params(params, cursor)))
            time.sleep(0.5)
            plans = [
                (ms, plan)
                for ms, plan in plans_in(_log_since(log, offset))
                if "case_file" in plan or "FROM case_statistics" in plan
            ]
            captured[name] = {
                "http_ms_with_auto_explain": round(elapsed * 1000, 1),
                "plans": [{"duration_ms": ms, "plan": plan} for ms, plan in plans[-1:]],
            }
        time.sleep(0.5)
        offset = _log_size(log)
        loop_runner(_write_probe(base_url, country, 1))
        time.sleep(1.0)
        logged = plans_in(_log_since(log, offset))
        writes = [(ms, plan) for ms, plan in logged if "case_file" in plan]
        writes.sort(key=lambda item: -item[0])
        # The statistics' triggers run inside the statements on case_file (their time is in those).
        counting = [ms for ms, plan in logged if "INSERT INTO case_statistics" in plan]
        captured[WRITE_PATH] = {
            "statements_on_case_file": len(writes),
            "total_ms": round(sum(ms for ms, _ in writes), 1),
            "statistics_trigger_statements": len(counting),
            "statistics_trigger_ms": round(sum(counting), 1),
            "plans": [{"duration_ms": ms, "plan": plan} for ms, plan in writes[:3]],
        }
    finally:
        loop_runner(_auto_explain(stack.ports.postgres, False))
    return captured


# ---- would an index fix it? Tried in a transaction that is rolled back (the migrations stay as they are)

WRITE_PATH = "write path (one case, open + five transitions)"
# Query kinds (by prefix) -> a candidate index for the statement the API sends.
INDEX_CANDIDATES = {
    "list: all cases": None,  # case_file_keyset (reported_on, id) already serves it
    "list: mission + status": "CREATE INDEX bench_candidate ON case_file (mission, status, reported_on, id)",
    "list: country + allegation type": (
        "CREATE INDEX bench_candidate ON case_file (police_contributing_country, reported_on, id)"
    ),
    "list: overdue": None,  # case_file_overdue_keyset (reported_on, id) WHERE overdue serves it
    "list: FPU": "CREATE INDEX bench_candidate ON case_file (personnel_category, category, reported_on, id)",
}
PCC_CHECK_CANDIDATE = (
    "CREATE INDEX bench_candidate ON case_file (police_contributing_country) WHERE status <> 'closed' AND "
    'jsonb_path_exists(state, \'$.deadlines[*] ? (@.missed == true && (@.kind == "pcc_reply" || '
    '@.kind == "investigation") && @.owner == "police_contributing_country")\')'
)
_PARAM = re.compile(r"\$(\d+) = ('(?:[^']|'')*'|NULL)")


def statement_of(plan: str) -> str | None:
    """The logged statement with its parameters written in as literals, or None if it is not there."""
    lines = plan.splitlines()
    if not lines or not lines[0].startswith("Query Text: "):
        return None
    text: list[str] = [lines[0][len("Query Text: ") :]]
    parameters: dict[str, str] = {}
    for line in lines[1:]:
        if line.startswith("Query Parameters: "):
            parameters = dict(_PARAM.findall(line))
            break
        if "(cost=" in line:
            break
        text.append(line)
    sql = "\n".join(text)
    return re.sub(r"\$(\d+)\b", lambda m: parameters.get(m.group(1), m.group(0)), sql)


async def _explain(conn: Any, sql: str) -> tuple[float | None, str]:
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
    text = "\n".join(r[0] for r in rows)
    match = re.search(r"Execution Time: ([\d.]+) ms", text)
    return (float(match.group(1)) if match else None), text


DEEP_PAGE_OFFSET = 20_000
KEYSET = "keyset pagination, page 401 of all cases"


async def _deep_page(conn: Any, plans: dict[str, Any]) -> dict[str, Any] | None:
    """The keyset predicate as ``reported_on < d OR (reported_on = d AND id < i)`` against the row
    comparison ``(reported_on, id) < (d, i)`` the API sends, with a cursor DEEP_PAGE_OFFSET rows down."""
    logged = plans.get("list: all cases, newest first, page 2", {}).get("plans", [])
    sql = statement_of(logged[0]["plan"]) if logged else None
    if sql is None or "WHERE" not in sql:
        return None
    head = sql.split("WHERE", 1)[0]
    row = await conn.fetchrow(
        "SELECT reported_on, id FROM case_file ORDER BY reported_on DESC, id DESC OFFSET $1 LIMIT 1",
        DEEP_PAGE_OFFSET,
    )
    if row is None:
        return None
    day, last = f"'{row['reported_on']}'::DATE", f"'{row['id']}'::VARCHAR"
    tail = "ORDER BY case_file.reported_on DESC, case_file.id DESC LIMIT 51"
    as_sent = (
        f"{head}WHERE case_file.reported_on < {day} OR case_file.reported_on = {day} "
        f"AND case_file.id < {last} {tail}"
    )
    row_comparison = f"{head}WHERE (case_file.reported_on, case_file.id) < ({day}, {last}) {tail}"
    sent_ms, sent_plan = await _explain(conn, as_sent)
    row_ms, row_plan = await _explain(conn, row_comparison)
    return {
        "offset": DEEP_PAGE_OFFSET,
        "execution_ms_now": sent_ms,
        "plan_now": sent_plan,
        "execution_ms_row_comparison": row_ms,
        "plan_row_comparison": row_plan,
    }


async def _try_candidates(dsn: str, plans: dict[str, Any], missed: list[str]) -> dict[str, Any]:
    """For each query that missed the goal (and the write path's country check): EXPLAIN ANALYZE of the
    statement as logged, then again with a candidate index created in a transaction that is rolled back."""
    conn = await asyncpg.connect(dsn, timeout=10)
    tried: dict[str, Any] = {}
    try:
        await conn.execute("SET statement_timeout = '120s'")
        targets: list[tuple[str, str | None]] = []
        for name in missed:
            candidate = next((ddl for p, ddl in INDEX_CANDIDATES.items() if name.startswith(p)), None)
            if name.startswith("list:"):
                targets.append((name, candidate))
        writes = plans.get(WRITE_PATH, {}).get("plans", [])
        if writes and "jsonb_path_exists" in writes[0]["plan"]:
            targets.append((WRITE_PATH, PCC_CHECK_CANDIDATE))
        for name, candidate in targets:
            logged = plans.get(name, {}).get("plans", [])
            sql = statement_of(logged[0]["plan"]) if logged else None
            if sql is None:
                continue
            before_ms, _ = await _explain(conn, sql)
            entry: dict[str, Any] = {"statement": sql, "execution_ms_now": before_ms, "candidate": candidate}
            if candidate:
                transaction = conn.transaction()
                await transaction.start()
                try:
                    await conn.execute(candidate)
                    await conn.execute("ANALYZE case_file")
                    entry["execution_ms_with_candidate"], entry["plan_with_candidate"] = await _explain(
                        conn, sql
                    )
                finally:
                    await transaction.rollback()
            tried[name] = entry
        deep = await _deep_page(conn, plans)
        if deep is not None:
            tried[KEYSET] = deep
    finally:
        await conn.close()
    return tried


def cases_queries(
    stack: Any,
    total: int = 100_000,
    repeats: int = 200,
    write_probe_cases: int = 5,
    time_limit: float = 1200,
    echo: Callable[[str], None] = print,
    loop_runner: Callable[[Any], Any] = asyncio.run,
) -> dict[str, Any]:
    base_url = f"http://127.0.0.1:{stack.ports.cases}"
    dsn = f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/uncops_cases"
    country = COUNTRIES[0]  # the busiest contributing country of the synthetic data
    try:
        stack.start_service("cases", "worker")
        stack.start_service("cases")
        rows_before = loop_runner(_count_cases(dsn))
        echo(f"  write path at {rows_before:,} cases: {write_probe_cases} {country} cases, open + 5 steps")
        write_probe_before = loop_runner(_write_probe(base_url, country, write_probe_cases))
        echo(f"  bulk-loading case_file up to {total:,} cases (COPY)")
        filled = loop_runner(_fill_cases(dsn, total, echo))
        echo(
            f"  {filled['rows']:,} cases ({filled['table_mib_with_indexes_and_toast']} MiB); "
            f"{len(query_kinds(TODAY))} queries x {repeats}"
        )
        measured = loop_runner(_measure_queries(base_url, repeats, time_limit))
        echo(f"  write path at {filled['rows']:,} cases: {write_probe_cases} {country} cases, open + 5 steps")
        write_probe = loop_runner(_write_probe(base_url, country, write_probe_cases))
        echo("  capturing the plans with auto_explain")
        plans = _capture_plans(stack, query_kinds(TODAY), measured["cursors"], country, loop_runner)
    finally:
        stack.stop("cases")
        stack.stop("cases-worker")
    queries = measured["queries"]
    for name, entry in queries.items():
        entry["db_ms_auto_explain"] = [p["duration_ms"] for p in plans.get(name, {}).get("plans", [])]
    missed = [name for name, q in queries.items() if not q["passed"]]
    echo("  trying candidate indexes (rolled back)")
    candidates = loop_runner(_try_candidates(dsn, plans, missed))
    p99s = [q["p99_ms"] for q in queries.values() if q["p99_ms"] is not None]
    return {
        "goal": f"p99 < {GOAL_QUERY_P99_MS:g} ms for every query",
        "passed": not missed and not measured["errors"],
        "missed": missed,
        "worst_p99_ms": max(p99s) if p99s else None,
        "repeats": repeats,
        "data": filled,
        "queries": queries,
        "errors": measured["errors"],
        "write_probe_country": country,
        "write_probe_rows_before": rows_before,
        "write_probe_ms_before": write_probe_before,
        "write_probe_ms": write_probe,
        "plans": plans,
        "candidates": candidates,
    }


async def _count_cases(dsn: str) -> int:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM case_file"))
    finally:
        await conn.close()


# ---------------------------------------------------------------- reporting (BENCHMARKS.md)


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    table = []
    benchmarks = results["benchmarks"]
    throughput = benchmarks.get("cases_throughput")
    if throughput is not None:
        name, goal = "cases: 5 transitions/case vs plain workflows", f"ratio >= {GOAL_RATIO}"
        if "error" in throughput:
            table.append((name, f"error: {throughput['error']}", goal, "FAIL"))
        else:
            table.append(
                (
                    name,
                    f"{throughput['ratio']:.2f} (cases {_f(throughput['cases_per_s'])}/s, plain "
                    f"{_f(throughput['plain_workflows_per_s'])}/s, {throughput['cases']} each, "
                    f"{throughput['concurrency']} in flight)",
                    goal,
                    "PASS" if throughput["passed"] else "FAIL",
                )
            )
    timers = benchmarks.get("cases_timers")
    if timers is not None:
        name, goal = "cases: open cases with live timers", "healthy, memory bounded, normal latency"
        if "error" in timers:
            table.append((name, f"error: {timers['error']}", goal, "FAIL"))
        else:
            window = timers["rss_window"]
            table.append(
                (
                    f"cases: {timers['count']:,} open cases with live timers",
                    f"worker RSS {_f(window['cases worker']['max_mib'])} MiB, server RSS "
                    f"{_f(window['Temporal server']['max_mib'])} MiB; started in "
                    f"{_f(timers['start']['seconds'])} s; "
                    f"step after {_f(timers['probe_after']['start_assessment']['p50_ms'])} ms "
                    f"(before {_f(timers['probe_before']['start_assessment']['p50_ms'])} ms)",
                    goal,
                    "PASS" if timers["passed"] else "FAIL",
                )
            )
    queries = benchmarks.get("cases_queries")
    if queries is not None:
        name, goal = "cases: list and statistics queries", f"p99 < {GOAL_QUERY_P99_MS:g} ms"
        if "error" in queries:
            table.append((name, f"error: {queries['error']}", goal, "FAIL"))
        else:
            count = len(queries["queries"])
            missed = f"{len(queries['missed'])} of {count} missed" if queries["missed"] else "none missed"
            worst = max(queries["queries"].items(), key=lambda item: item[1]["p99_ms"] or 0.0)[0]
            table.append(
                (
                    f"cases: queries over {queries['data']['rows']:,} cases",
                    f"worst p99 {_f(queries['worst_p99_ms'])} ms ({worst}); {missed}",
                    goal,
                    "PASS" if queries["passed"] else "FAIL",
                )
            )
    return table


_THIS = "this process (bench.run: load generator, producer, relay)"


def _not_the_database(name: str, query: dict[str, Any], db_ms: float | None) -> bool:
    """A list query whose statement takes PostgreSQL under a fifth of the request's median."""
    p50 = query.get("p50_ms")
    return name.startswith("list") and db_ms is not None and p50 is not None and db_ms < 0.2 * float(p50)


def _cores(cpu: dict[str, Any], names: list[str]) -> str:
    used = cpu["cores_used"]
    return " / ".join(f"{used[n]:.2f}" if n in used else "n/a" for n in names)


# Who does a case's or a plain workflow's work: the Temporal worker and server (both kinds), and what only a
# case does (its HTTP API with the in-process relay, its audit and outbox in PostgreSQL, Kafka).
_WORKFLOW_SIDE = ("cases worker", "plain worker (bench.plain_workflow)", "Temporal dev server")


def _cpu_per_unit(runs: list[dict[str, Any]]) -> list[str]:
    """CPU per case and per plain workflow in each kind's best round, by process: when the cores are the
    limit, the ratio of throughputs is the inverse ratio of these totals."""
    ms: dict[str, dict[str, float]] = {}
    for kind in ("cases", "plain"):
        best = max((r for r in runs if r["kind"] == kind), key=lambda r: r["per_s"])
        if not best["completed"]:
            return []
        per = best["seconds"] / best["completed"] * 1000
        ms[kind] = {name: cores * per for name, cores in best["cpu"]["cores_used"].items() if cores >= 0.005}
    names = [n for n in dict.fromkeys([*ms["cases"], *ms["plain"]]) if n != _THIS]
    total = {kind: sum(v for n, v in ms[kind].items() if n != _THIS) for kind in ms}
    workflow = {kind: sum(ms[kind].get(n, 0.0) for n in _WORKFLOW_SIDE) for kind in ms}
    return [
        "",
        "CPU per case and per plain workflow in each kind's best round, ms (the benchmark's own client "
        "left out):",
        "",
        "| kind | " + " | ".join(names) + " | all |",
        "|---|" + "---|" * (len(names) + 1),
        *[
            f"| {kind} | " + " | ".join(_f(ms[kind].get(n, 0.0)) for n in names) + f" | {_f(total[kind])} |"
            for kind in ms
        ],
        "",
        f"The workflow side (worker and Temporal server) costs a case {_f(workflow['cases'])} ms against "
        f"{_f(workflow['plain'])} ms for a plain workflow; the other "
        f"{_f(total['cases'] - workflow['cases'])} ms of a case (its HTTP API and in-process relay, its "
        "audit and outbox in PostgreSQL, Kafka) is work the baseline does not do. With the cores busy, "
        "cases/s over plain workflows/s can reach at most "
        f"{_f(total['plain'] / total['cases'], 2) if total['cases'] else 'n/a'} here.",
    ]


def markdown_sections(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
    benchmarks = results["benchmarks"]
    throughput = benchmarks.get("cases_throughput")
    if throughput is not None and "error" not in throughput:
        cpu_names = [
            "cases API + in-process relay", "cases worker", "plain worker (bench.plain_workflow)",
            "PostgreSQL (all backends)", "Temporal dev server",
        ]  # fmt: skip
        out += [
            "## Cases: throughput against plain Temporal workflows",
            "",
            f"Goal: cases/s at least {GOAL_RATIO} of plain workflows/s, same run, same Temporal server. "
            f"Cases: {throughput['cases']} per round opened with `POST /cases` and taken through "
            f"{', '.join(throughput['transitions'])} (`POST /cases/{{id}}/actions`, each a workflow Update "
            "whose activity writes state, audit and outbox in one transaction), at most "
            f"{throughput['concurrency']} cases in flight (httpx, 8 connections per client); the API runs "
            "its in-process relay, the worker is `uncops worker cases`. Plain: the same number of "
            "workflows, each started by the benchmark's Temporal client and given "
            f"{STEPS} Updates that each run one activity doing one INSERT (bench/plain_workflow.py, own "
            "worker process, own task queue, asyncpg pool of 20). Rounds alternate plain, cases; "
            f"the best of each is compared; {throughput['warmup']} of each first, not counted.",
            "",
            "| round | kind | completed | seconds | per s | steps per s | "
            "p50 / p99 of one case or workflow, ms | "
            "cores: API / cases worker / plain worker / PostgreSQL / Temporal | errors |",
            "|---|---|---|---|---|---|---|---|---|",
            *[
                f"| {r['round']} | {r['kind']} | {r['completed']} | {r['seconds']} | {_f(r['per_s'], 2)} | "
                f"{_f(r['steps_per_s'])} | "
                f"{_f(r.get('case_ms', r.get('workflow_ms', {})).get('p50_ms'))} / "
                f"{_f(r.get('case_ms', r.get('workflow_ms', {})).get('p99_ms'))} | "
                f"{_cores(r['cpu'], cpu_names)} | {r['errors'] or 'none'} |"
                for r in throughput["runs"]
            ],
            "",
            "Latency of each step in the best round, ms:",
            "",
            "| kind | step | p50 | p90 | p99 | max |",
            "|---|---|---|---|---|---|",
        ]
        for kind in ("cases", "plain"):
            best = max((r for r in throughput["runs"] if r["kind"] == kind), key=lambda r: r["per_s"])
            out += [
                f"| {kind} | {step} | {_f(s['p50_ms'])} | {_f(s['p90_ms'])} | {_f(s['p99_ms'])} | "
                f"{_f(s['max_ms'])} |"
                for step, s in best["step_ms"].items()
            ]
        out += _cpu_per_unit(throughput["runs"])
        out += [
            "",
            f"Ratio cases/plain: **{throughput['ratio']:.2f}** (goal >= {GOAL_RATIO}); scratch rows "
            f"{throughput['plain_scratch_rows']:,} of {throughput['plain_scratch_rows_expected']:,} "
            "expected: "
            f"**{'PASS' if throughput['passed'] else 'FAIL'}**.",
            "",
        ]
    timers = benchmarks.get("cases_timers")
    if timers is not None and "error" not in timers:
        start, window, live = timers["start"], timers["rss_window"], timers["live"]
        used = start["cpu"]["cores_used"]
        start_cores = ", ".join(f"{n} {v:.2f}" for n, v in used.items() if n != _THIS)
        start_cores += f", bench.run (the Temporal client) {used.get(_THIS, 0):.2f}"
        start_machine = ", ".join(f"{v * 100:.0f} % {k}" for k, v in start["cpu"]["machine_share"].items())
        before, after = timers["probe_before"], timers["probe_after"]
        out += [
            f"## Cases: {timers['count']:,} open cases with live timers",
            "",
            f"Case rows inserted directly ({_f(timers['insert_rows_seconds'])} s, not timed), each "
            "CaseWorkflow started through the Temporal client with its case under preliminary assessment "
            "and referred for investigation through its `act` Update (the real activity stores it), so each "
            "sleeps on a deadline (the investigation's, or the contributing country's reply for a formed "
            f"police unit); {timers['concurrency']} at a time. "
            f"{start['started_and_referred']:,} live in **{_f(start['seconds'])} s** "
            f"({_f(start['per_s'])}/s; start p50 {_f(start['start_workflow_ms']['p50_ms'])} ms, "
            f"refer p50 {_f(start['refer_update_ms']['p50_ms'])} / p99 "
            f"{_f(start['refer_update_ms']['p99_ms'])} ms; errors {start['errors'] or 'none'}"
            + (
                f"; {start['update_calls_timed_out_then_awaited']} refer calls timed out waiting and "
                "their Update's outcome was then awaited"
                if start.get("update_calls_timed_out_then_awaited")
                else ""
            )
            + "). "
            f"Running CaseWorkflows on the server: {live['running_case_workflows']:,}. Cores used while "
            f"they were started: {start_cores}; machine {start_machine}.",
            "",
            f"RSS over {timers['sample_seconds']:g} s after they were all live (VmRSS):",
            "",
            "| process | before the cases, MiB | first / last / max in the window, MiB | growth |",
            "|---|---|---|---|",
            *[
                f"| {name} | {_f(timers['rss_before_mib'].get(name))} | {_f(w['first_mib'])} / "
                f"{_f(w['last_mib'])} / {_f(w['max_mib'])} | {(w['growth'] or 0) * 100:.1f} % |"
                for name, w in window.items()
            ],
            "",
            "CPU over the window (cores): "
            + ", ".join(f"{n} {v:.2f}" for n, v in timers["cpu_during_window"]["cores_used"].items()
                        if not n.startswith("this process"))
            + f". `{timers['temporal_cli_health']['command']}`: "
            f"`{' '.join(timers['temporal_cli_health']['output'].split())[:120]}`.",
            "",
            f"A new case over HTTP, before the load and after (p50 of {timers['probes']} probes each), ms:",
            "",
            "| step | before | after |",
            "|---|---|---|",
            *[
                f"| {step} | {_f(before[step]['p50_ms'])} | {_f(after[step]['p50_ms'])} |"
                for step in ("open", "start_assessment", "refer")
            ],
            "",
            "Checks: " + "; ".join(f"{k}: {'yes' if v else '**no**'}" for k, v in timers["checks"].items())
            + f". Verdict: **{'PASS' if timers['passed'] else 'FAIL'}**.",
            "",
        ]  # fmt: skip
    queries = benchmarks.get("cases_queries")
    if queries is not None and "error" not in queries:
        data = queries["data"]
        out += [
            f"## Cases: list and statistics queries over {data['rows']:,} cases",
            "",
            f"Goal: p99 < {GOAL_QUERY_P99_MS:g} ms. {data['rows_inserted']:,} synthetic cases bulk-loaded "
            f"with COPY ({_f(data['copy_seconds'])} s; {data['table_mib_with_indexes_and_toast']} MiB with "
            f"indexes and TOAST; {len(data['distribution']['mission'])} missions, "
            f"{data['distribution']['countries']} countries, reported "
            f"{data['distribution']['reported_on'][0]} "
            f"to {data['distribution']['reported_on'][1]}; {data['distribution']['overdue']:,} overdue), "
            "then VACUUM ANALYZE. The statistics read the summaries case_file's triggers keep ("
            + "; ".join(
                f"{name}: {_f(int(c['rows']))} rows after the load, {_f(int(c['mismatched']))} groups that "
                "disagree with a count over case_file"
                for name, c in data.get("statistics_summaries", {}).items()
            )
            + "). Each query "
            f"{queries['repeats']} times, sequentially over one keep-alive connection, round-robin over the "
            "queries; the cursor of the second page is the first page's `next_cursor`. The DB column is "
            "PostgreSQL's own execution time of the same statement, logged by auto_explain "
            "(`log_analyze`) in a separate pass.",
            "",
            "| query | rows | response KiB | p50 | p90 | p99 | max | DB ms (auto_explain) | verdict |",
            "|---|---|---|---|---|---|---|---|---|",
            *[
                f"| {name} | {q.get('rows', 'n/a')} | {q.get('response_kib', 'n/a')} | {_f(q['p50_ms'])} | "
                f"{_f(q['p90_ms'])} | {_f(q['p99_ms'])} | {_f(q['max_ms'])} | "
                f"{', '.join(_f(x) for x in q['db_ms_auto_explain']) or 'n/a'} | "
                f"{'PASS' if q['passed'] else '**FAIL**'} |"
                for name, q in queries["queries"].items()
            ],
            "",
            f"Write path: {queries['write_probe_country']} cases (the busiest contributing country) "
            f"opened and taken through the five transitions one after the other, p50 ms, at "
            f"{queries['write_probe_rows_before']:,} cases and at {data['rows']:,}:",
            "",
            "| step | " + " | ".join(queries["write_probe_ms"]) + " |",
            "|---|" + "---|" * len(queries["write_probe_ms"]),
            f"| at {queries['write_probe_rows_before']:,} cases | "
            + " | ".join(_f(s["p50_ms"]) for s in queries["write_probe_ms_before"].values())
            + " |",
            f"| at {data['rows']:,} cases | "
            + " | ".join(_f(s["p50_ms"]) for s in queries["write_probe_ms"].values())
            + " |",
            "",
        ]
        candidates = queries.get("candidates", {})
        for name in queries["missed"]:
            q = queries["queries"][name]
            captured = queries["plans"].get(name, {}).get("plans", [])
            db_ms = captured[0]["duration_ms"] if captured else None
            out += [f"### Missed: {name}", ""]
            out += [
                f"PostgreSQL executed it in {_f(db_ms)} ms (auto_explain) of the {_f(q['p50_ms'])} ms p50 / "
                f"{_f(q['p99_ms'])} ms p99 over HTTP."
                + (
                    " Most of the time is the API's (validating and presenting "
                    f"{q.get('rows', '?')} cases, {q.get('response_kib', '?')} KiB of JSON) and the "
                    "machine's: an index can win at most the database's share."
                    if _not_the_database(name, q, db_ms)
                    else ""
                ),
                "",
            ]
            for plan in captured[:1]:
                out += [f"EXPLAIN ANALYZE (auto_explain, {plan['duration_ms']} ms):", "", "```",
                        plan["plan"].rstrip(), "```", ""]  # fmt: skip
            tried = candidates.get(name)
            if tried and tried.get("candidate"):
                out += [
                    f"Candidate: `{tried['candidate']}`. Execution {_f(tried['execution_ms_now'])} ms now, "
                    f"**{_f(tried.get('execution_ms_with_candidate'))} ms** with it"
                    + " (tried in a transaction, rolled back):",
                    "",
                    "```",
                    str(tried.get("plan_with_candidate", "")).rstrip(),
                    "```",
                    "",
                ]  # fmt: skip
        deep = candidates.get(KEYSET)
        if deep:
            out += [
                f"### Keyset pagination {deep['offset']:,} rows down the list",
                "",
                "The cursor predicate written as `reported_on < d OR (reported_on = d AND id < i)` is only "
                "a Filter on the keyset index: every page walks (and fetches from the heap) all the rows of "
                f"the pages before it. With a cursor {deep['offset']:,} rows down: "
                f"**{_f(deep['execution_ms_now'])} ms** in that form, "
                f"**{_f(deep['execution_ms_row_comparison'])} ms** as the row comparison "
                "`(reported_on, id) < (d, i)` the API sends, which PostgreSQL turns into an Index Cond:",
                "",
                "```",
                str(deep["plan_now"]).rstrip(),
                "```",
                "",
                "```",
                str(deep["plan_row_comparison"]).rstrip(),
                "```",
                "",
            ]
        writes = queries["plans"].get(WRITE_PATH)
        if writes and writes.get("plans"):
            slowest = writes["plans"][0]
            out += [
                f"### Write path at {data['rows']:,} cases",
                "",
                f"{writes['statements_on_case_file']} statements touch case_file for one "
                f"{queries['write_probe_country']} case (open + five transitions), {writes['total_ms']} ms "
                "in all (auto_explain"
                + (
                    f"; they include the {writes['statistics_trigger_statements']} upserts of the "
                    f"statistics' triggers, {writes['statistics_trigger_ms']} ms"
                    if writes.get("statistics_trigger_statements")
                    else ""
                )
                + f"); the slowest ({slowest['duration_ms']} ms):",
                "",
                "```",
                slowest["plan"].rstrip(),
                "```",
                "",
            ]
            tried = candidates.get(WRITE_PATH)
            if tried and tried.get("candidate"):
                out += [
                    f"Candidate: `{tried['candidate']}`. Execution {_f(tried['execution_ms_now'])} ms now, "
                    f"**{_f(tried.get('execution_ms_with_candidate'))} ms** with it (tried in a transaction, "
                    "rolled back; the statement's literals written in).",
                    "",
                ]
        out += [
            f"Verdict: **{'PASS' if queries['passed'] else 'FAIL'}**"
            + (
                f" ({len(queries['missed'])} of {len(queries['queries'])} queries missed)."
                if queries["missed"]
                else "."
            ),
            "",
        ]
    return out
