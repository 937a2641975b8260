"""Benchmark 14 (issue 19): how long a person waits for one step — a case, a pledge or a delegation step, each
an HTTP request that becomes a workflow Update — and where that time goes.

Each kind runs twice: one step after another (one person clicking), then 16 steps in flight (16 people at
once, each on their own case, pledge or delegation). The goal: p50 <= 30 ms and p99 <= 80 ms one after
another, p99 <= 150 ms with 16 in flight.

The latency profile of a case step puts together three clocks: the client's (the whole request), the API's
``Server-Timing`` header (services/common/timing.py: authentication, SQL statements, waiting for the workflow,
the whole of the app) and the workflow's history on the Temporal server (when each workflow task and activity
was scheduled, started and completed).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.case_data import intake_body
from bench.cases import _queue_polled, _scratch_database, transitions
from bench.common import cpu_snapshot, cpu_usage, summary_ms
from bench.plain_workflow import TASK_QUEUE as PLAIN_QUEUE
from bench.plain_workflow import PlainWorkflow
from bench.summit_delegations import roster
from services.common.auth import Role, issue_token
from services.common.settings import Settings
from services.common.timing import parse

GOAL_P50_MS = 30.0
GOAL_P99_MS = 80.0
GOAL_P99_IN_FLIGHT_MS = 150.0
IN_FLIGHT = 16
KINDS = ("case", "pledge", "delegation")
PLEDGE_STATES = ("GHA", "SEN", "RWA", "NPL", "BGD", "IDN", "JOR", "EGY", "FRA", "NOR", "CHN", "BRA", "IND")


@dataclass
class Sample:
    """One step as the client saw it, with the API's Server-Timing phases (ms)."""

    kind: str
    action: str
    seconds: float
    phases: dict[str, float]
    subject: str  # the case id, for the profile


@dataclass
class Samples:
    items: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Refused(Exception):
    pass


def _headers(role: Role, state: str | None = None) -> dict[str, str]:
    token = issue_token(Settings(), role, state, subject=f"bench-steps-{role.value}-{state or ''}")
    return {"Authorization": f"Bearer {token}"}


async def _post(http: httpx.AsyncClient, path: str, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = await http.post(path, headers=headers, json=body)
    if response.status_code not in (200, 201):
        raise Refused(f"POST {path} {body.get('action', '')}: {response.status_code} {response.text[:300]}")
    return response


async def _step(
    http: httpx.AsyncClient,
    samples: Samples,
    kind: str,
    subject: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any],
) -> None:
    started = time.perf_counter()
    response = await _post(http, path, headers, body)
    elapsed = time.perf_counter() - started
    phases = parse(response.headers.get("server-timing", ""))
    samples.items.append(Sample(kind, str(body.get("action", "register")), elapsed, phases, subject))


# ---------------------------------------------------------------- the three kinds of step


class Flow(Protocol):
    """Makes the subjects (not timed), then takes their steps (timed)."""

    kind: str

    async def prepare(self, http: httpx.AsyncClient, count: int) -> list[str]: ...

    async def steps(self, http: httpx.AsyncClient, samples: Samples, subject: str) -> None: ...


class CaseFlow:
    kind = "case"

    def __init__(self, base: str) -> None:
        self.base = base
        self.officer = _headers(Role.CONDUCT_OFFICER)
        self.rng = random.Random(2019)
        self.opened = 0

    async def prepare(self, http: httpx.AsyncClient, count: int) -> list[str]:
        ids = []
        for _ in range(count):
            self.opened += 1
            body = intake_body(self.rng, datetime.now(UTC).date(), self.opened)
            ids.append((await _post(http, f"{self.base}/cases", self.officer, body)).json()["case_id"])
        return ids

    async def steps(self, http: httpx.AsyncClient, samples: Samples, subject: str) -> None:
        for action, fields in transitions():
            body = {"action": action, **fields}
            await _step(
                http, samples, self.kind, subject, f"{self.base}/cases/{subject}/actions", self.officer, body
            )


class PledgeFlow:
    kind = "pledge"

    def __init__(self, base: str) -> None:
        self.base = base
        self.planner = _headers(Role.PLANNER)
        self.states = {state: _headers(Role.STATE_FOCAL_POINT, state) for state in PLEDGE_STATES}
        self.state_of: dict[str, str] = {}
        self.made = 0

    async def prepare(self, http: httpx.AsyncClient, count: int) -> list[str]:
        ids = []
        for _ in range(count):
            self.made += 1
            state = PLEDGE_STATES[self.made % len(PLEDGE_STATES)]
            body = {
                "member_state": state,
                "kind": "gender_parity",
                "title": f"Women in formed police units {uuid.uuid4().hex[:8]}",
                "text": "Benchmark pledge.",
                "terms": {
                    "indicator": "share of women",
                    "baseline": "12",
                    "target": "30",
                    "unit": "percent",
                    "target_date": str(
                        datetime.now(UTC).date().replace(month=12, day=31) + timedelta(days=366)
                    ),
                },
            }
            pledge_id = (await _post(http, f"{self.base}/pledges", self.states[state], body)).json()["id"]
            self.state_of[pledge_id] = state
            ids.append(pledge_id)
        return ids

    async def steps(self, http: httpx.AsyncClient, samples: Samples, subject: str) -> None:
        state = self.states[self.state_of[subject]]
        path = f"{self.base}/pledges/{subject}/actions"
        for headers, body in (
            (self.planner, {"action": "acknowledge"}),
            (self.planner, {"action": "start_review"}),
            (self.planner, {"action": "accept"}),
            (
                state,
                {"action": "report_progress", "period": "2026-H2", "stage": "in_progress", "value": "14"},
            ),
            (self.planner, {"action": "confirm_fulfilment", "evidence": "Deployment records verified"}),
        ):
            await _step(http, samples, self.kind, subject, path, headers, body)


class DelegationFlow:
    """Delegations of one summit (193 Member States invited): register, start_review, accredit, confirm."""

    kind = "delegation"

    def __init__(self, base: str) -> None:
        self.base = base
        self.planner = _headers(Role.PLANNER)
        self.waiting: list[tuple[str, str]] = []  # (state, delegation id) not yet used
        self.state_of: dict[str, str] = {}
        self.summit = ""

    async def _new_summit(self, http: httpx.AsyncClient) -> None:
        self.summit = f"UNCOPS-S{uuid.uuid4().hex[:6].upper()}"
        body = {
            "id": self.summit,
            "name": "Steps benchmark",
            "starts_on": "2031-06-02",
            "ends_on": "2031-06-03",
        }
        await _post(http, f"{self.base}/summits", self.planner, body)
        capacity = await http.put(
            f"{self.base}/summits/{self.summit}/capacity", headers=self.planner, json={"capacity": 5000}
        )
        capacity.raise_for_status()
        invited = await _post(
            http,
            f"{self.base}/summits/{self.summit}/invitations",
            self.planner,
            {
                "member_states": "all",
                "note_verbale": "PD/STEPS/{member_state}",
                "registration_deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
            },
        )
        self.waiting = [(d["member_state"], d["id"]) for d in invited.json()["invited"]]

    async def prepare(self, http: httpx.AsyncClient, count: int) -> list[str]:
        ids = []
        for _ in range(count):
            if not self.waiting:
                await self._new_summit(http)
            state, delegation_id = self.waiting.pop()
            self.state_of[delegation_id] = state
            ids.append(f"{self.summit}/{delegation_id}")
        return ids

    async def steps(self, http: httpx.AsyncClient, samples: Samples, subject: str) -> None:
        summit, delegation_id = subject.split("/")
        state = self.state_of[delegation_id]
        path = f"{self.base}/summits/{summit}/delegations/{delegation_id}"
        await _step(
            http,
            samples,
            self.kind,
            subject,
            f"{path}/register",
            _headers(Role.STATE_FOCAL_POINT, state),
            roster(state, members=5),
        )
        for action in ("start_review", "accredit", "confirm"):
            await _step(
                http, samples, self.kind, subject, f"{path}/actions", self.planner, {"action": action}
            )


# ---------------------------------------------------------------- runs


async def _run(flow: Flow, subjects: int, in_flight: int, time_limit: float) -> tuple[Samples, float]:
    samples = Samples()
    limits = httpx.Limits(
        max_connections=in_flight, max_keepalive_connections=in_flight, keepalive_expiry=4.0
    )
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        ids = await flow.prepare(http, subjects)
        await asyncio.sleep(1)  # the new workflows' first tasks done: the steps are measured alone
        queue = list(reversed(ids))
        started = time.perf_counter()
        give_up = started + time_limit

        async def lane() -> None:
            while queue and time.perf_counter() < give_up:
                subject = queue.pop()
                try:
                    await flow.steps(http, samples, subject)
                except (httpx.HTTPError, Refused) as exc:
                    samples.errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")

        await asyncio.gather(*(lane() for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
    return samples, elapsed


def _summary(samples: Samples, seconds: float) -> dict[str, Any]:
    latencies = [s.seconds for s in samples.items]
    by_action: dict[str, list[float]] = {}
    for s in samples.items:
        by_action.setdefault(s.action, []).append(s.seconds)
    return {
        "steps": len(latencies),
        "errors": len(samples.errors),
        "error_examples": samples.errors[:3],
        "seconds": round(seconds, 2),
        "steps_per_s": round(len(latencies) / seconds, 1) if seconds else None,
        "latency": summary_ms(latencies),
        "by_action": {action: summary_ms(values) for action, values in by_action.items()},
    }


# ---------------------------------------------------------------- the profile of a case step


def _ms(later: Timestamp, earlier: Timestamp) -> float:
    return (later.ToNanoseconds() - earlier.ToNanoseconds()) / 1e6


def update_timelines(events: Sequence[Any]) -> list[dict[str, float]]:
    """Per accepted Update of a workflow history: how long its workflow tasks and activities waited and ran
    (ms), and the span from its first workflow task's scheduling to its completion."""
    timelines: list[dict[str, float]] = []
    pending: list[Any] = []  # the events since the last completed Update, up to the next Update accepted
    current: dict[str, float] | None = None
    first_scheduled: Timestamp | None = None
    scheduled: dict[str, Timestamp] = {}
    for event in events:
        kind = event.event_type
        at = event.event_time
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            scheduled["wft"] = at
            if current is None:
                first_scheduled = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            scheduled["wft_started"] = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            scheduled["wft_completed"] = at
            if current is not None:
                n = current["workflow_tasks"] = current.get("workflow_tasks", 0) + 1
                current[f"workflow task {int(n)}: waiting"] = _ms(scheduled["wft_started"], scheduled["wft"])
                current[f"workflow task {int(n)}: running"] = _ms(at, scheduled["wft_started"])
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            assert first_scheduled is not None
            current = {"workflow_tasks": 1.0}
            current["workflow task 1: waiting"] = _ms(scheduled["wft_started"], scheduled["wft"])
            current["workflow task 1: running"] = _ms(scheduled["wft_completed"], scheduled["wft_started"])
            current["_first_scheduled"] = first_scheduled.ToNanoseconds() / 1e6
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED and current is not None:
            scheduled["activity"] = at
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED and current is not None:
            scheduled["activity_started"] = at
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED and current is not None:
            current["activity: waiting"] = _ms(scheduled["activity_started"], scheduled["activity"])
            current["activity: running"] = _ms(at, scheduled["activity_started"])
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED and current is not None:
            current["local activities"] = current.get("local activities", 0) + 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED and current is not None:
            current["history span"] = at.ToNanoseconds() / 1e6 - current.pop("_first_scheduled")
            current["history events"] = float(len(pending) + 1)
            timelines.append(current)
            current = None
            first_scheduled = None
            pending = []
            continue
        pending.append(event)
    return timelines


async def _profile(address: str, samples: Samples, subjects: int) -> dict[str, Any]:
    client = await Client.connect(address)
    by_case: dict[str, list[Sample]] = {}
    for s in samples.items:
        if s.kind == "case":
            by_case.setdefault(s.subject, []).append(s)
    rows: list[dict[str, float]] = []
    for case_id, steps in list(by_case.items())[:subjects]:
        history = await client.get_workflow_handle(f"case-{case_id}").fetch_history()
        timelines = update_timelines(list(history.events))
        for sample, timeline in zip(steps, timelines, strict=False):
            p = sample.phases
            app, auth, db, wf = (
                p.get("app", 0.0),
                p.get("auth", 0.0),
                p.get("db", 0.0),
                p.get("workflow", 0.0),
            )
            row = {
                "HTTP between client and app (network, uvicorn, middleware)": sample.seconds * 1000 - app,
                "authentication (JWT)": auth,
                "API's SQL statements (read the case)": db,
                "rest of the API (validation, rules, JSON)": app - auth - db - wf,
                "Update RPC outside the workflow's tasks": wf - timeline["history span"],
            }
            for key, value in timeline.items():
                if ":" in key:
                    row[key] = value
            row["workflow tasks per step"] = timeline["workflow_tasks"]
            row["history events per step"] = timeline["history events"]
            row["total (client)"] = sample.seconds * 1000
            rows.append(row)
    phases: list[str] = []
    for row in rows:
        phases += [k for k in row if k not in phases]
    return {
        "steps": len(rows),
        "phases": {
            name: {
                "p50_ms": round(statistics.median(values), 2),
                "mean_ms": round(statistics.fmean(values), 2),
                "of_steps": len(values),
            }
            for name in phases
            if (values := [row[name] for row in rows if name in row])
        },
    }


# The floors under a step, each an Update on a plain workflow through the Python client (no HTTP, no rules).
FLOORS = {
    "touch": "an empty Update",
    "touch_local": "an Update running one local activity that does nothing",
    "insert_local": "an Update whose local activity does one INSERT",
}


async def _floor(address: str, updates: int) -> dict[str, Any]:
    """What the Temporal server and the Python SDK alone take on this machine under any step, then with a
    local activity, then with a local activity that writes: each kind in turn, so they share the noise."""
    client = await Client.connect(address)
    handle = await client.start_workflow(
        PlainWorkflow.run, id=f"bench-floor-{uuid.uuid4()}", task_queue=PLAIN_QUEUE
    )
    latencies: dict[str, list[float]] = {name: [] for name in FLOORS}
    for n in range(updates + 10):
        for name in FLOORS:
            started = time.perf_counter()
            await handle.execute_update(name, n, result_type=int)
            if n >= 10:  # the first ten warm up
                latencies[name].append(time.perf_counter() - started)
    await handle.terminate("floor measured")
    return {
        "updates": updates,
        "latency": summary_ms(latencies["touch"]),
        "kinds": {name: summary_ms(values) for name, values in latencies.items()},
    }


def _capacity(cpu: dict[str, Any], seconds: float, samples: Samples) -> dict[str, Any]:
    """The CPU one step costs across the processes measured, what the machine's cores could therefore serve
    at most, and the least mean latency that leaves with IN_FLIGHT steps in flight (Little's law)."""
    steps = len(samples.items)
    if not steps:
        return {}
    cpu_ms = {name: round(cores * seconds / steps * 1000, 1) for name, cores in cpu["cores_used"].items()}
    per_step = sum(cpu_ms.values())
    ceiling = cpu["machine_cores"] * 1000 / per_step if per_step else None
    return {
        "cpu_ms_per_step": cpu_ms,
        "cpu_ms_per_step_total": round(per_step, 1),
        "ceiling_steps_per_s": round(ceiling, 1) if ceiling else None,
        "least_mean_latency_ms": round(IN_FLIGHT / ceiling * 1000, 1) if ceiling else None,
    }


def _verdict(kind: dict[str, Any]) -> bool:
    one, many = kind["one_at_a_time"], kind["in_flight"]
    return (
        one["errors"] == 0
        and many["errors"] == 0
        and one["latency"]["p50_ms"] is not None
        and one["latency"]["p50_ms"] <= GOAL_P50_MS
        and one["latency"]["p99_ms"] <= GOAL_P99_MS
        and many["latency"]["p99_ms"] <= GOAL_P99_IN_FLIGHT_MS
    )


def steps(
    stack: Any,
    subjects: int = 40,
    in_flight_subjects: int = 160,
    echo: Callable[[str], None] = print,
    loop_runner: Callable[[Any], Any] = asyncio.run,
) -> dict[str, Any]:
    """Runs against ``stack`` (started infrastructure): starts the three services' workers and APIs."""
    names = ("cases", "pledges", "summit")
    address = f"127.0.0.1:{stack.ports.temporal}"
    stack.check_ports(list(names))  # nothing left answering there: the processes measured are these
    for name in names:
        stack.start_service(name, "worker")
        stack.start_service(name)
    try:
        stack.spawn(
            "bench-plain-worker",
            [
                sys.executable,
                "-m",
                "bench.plain_workflow",
                "--address",
                address,
                "--dsn",
                loop_runner(_scratch_database(stack.ports.postgres)),
            ],
        )
        stack.wait_for("bench-plain-worker", lambda: asyncio.run(_queue_polled(address, PLAIN_QUEUE)), 60)
        floor = loop_runner(_floor(address, 200))
        stack.stop("bench-plain-worker")
        for name, text in FLOORS.items():
            ms = floor["kinds"][name]
            echo(f"  floor, {text}: p50 {ms['p50_ms']} / p99 {ms['p99_ms']} ms")
        flows: dict[str, Flow] = {
            "case": CaseFlow(f"http://127.0.0.1:{stack.ports.cases}"),
            "pledge": PledgeFlow(f"http://127.0.0.1:{stack.ports.pledges}"),
            "delegation": DelegationFlow(f"http://127.0.0.1:{stack.ports.summit}"),
        }
        pids = {
            **{f"{n} API": (stack.processes[n].popen.pid, False) for n in names},
            **{f"{n} worker": (stack.processes[f"{n}-worker"].popen.pid, False) for n in names},
            "PostgreSQL (all backends)": (stack.processes["postgres"].popen.pid, True),
            "Temporal dev server": (stack.processes["temporal"].popen.pid, True),
        }
        kinds: dict[str, Any] = {}
        profile_samples = Samples()
        for kind, flow in flows.items():
            loop_runner(_run(flow, 4, 4, 120))  # warm-up: connections, caches, each step's code
            one, one_seconds = loop_runner(_run(flow, subjects, 1, 300))
            before = cpu_snapshot(pids)
            many, many_seconds = loop_runner(_run(flow, in_flight_subjects, IN_FLIGHT, 300))
            cpu = cpu_usage(before, cpu_snapshot(pids), many_seconds)
            kinds[kind] = {
                "one_at_a_time": _summary(one, one_seconds),
                "in_flight": {
                    **_summary(many, many_seconds),
                    "cpu": cpu,
                    **_capacity(cpu, many_seconds, many),
                },
            }
            kinds[kind]["passed"] = _verdict(kinds[kind])
            if kind == "case":
                profile_samples = one
            o, m = kinds[kind]["one_at_a_time"]["latency"], kinds[kind]["in_flight"]["latency"]
            echo(
                f"  {kind} steps: one at a time p50 {o['p50_ms']} / p99 {o['p99_ms']} ms; "
                f"{IN_FLIGHT} in flight p50 {m['p50_ms']} / p99 {m['p99_ms']} ms"
            )
        profile = loop_runner(_profile(address, profile_samples, subjects))
    finally:
        stack.stop("bench-plain-worker")
        for name in names:
            stack.stop(name)
            stack.stop(f"{name}-worker")
    return {
        "goal": (
            f"p50 <= {GOAL_P50_MS:g} ms and p99 <= {GOAL_P99_MS:g} ms one at a time; "
            f"p99 <= {GOAL_P99_IN_FLIGHT_MS:g} ms with {IN_FLIGHT} in flight"
        ),
        "passed": all(k["passed"] for k in kinds.values()),
        "subjects": subjects,
        "in_flight_subjects": in_flight_subjects,
        "in_flight": IN_FLIGHT,
        "kinds": kinds,
        "floor": floor,
        "case_step_profile": profile,
    }


# ---------------------------------------------------------------- reporting


# The API's own phases of a step (the profile's rows before the Update RPC): what HTTP adds to a bare Update.
API_PHASES = (
    "HTTP between client and app (network, uvicorn, middleware)",
    "authentication (JWT)",
    "API's SQL statements (read the case)",
    "rest of the API (validation, rules, JSON)",
)


def _least_step(floors: dict[str, Any], profile: dict[str, Any]) -> list[str]:
    """The least a step that writes can take here: the API's phases of a case step plus the floor of an Update
    whose local activity does one INSERT, before any rule, audit entry or event."""
    phases = profile["phases"]
    if not all(name in phases for name in API_PHASES):
        return []
    api = sum(phases[name]["p50_ms"] for name in API_PHASES)
    write = floors["insert_local"]["p50_ms"]
    return [
        f"So the least a step that writes can take here, before the workflow applies its rules and writes a "
        f"state, an audit entry and events, is about "
        f"{_f(api + write)} ms at p50: the API's phases of a case step ({_f(api)} ms) plus an Update whose "
        f"local activity does one INSERT ({_f(write)} ms).",
        "",
    ]


def _f(value: Any) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    r = results["benchmarks"].get("steps")
    if r is None:
        return []
    if "error" in r:
        return [("steps: case, pledge and delegation steps", f"error: {r['error']}", "p50 <= 30 ms", "FAIL")]
    out = []
    for kind, k in r["kinds"].items():
        o, m = k["one_at_a_time"], k["in_flight"]
        out.append(
            (
                f"steps: a {kind} step",
                f"one at a time p50 {_f(o['latency']['p50_ms'])} / p99 {_f(o['latency']['p99_ms'])} ms; "
                f"{r['in_flight']} in flight p99 {_f(m['latency']['p99_ms'])} ms "
                f"(CPU {_f(m.get('cpu_ms_per_step_total'))} ms a step: at most "
                f"{_f(m.get('ceiling_steps_per_s'))} steps/s, "
                f"mean >= {_f(m.get('least_mean_latency_ms'))} ms); "
                f"errors {o['errors'] + m['errors']}",
                f"p50 <= {GOAL_P50_MS:g}, p99 <= {GOAL_P99_MS:g}; p99 <= {GOAL_P99_IN_FLIGHT_MS:g} in flight",
                "PASS" if k["passed"] else "FAIL",
            )
        )
    return out


SERVICE_OF = {"case": "cases", "pledge": "pledges", "delegation": "summit"}


def kind_api(kind: str) -> str:
    return f"{SERVICE_OF[kind]} API"


def kind_worker(kind: str) -> str:
    return f"{SERVICE_OF[kind]} worker"


def markdown_sections(results: dict[str, Any]) -> list[str]:
    r = results["benchmarks"].get("steps")
    if r is None or "error" in r:
        return []
    out = [
        "## 14. Steps: how long one step takes",
        "",
        "Each step is an HTTP request that becomes a workflow Update. Per kind, "
        f"{r['subjects']} cases, pledges or delegations are taken through their steps one request after "
        "another, then "
        f"{r['in_flight_subjects']} with {r['in_flight']} in flight (each lane on its own subject). Case: "
        "the five transitions of benchmark 3. Pledge: acknowledge, start_review, accept, report_progress, "
        "confirm_fulfilment. Delegation (193 States invited to a summit): register (5 persons), "
        "start_review, accredit, confirm. Creating the subjects is not timed.",
        "",
        "| kind | run | steps | steps/s | p50 ms | p90 ms | p99 ms | max ms | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, k in r["kinds"].items():
        for label, run in (
            ("one at a time", k["one_at_a_time"]),
            (f"{r['in_flight']} in flight", k["in_flight"]),
        ):
            lat = run["latency"]
            out.append(
                f"| {kind} | {label} | {run['steps']:,} | {_f(run['steps_per_s'])} | {_f(lat['p50_ms'])} | "
                f"{_f(lat['p90_ms'])} | {_f(lat['p99_ms'])} | {_f(lat['max_ms'])} | {run['errors']} |"
            )
    out += [
        "",
        f"With {r['in_flight']} in flight the steps are bound by the CPU: what one step costs across the "
        "processes (ms of CPU; the load generator included), what the machine's cores could serve at most, "
        f"and the least mean latency that leaves with {r['in_flight']} in flight (Little's law):",
        "",
        "| kind | API | worker | Temporal | PostgreSQL | load generator | all | most steps/s "
        "| least mean ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, k in r["kinds"].items():
        run = k["in_flight"]
        ms = run.get("cpu_ms_per_step", {})

        def part(prefix: str, ms: dict[str, float] = ms) -> str:
            return _f(sum(v for name, v in ms.items() if name.startswith(prefix)))

        out.append(
            f"| {kind} | {part(kind_api(kind))} | {part(kind_worker(kind))} | {part('Temporal')} | "
            f"{part('PostgreSQL')} | {part('this process')} | {_f(run.get('cpu_ms_per_step_total'))} | "
            f"{_f(run.get('ceiling_steps_per_s'))} | {_f(run.get('least_mean_latency_ms'))} |"
        )
    profile = r["case_step_profile"]
    floors = r["floor"]["kinds"]
    out += [
        "",
        f"The floors under a step: Updates on a plain workflow through the Python client (no HTTP, no rules, "
        f"no audit, no outbox), {r['floor']['updates']} of each kind, taken in turn:",
        "",
        "| Update | p50 ms | p99 ms |",
        "|---|---|---|",
        *[
            f"| {text} | {_f(floors[name]['p50_ms'])} | {_f(floors[name]['p99_ms'])} |"
            for name, text in FLOORS.items()
        ],
        "",
        f"Where a case step's time goes (one at a time, {profile['steps']} steps): the client's clock, the "
        "API's `Server-Timing` header and the workflow's history on the Temporal server.",
        "",
        "| phase | p50 ms | mean ms | of steps |",
        "|---|---|---|---|",
        *[
            f"| {name} | {v['p50_ms']:.2f} | {v['mean_ms']:.2f} | {v['of_steps']} |"
            for name, v in profile["phases"].items()
        ],
        "",
        *_least_step(floors, profile),
        "The profile before this issue's changes, and what changed: "
        "[docs/decisions/0005-fast-steps.md](docs/decisions/0005-fast-steps.md).",
        "",
    ]
    return out
