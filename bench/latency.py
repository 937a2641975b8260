"""Benchmark 2: end-to-end latency of a pledge submission, from the HTTP response to a Kafka consumer.

The pledges API runs as a process with its in-process outbox relay (the default). A consumer in another
process (bench/consumer.py) joins its own group on uncops.pledges.v1, is assigned and positioned at the end
before the load begins, and records the wall-clock time each event reaches it. An open-loop load generator
(httpx) submits pledges at exactly ``rate`` per second (the i-th request is due at t0 + i/rate, whatever
happened to the earlier ones) with at most ``concurrency`` requests in flight, ``rate * duration`` in all,
and records the wall-clock time each response arrived and the pledge id it returned. The consumer's
ce_subject header is the pledge id, which joins the two: latency = receive time - response time
(both ``time.time()`` on this machine). Goal: p99 < 100 ms.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import PLEDGES_TOPIC, REPO, cpu_snapshot, cpu_usage, summary_ms
from services.common.auth import Role, issue_token
from services.common.settings import Settings

GOAL_P99_MS = 100.0
WARMUP_REQUESTS = 50

BODY = {
    "member_state": "SEN",
    "summit": "UNCOPS-2018",
    "kind": "gender_parity",
    "title": "Reach 30 per cent women among IPOs",
    "text": "Senegal commits to raise the share of women among its individual police officers deployed to "
    "United Nations peace operations, through recruitment, pre-deployment training and selection.",
    "terms": {"indicator": "share of women", "target": "30", "unit": "percent", "target_date": "2028-12-31"},
}


BODY_BYTES = json.dumps(BODY).encode()
# Below uvicorn's keep-alive timeout (5 s), so the client never reuses a connection the server is closing.
KEEPALIVE_EXPIRY = 4.0


async def _warm_up(base_url: str, headers: dict[str, str]) -> int:
    headers = {**headers, "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        for _ in range(WARMUP_REQUESTS):
            response = await client.post("/pledges", content=BODY_BYTES)
            if response.status_code != 201:
                raise RuntimeError(
                    f"warm-up submission refused: {response.status_code} {response.text[:300]}"
                )
    return WARMUP_REQUESTS


async def _relay_metrics(base_url: str) -> dict[str, float]:
    """The in-process relay's counters from the service's /metrics."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    wanted = {
        'uncops_outbox_published_total{service="pledges"}': "published",
        'uncops_outbox_batch_seconds_count{service="pledges"}': "batches",
        'uncops_outbox_batch_seconds_sum{service="pledges"}': "batch_seconds",
    }
    values = {}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in wanted:
            values[wanted[name]] = float(value)
    return values


# httpx's connection pool spends CPU in proportion to the requests in flight on one client: with 60 in
# flight on a single AsyncClient (a server answering in 300 ms) the load generator burned ~21 ms of CPU per
# request and could not exceed ~40 requests/s, against ~3 ms and the full 200/s with the same 64 connections
# spread over 8 clients. So the load goes to clients of CONNECTIONS_PER_CLIENT connections each, every request
# to the least busy one; the bound on requests in flight stays global.
CONNECTIONS_PER_CLIENT = 8


async def _load(
    base_url: str, headers: dict[str, str], rate: float, duration: float, concurrency: int
) -> dict[str, Any]:
    total = int(rate * duration)
    per_client = min(CONNECTIONS_PER_CLIENT, concurrency)
    limits = httpx.Limits(
        max_connections=per_client, max_keepalive_connections=per_client, keepalive_expiry=KEEPALIVE_EXPIRY
    )
    slots = asyncio.Semaphore(concurrency)  # the bound on requests in flight, over all clients
    samples: list[dict[str, Any]] = []
    errors: dict[str, int] = {}
    headers = {**headers, "Content-Type": "application/json"}
    clients = [
        httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=30)
        for _ in range(-(-concurrency // per_client))
    ]
    in_flight = [0] * len(clients)

    async def submit(index: int, due: float) -> None:
        in_flight[index] += 1
        try:
            started = time.perf_counter()
            try:
                response = await clients[index].post("/pledges", content=BODY_BYTES)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            answered_wall = time.time()
            answered = time.perf_counter()
            if response.status_code != 201:
                errors[f"HTTP {response.status_code}"] = errors.get(f"HTTP {response.status_code}", 0) + 1
                return
            samples.append(
                {
                    "id": response.json()["id"],
                    "response_wall": answered_wall,
                    "request_wall": answered_wall - (answered - started),
                    "http_s": answered - started,
                    "start_lag_s": started - due,
                }
            )
        finally:
            in_flight[index] -= 1
            slots.release()

    tasks: list[asyncio.Task[None]] = []
    pending: set[asyncio.Task[None]] = set()
    try:
        t0 = time.perf_counter() + 0.05
        give_up = t0 + duration + max(10.0, duration / 2)  # bound: never schedule past this when behind
        for i in range(total):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.perf_counter() > give_up:
                break
            await slots.acquire()
            least_busy = min(range(len(clients)), key=in_flight.__getitem__)
            tasks.append(asyncio.create_task(submit(least_busy, due)))
        last_start = time.perf_counter()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=60)
        for task in pending:
            task.cancel()
        finished = time.perf_counter()
    finally:
        for client in clients:
            await client.aclose()
    started_count = len(tasks)
    return {
        "samples": samples,
        "errors": errors,
        "scheduled": total,
        "started": started_count,
        "unfinished": len(pending),
        "achieved_rate": round((started_count - 1) / (last_start - t0), 1) if started_count > 1 else 0.0,
        "completion_rate": round(len(samples) / (finished - t0), 1),
        "http_clients": len(clients),
        "connections_per_client": per_client,
    }


def _wait_for_file(path: Path, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the consumer exited with code {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the consumer was not ready after {timeout:.0f}s")
        time.sleep(0.05)


def latency(
    stack: Any,
    rate: float = 200,
    duration: float = 60,
    concurrency: int = 64,
    grace_seconds: float = 15,
    echo: Any = print,
    loop_runner: Any = asyncio.run,
) -> dict[str, Any]:
    """Runs against ``stack`` (a started deploy.stack.LocalStack): starts the pledges API, measures, stops."""
    work = stack.run_dir / "bench-latency"
    work.mkdir(parents=True, exist_ok=True)
    ready, out = work / "consumer-ready.json", work / "consumer-out.json"
    for path in (ready, out):
        path.unlink(missing_ok=True)
    base_url = f"http://127.0.0.1:{stack.ports.pledges}"
    headers = {"Authorization": f"Bearer {issue_token(Settings(), Role.STATE_FOCAL_POINT, 'SEN')}"}
    bootstrap = f"127.0.0.1:{stack.ports.kafka}"

    server = stack.start_service("pledges")  # the API with its in-process relay
    consumer: subprocess.Popen[bytes] | None = None
    try:
        warmed = loop_runner(_warm_up(base_url, headers))
        if warmed != WARMUP_REQUESTS:
            raise RuntimeError(f"only {warmed} of {WARMUP_REQUESTS} warm-up submissions succeeded")
        time.sleep(1)  # the warm-up's events leave before the consumer takes the end of the topic
        log = (stack.logs / "bench-consumer.log").open("ab")
        consumer = subprocess.Popen(
            [
                sys.executable, "-m", "bench.consumer", "--bootstrap", bootstrap, "--topic", PLEDGES_TOPIC,
                "--ready", str(ready), "--out", str(out), "--fetch-max-wait-ms", "5",
                "--max-seconds", str(duration + grace_seconds + 180),
            ],
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
        )  # fmt: skip
        log.close()
        _wait_for_file(ready, consumer, 90)
        assignment = json.loads(ready.read_text())["assignment"]
        echo(f"  consumer assigned {assignment}; load: {rate:g}/s for {duration:g}s")
        pids = {
            "pledges API + in-process relay": (server.popen.pid, False),
            "PostgreSQL (all backends)": (stack.processes["postgres"].popen.pid, True),
            "Kafka broker": (stack.processes["kafka"].popen.pid, False),
            "Temporal dev server (idle)": (stack.processes["temporal"].popen.pid, True),
            "consumer (bench.consumer)": (consumer.pid, False),
        }
        metrics_before = loop_runner(_relay_metrics(base_url))
        cpu_before, load_started = cpu_snapshot(pids), time.monotonic()
        load = loop_runner(_load(base_url, headers, rate, duration, concurrency))
        cpu = cpu_usage(cpu_before, cpu_snapshot(pids), time.monotonic() - load_started)
        metrics_after = loop_runner(_relay_metrics(base_url))
        assert consumer.stdin is not None
        consumer.stdin.write(f"stop {len(load['samples'])} {grace_seconds}\n".encode())
        consumer.stdin.flush()
        consumer.wait(grace_seconds + 60)
        received = json.loads(out.read_text())["records"]
    finally:
        if consumer is not None and consumer.poll() is None:
            consumer.kill()
            consumer.wait(10)
        stack.stop("pledges")
    return _analyse(load, received, cpu, metrics_before, metrics_after, rate, duration, concurrency)


def _analyse(
    load: dict[str, Any], received: list[list[Any]], cpu: dict[str, Any], metrics_before: dict[str, float],
    metrics_after: dict[str, float], rate: float, duration: float, concurrency: int,
) -> dict[str, Any]:  # fmt: skip
    by_subject: dict[str, list[float]] = {}
    for _event_id, subject, received_wall, kafka_ts, _partition in received:
        by_subject.setdefault(subject, [received_wall, kafka_ts])
    latencies, from_request, to_kafka, kafka_to_consumer = [], [], [], []
    lost = 0
    for sample in load["samples"]:
        hit = by_subject.get(sample["id"])
        if hit is None:
            lost += 1
            continue
        received_wall, kafka_ts = hit
        latencies.append(received_wall - sample["response_wall"])
        from_request.append(received_wall - sample["request_wall"])
        to_kafka.append(kafka_ts - sample["response_wall"])
        kafka_to_consumer.append(received_wall - kafka_ts)
    http = [s["http_s"] for s in load["samples"]]
    lags = [s["start_lag_s"] for s in load["samples"]]
    event = summary_ms(latencies)
    p99 = event["p99_ms"]
    sent_ids = {s["id"] for s in load["samples"]}
    relay = {k: metrics_after.get(k, 0.0) - metrics_before.get(k, 0.0) for k in metrics_after}
    batches = relay.get("batches", 0.0)
    return {
        "goal": f"event latency p99 < {GOAL_P99_MS:g} ms",
        "passed": p99 is not None and p99 < GOAL_P99_MS and lost == 0 and not load["errors"],
        "rate_per_s": rate,
        "duration_s": duration,
        "concurrency_limit": concurrency,
        "scheduled": load["scheduled"],
        "sent": load["started"],
        "accepted": len(load["samples"]),
        "received": len(latencies),
        "lost": lost,
        "unexpected_events": sum(1 for subject in by_subject if subject not in sent_ids),
        "duplicates": len(received) - len(by_subject),
        "distinct_event_ids": len({record[0] for record in received}),
        "http_errors": load["errors"],
        "unfinished_requests": load["unfinished"],
        "achieved_request_rate": load["achieved_rate"],
        "completion_rate": load["completion_rate"],
        "event_latency": event,
        "negative_latencies": sum(1 for x in latencies if x < 0),
        "latency_from_request_start": summary_ms(from_request),
        "response_to_kafka_timestamp": summary_ms(to_kafka),
        "kafka_timestamp_to_consumer": summary_ms(kafka_to_consumer),
        "http": summary_ms(http),
        "start_lag": summary_ms(lags),
        "start_lag_over_10ms": sum(1 for x in lags if x > 0.010),
        "warmup_requests": WARMUP_REQUESTS,
        "http_clients": load["http_clients"],
        "connections_per_client": load["connections_per_client"],
        "relay_during_load": {
            "published": relay.get("published"),
            "batches": batches,
            "mean_events_per_batch": round(relay.get("published", 0.0) / batches, 2) if batches else None,
            "mean_batch_ms": round(relay.get("batch_seconds", 0.0) / batches * 1000, 2) if batches else None,
        },
        "cpu_during_load": cpu,
    }
