"""``make bench``: start a local stack of its own, run every benchmark, print a table, write the raw
results to bench/results/<timestamp>.json and rewrite BENCHMARKS.md.

    .venv/bin/python -m bench.run            # the full run (what BENCHMARKS.md should show)
    .venv/bin/python -m bench.run --quick    # a short trial (smaller loads: QUICK_NOTE below)
    .venv/bin/python -m bench.run --only cases_queries   # one benchmark (repeatable)
    .venv/bin/python -m bench.run --only pledges_intake --port-offset 1100   # beside another run

The stack runs on ports of its own (20432, 20092/20093, 20233/20234, 20000-20004) and in .run/bench, so it
never collides with ``make run`` or ``make test``. PostgreSQL runs with its production defaults (fsync on).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench.common import BENCH_PORTS, REPO, dumps, machine
from deploy.stack import LocalStack, Ports, StackError

# Below the ephemeral range, as deploy.stack.TEST_PORTS.
RUN_DIR = REPO / ".run" / "bench"
RESULTS = REPO / "bench" / "results"
MARKDOWN = REPO / "BENCHMARKS.md"

T = TypeVar("T")
BENCHMARKS = (
    "relay_throughput",
    "latency",
    "cases_throughput",
    "cases_timers",
    "cases_queries",
    "pledges_intake",
    "pledges_import",
    "summit_delegations",
    "summit_agenda",
    "console_pages",
    "console_summit_pages",
    # Issue 18: the partner gateway (bench/partners.py).
    "partners_webhooks",
    "partners_feed",
    # Issue 19: fast steps (bench/steps.py).
    "steps",
)
# What --quick shrinks: latency load 10 s (not 60); cases throughput 50 cases in 1 round (not 200 in 2);
# 1,000 live timers sampled 20 s (not 10,000 over 60 s); queries 50 times each (not 200), still over 100,000.
QUICK_NOTE = (
    "the latency load lasts 10 s instead of 60 s; the cases throughput runs 50 cases in one round instead "
    "of 200 in two; 1,000 cases with live timers sampled for 20 s instead of 10,000 over 60 s; each case "
    "query runs 50 times instead of 200; the pledge intake sends 1,000 requests in one round instead of "
    "3,000 in two; the agenda check tries 500 candidate sessions instead of 2,000; the console's officers "
    "browse for 15 s instead of 60 s, the planners for 15 s instead of 60 s; each webhook phase lasts 20 s "
    "instead of 60 s; the feed reads 20,000 events in one round instead of 100,000 in two; the steps run "
    "on 20 subjects one at a time and 64 in flight instead of 40 and 160"
)


def event_loop_name(choice: str) -> str:
    if choice == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            return "asyncio"
    return choice


def runner_for(loop: str) -> Callable[[Coroutine[Any, Any, T]], T]:
    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        if loop == "uvloop":
            import uvloop

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(coroutine)
        return asyncio.run(coroutine)

    return run


async def _postgres_version(port: int) -> str:
    import asyncpg

    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", timeout=10)
    try:
        return str(await conn.fetchval("SELECT version()"))
    finally:
        await conn.close()


def _prepare_run_dir(run_dir: Path) -> None:
    lock = run_dir / "stack.pid"
    if lock.exists():
        try:
            pid = int(lock.read_text().strip())
            os.kill(pid, 0)
        except (ValueError, OSError):
            pass
        else:
            raise StackError(f"another benchmark run (pid {pid}) is using {run_dir}")
    shutil.rmtree(run_dir, ignore_errors=True)  # fresh databases and topics every run


def run_benchmarks(args: argparse.Namespace, echo: Callable[[str], None]) -> dict[str, Any]:
    loop = event_loop_name(args.loop)
    run_async = runner_for(loop)
    # Another offset, another stack: a benchmark can run beside someone else's.
    ports = Ports(*(port + args.port_offset for port in dataclasses.astuple(BENCH_PORTS)))
    run_dir = RUN_DIR.with_name(f"bench-{args.port_offset}") if args.port_offset else RUN_DIR
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": args.command,
        "mode": "quick" if args.quick else "full",
        "event_loop_of_the_benchmark_clients": loop,
        "machine": machine(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "ports": dataclasses.asdict(ports),
        "benchmarks": {},
    }
    _prepare_run_dir(run_dir)
    stack = LocalStack(run_dir, ports, fast_postgres=False, echo=echo)
    stack.acquire()
    try:
        echo(
            "starting PostgreSQL, Kafka and Temporal "
            f"(ports {ports.postgres}, {ports.kafka}, {ports.temporal})"
        )
        started = time.monotonic()
        _start_infrastructure(stack, echo)
        echo(f"  up in {time.monotonic() - started:.0f}s")
        results["machine"]["postgres"] = run_async(_postgres_version(ports.postgres))
        wanted = args.only or list(BENCHMARKS)
        if "relay_throughput" in wanted:
            from bench.relay_throughput import relay_throughput

            echo("benchmark 1: outbox relay vs raw producer (50,000 events, 2 rounds)")
            results["benchmarks"]["relay_throughput"] = _guarded(
                lambda: run_async(
                    relay_throughput(
                        f"127.0.0.1:{ports.kafka}",
                        stack.database_url("pledges"),
                        echo=echo,
                        pids={
                            "PostgreSQL (all backends)": (stack.processes["postgres"].popen.pid, True),
                            "Kafka broker": (stack.processes["kafka"].popen.pid, False),
                        },
                    )
                ),
                echo,
            )
        if "latency" in wanted:
            from bench.latency import latency

            duration = 10 if args.quick else 60
            echo(f"benchmark 2: end-to-end latency at {args.latency_rate:g} submissions/s for {duration}s")
            results["benchmarks"]["latency"] = _guarded(
                lambda: latency(
                    stack, rate=args.latency_rate, duration=duration, echo=echo, loop_runner=run_async
                ),
                echo,
            )
        if "cases_throughput" in wanted:
            from bench.cases import cases_throughput

            n, rounds = (50, 1) if args.quick else (200, 2)
            echo(f"benchmark 3: cases through 5 transitions vs plain workflows ({n} each, {rounds} round(s))")
            results["benchmarks"]["cases_throughput"] = _guarded(
                lambda: cases_throughput(
                    stack, cases=n, concurrency=16, rounds=rounds, echo=echo, loop_runner=run_async
                ),
                echo,
            )
        if "cases_timers" in wanted:
            from bench.cases import cases_timers

            count, window = (1_000, 20) if args.quick else (10_000, 60)
            count = args.timer_cases or count
            echo(f"benchmark 4: {count:,} open cases with live timers, sampled {window}s")
            results["benchmarks"]["cases_timers"] = _guarded(
                lambda: cases_timers(
                    stack, count=count, sample_seconds=window, echo=echo, loop_runner=run_async
                ),
                echo,
            )
        if "cases_queries" in wanted:
            from bench.cases import cases_queries

            repeats = 50 if args.quick else 200
            echo(f"benchmark 5: list and statistics queries over 100,000 cases ({repeats} times each)")
            results["benchmarks"]["cases_queries"] = _guarded(
                lambda: cases_queries(
                    stack, total=100_000, repeats=repeats, echo=echo, loop_runner=run_async
                ),
                echo,
            )
        if "pledges_intake" in wanted:
            from bench.pledges import pledges_intake

            # Five rounds each: the machine's speed drifts by a fifth within a run (a bare round's load
            # generator needed 1.69 to 2.6 ms per request in one run), and the best of three was often one
            # lucky round.
            requests, rounds = (1_000, 1) if args.quick else (3_000, 5)
            echo(f"benchmark 6: pledge intake vs a bare endpoint ({requests:,} requests, {rounds} round(s))")
            results["benchmarks"]["pledges_intake"] = _guarded(
                lambda: pledges_intake(
                    stack, requests=requests, rounds=rounds, concurrency=32, echo=echo, loop_runner=run_async
                ),
                echo,
            )
        if "pledges_import" in wanted:
            from bench.pledges import pledges_import

            echo("benchmark 7: bulk import of 10,000 pledges")
            results["benchmarks"]["pledges_import"] = _guarded(
                lambda: pledges_import(stack, rows=10_000, echo=echo, loop_runner=run_async), echo
            )
        if "summit_delegations" in wanted:
            from bench.summit_delegations import summit_delegations

            echo("benchmark 8: 193 delegations of 10 registering at once, then 1,000 over 6 summits")
            results["benchmarks"]["summit_delegations"] = _guarded(
                lambda: summit_delegations(stack, echo=echo, loop_runner=run_async), echo
            )
        if "summit_agenda" in wanted:
            from bench.summit_agenda import run as agenda_run

            candidates = 500 if args.quick else 2_000
            echo(f"benchmark 9: conflict checks of {candidates:,} sessions against 300, and exports")
            results["benchmarks"]["summit_agenda"] = _guarded(
                lambda: agenda_run(sessions=300, candidates=candidates, seed=2030), echo
            )
        if "console_pages" in wanted:
            from bench.console import console_pages

            seconds = 15 if args.quick else 60
            echo(f"benchmark 10: 20 officers browsing the console over 100,000 cases for {seconds} s")
            results["benchmarks"]["console_pages"] = _guarded(
                lambda: console_pages(
                    stack, total=100_000, seconds=seconds, echo=echo, loop_runner=run_async
                ),
                echo,
            )
        if "console_summit_pages" in wanted:
            from bench.console_summit import console_summit_pages

            seconds = 15 if args.quick else 60
            echo(f"benchmark 11: 5 planners browsing a 300-session, 193-delegation summit for {seconds} s")
            results["benchmarks"]["console_summit_pages"] = _guarded(
                lambda: console_summit_pages(stack, seconds=seconds, echo=echo, loop_runner=run_async), echo
            )
        # Issue 18: the partner gateway.
        if "partners_webhooks" in wanted:
            from bench.partners import partners_webhooks

            seconds = 20 if args.quick else 60
            echo(
                "benchmark 12: webhook delivery latency at 100 deliveries/s over 50 subscriptions, "
                f"then with 5 endpoints dead ({seconds} s a phase)"
            )
            results["benchmarks"]["partners_webhooks"] = _guarded(
                lambda: partners_webhooks(stack, seconds=seconds, echo=echo, loop_runner=run_async), echo
            )
        if "partners_feed" in wanted:
            from bench.partners import partners_feed

            events, rounds = (20_000, 1) if args.quick else (100_000, 2)
            echo(f"benchmark 13: event feed read from the beginning of {events:,} events, {rounds} round(s)")
            results["benchmarks"]["partners_feed"] = _guarded(
                lambda: partners_feed(stack, events=events, rounds=rounds, echo=echo, loop_runner=run_async),
                echo,
            )
        # Issue 19: how long one step takes, and where the time goes.
        if "steps" in wanted:
            from bench.steps import steps

            subjects, in_flight_subjects = (20, 64) if args.quick else (40, 160)
            echo(f"benchmark 14: case, pledge and delegation steps, one at a time and {16} in flight")
            results["benchmarks"]["steps"] = _guarded(
                lambda: steps(
                    stack,
                    subjects=subjects,
                    in_flight_subjects=in_flight_subjects,
                    echo=echo,
                    loop_runner=run_async,
                ),
                echo,
            )
    finally:
        echo("stopping the stack")
        stack.stop_all()
        stack.release()
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def _start_infrastructure(stack: LocalStack, echo: Callable[[str], None]) -> None:
    for attempt in (1, 2):
        try:
            stack.start_infrastructure()
            return
        except StackError as exc:
            # deploy/stack.py draws a Kafka cluster id that may begin with "-", which the storage tool takes
            # for an option (about 1 start in 64): start again with a fresh Kafka folder.
            if attempt == 2 or "formatting Kafka storage failed" not in str(exc):
                raise
            echo("  Kafka storage format refused the cluster id; starting the servers again")
            stack.stop_all()
            shutil.rmtree(stack.run_dir / "kafka", ignore_errors=True)


def _guarded(benchmark: Callable[[], dict[str, Any]], echo: Callable[[str], None]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        result = benchmark()
    except Exception as exc:
        echo(f"  FAILED: {exc!r}")
        return {"passed": False, "error": repr(exc), "traceback": traceback.format_exc()}
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    return result


# ---- reporting
def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(benchmark, result, goal, verdict) for the summary table."""
    table = []
    relay = results["benchmarks"].get("relay_throughput")
    if relay is not None:
        if "error" in relay:
            table.append(
                ("relay throughput / raw producer", f"error: {relay['error']}", "relay/raw >= 0.8", "FAIL")
            )
        else:
            table.append(
                (
                    "relay throughput / raw producer",
                    f"{relay['ratio']:.2f} (relay {_fmt(relay['relay_events_per_s'])}/s, "
                    f"raw {_fmt(relay['raw_events_per_s'])}/s, best of {len(relay['runs']) // 2})",
                    "ratio >= 0.8",
                    "PASS" if relay["passed"] else "FAIL",
                )
            )
    lat = results["benchmarks"].get("latency")
    if lat is not None:
        if "error" in lat:
            table.append(("end-to-end latency at 200/s", f"error: {lat['error']}", "p99 < 100 ms", "FAIL"))
        else:
            e = lat["event_latency"]
            table.append(
                (
                    f"end-to-end event latency at {lat['rate_per_s']:g}/s",
                    f"p50 {_fmt(e['p50_ms'])} / p90 {_fmt(e['p90_ms'])} / p99 {_fmt(e['p99_ms'])} / "
                    f"max {_fmt(e['max_ms'])} ms; lost {lat['lost']}",
                    "p99 < 100 ms, nothing lost",
                    "PASS" if lat["passed"] else "FAIL",
                )
            )
    from bench.cases import table_rows
    from bench.console import table_rows as console_rows
    from bench.console_summit import table_rows as console_summit_rows
    from bench.partners import table_rows as partners_rows
    from bench.pledges import table_rows as pledges_rows
    from bench.steps import table_rows as steps_rows
    from bench.summit import table_rows as summit_rows

    return (
        table
        + table_rows(results)
        + pledges_rows(results)
        + summit_rows(results)
        + console_rows(results)
        + console_summit_rows(results)
        + partners_rows(results)
        + steps_rows(results)
    )


def print_table(results: dict[str, Any]) -> None:
    table = [("benchmark", "result", "goal", "verdict"), *rows(results)]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    print(line)
    for i, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if i == 0:
            print(line)
    print(line)


def _cores(cpu: dict[str, Any]) -> str:
    """Cores used by bench.run, PostgreSQL and Kafka, in that order."""
    used = cpu["cores_used"]
    order = [
        next((k for k in used if k.startswith(prefix)), None) for prefix in ("this process", "Postg", "Kafka")
    ]
    return " / ".join(f"{used[k]:.2f}" if k else "n/a" for k in order)


def markdown(results: dict[str, Any], results_file: Path) -> str:
    m = results["machine"]
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`.venv/bin/python -m bench.run`, code in bench/); every run rewrites this "
        "file and keeps its raw figures in bench/results/ (not committed). Speed is measured here, never by "
        "timed tests.",
        "",
    ]
    if results["mode"] == "quick":
        out += [
            f"> **Trial run (`--quick`)**: {QUICK_NOTE}. Figures from a quick run, "
            "or from a machine busy with other work, are indicative only; rerun `make bench` on a "
            "quiet machine.",
            "",
        ]
    out += [
        "## Run",
        "",
        "| | |",
        "|---|---|",
        f"| date (UTC) | {results['started_at']} to {results.get('finished_at', '?')} |",
        f"| command | `{results['command']}` (from the repository root) |",
        f"| mode | {results['mode']} |",
        f"| CPU | {m['cpu']} |",
        f"| cores | {m['cores']} |",
        f"| RAM | {m['ram_gib']} GiB |",
        f"| OS | {m['os']} (kernel {m['kernel']}) |",
        f"| Python | {m['python']} |",
        f"| Kafka | {m['kafka']} (KRaft, single node, 3 partitions per topic) |",
        f"| PostgreSQL | {m.get('postgres', 'unknown')} (fsync on) |",
        f"| Temporal CLI | {m['temporal_cli']} |",
        f"| aiokafka | {m['aiokafka']} |",
        f"| load average (1, 5, 15 min) before / after | {results['load_average_at_start']} / "
        f"{results.get('load_average_at_end')} |",
        f"| event loop of the benchmark clients | {results['event_loop_of_the_benchmark_clients']} |",
        f"| raw results | bench/results/{results_file.name} |",
        "",
        "## Results",
        "",
        "| benchmark | result | goal | verdict |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | **{d}** |" for a, b, c, d in rows(results)],
        "",
    ]
    relay = results["benchmarks"].get("relay_throughput")
    if relay is not None and "error" not in relay:
        out += [
            "## 1. Outbox relay throughput vs a raw producer",
            "",
            f"Goal: the relay publishes at least 80 % of what a bare producer sends. {relay['events']:,} "
            f"PledgeSubmitted events (value {relay['value_bytes_mean']} B, headers "
            f"{relay['header_bytes_mean']} B "
            f"on average, {relay['distinct_keys']:,} distinct keys) to `{relay['topic']}`. Relay: "
            "the rows are "
            "bulk-inserted with COPY into the pledges database's outbox (not timed), then `OutboxRelay."
            f"publish_batch` (batch {relay['batch_size']}) is called until it returns 0. Raw: an aiokafka "
            "producer with the same options sends the same messages (encoded beforehand), "
            f"{relay['batch_size']} `send()` futures at a time, then gathered. Producer: "
            f"{relay['producer']}. "
            # Issue 19: the two sides use the producer's API differently; said here so the ratio reads right.
            "The relay hands the producer one record batch per partition (`create_batch`/`send_batch`, each "
            "key's partition from Kafka's murmur2 computed by the relay: decision 0006); the raw producer "
            "calls `send()` per message with aiokafka's own partitioner. "
            "Runs alternate raw, relay, raw, relay; the best of each is compared.",
            "",
            "| run | kind | events | seconds | events/s | relay batch ms: p50 / p99 "
            "(first 10 / last 10 mean) | cores used: bench.run / PostgreSQL / Kafka | machine steal |",
            "|---|---|---|---|---|---|---|---|",
            *[
                f"| {r['round']} | {r['kind']} | {r['events']:,} | {r['seconds']} | "
                f"{r['events_per_s']:,.0f} | "
                + (
                    f"{r['batch_ms']['p50_ms']} / {r['batch_ms']['p99_ms']} "
                    f"({r['first_10_batches_mean_ms']} / {r['last_10_batches_mean_ms']}) |"
                    if r["kind"] == "relay"
                    else "|"
                )
                + f" {_cores(r['cpu'])} | {r['cpu']['machine_share'].get('steal', 0) * 100:.0f} % |"
                for r in relay["runs"]
            ],
            "",
            f"Ratio relay/raw (best of each): **{relay['ratio']:.2f}** (goal >= 0.8): "
            f"**{'PASS' if relay['passed'] else 'FAIL'}**.",
            "",
            *RELAY_HISTORY,
            "",
        ]
    lat = results["benchmarks"].get("latency")
    if lat is not None and "error" not in lat:
        e, h = lat["event_latency"], lat["http"]
        relay_load, cpu = lat["relay_during_load"], lat["cpu_during_load"]
        out += [
            "## 2. End-to-end latency of a pledge submission",
            "",
            "Goal: p99 < 100 ms from the HTTP response to the event's arrival at a Kafka "
            "consumer. The pledges "
            "API runs as a process with its in-process relay; an open-loop load generator (httpx, "
            f"{lat['http_clients']} clients of {lat['connections_per_client']} connections, at most "
            f"{lat['concurrency_limit']} requests in flight) submits `POST /pledges` at "
            f"{lat['rate_per_s']:g}/s "
            f"for {lat['duration_s']:g} s after {lat['warmup_requests']} warm-up submissions; a "
            "consumer in another "
            "process (own group, assigned and at the end of the topic before the load, fetch_max_wait_ms=5) "
            "records when each event reaches it. Latency = consumer receive time - response time, joined on "
            "ce_subject = the pledge id the response returned (both clocks are this machine's "
            "`time.time()`).",
            "",
            "| measure | p50 | p90 | p99 | max |",
            "|---|---|---|---|---|",
            f"| event latency (response -> consumer), ms | {_fmt(e['p50_ms'])} | {_fmt(e['p90_ms'])} | "
            f"{_fmt(e['p99_ms'])} | {_fmt(e['max_ms'])} |",
            *[
                f"| {label}, ms | {_fmt(s['p50_ms'])} | {_fmt(s['p90_ms'])} | {_fmt(s['p99_ms'])} | "
                f"{_fmt(s['max_ms'])} |"
                for label, s in (
                    ("request start -> consumer", lat["latency_from_request_start"]),
                    ("response -> Kafka record timestamp (relay)", lat["response_to_kafka_timestamp"]),
                    ("Kafka record timestamp -> consumer", lat["kafka_timestamp_to_consumer"]),
                    ("HTTP request (start -> response)", h),
                    ("request start behind schedule", lat["start_lag"]),
                )
            ],
            "",
            f"Requests: {lat['scheduled']:,} scheduled, {lat['sent']:,} sent, {lat['accepted']:,} "
            "accepted (201), "
            f"HTTP errors {lat['http_errors'] or 'none'}; achieved request rate "
            f"{lat['achieved_request_rate']}/s "
            f"(completions {lat['completion_rate']}/s); {lat['start_lag_over_10ms']:,} requests started more "
            f"than 10 ms late. Events: {lat['received']:,} received, {lat['lost']:,} lost, "
            f"{lat['duplicates']:,} duplicates, {lat['negative_latencies']:,} seen by the consumer "
            "before the "
            f"HTTP response reached the client. Verdict: **{'PASS' if lat['passed'] else 'FAIL'}**.",
            "",
            f"In-process relay during the load: {_fmt(relay_load.get('published'))} events in "
            f"{_fmt(relay_load.get('batches'))} batches ({_fmt(relay_load.get('mean_events_per_batch'))} "
            f"events per batch, {_fmt(relay_load.get('mean_batch_ms'))} ms per batch).",
            "",
            f"CPU during the load (cores used, of {cpu['machine_cores']}; anything else running on the "
            "machine is not counted):",
            "",
            "| process | cores used |",
            "|---|---|",
            *[f"| {name} | {used:.2f} |" for name, used in cpu["cores_used"].items()],
            f"| **all of the above** | **{cpu['total_cores_used']:.2f}** |",
            "",
            "The whole machine over the load: "
            + ", ".join(f"{share * 100:.0f} % {state}" for state, share in cpu["machine_share"].items())
            + " (busy includes anything else running; steal is time the hypervisor gave to other machines).",
            "",
        ]
    from bench.cases import markdown_sections

    out += markdown_sections(results)
    from bench.pledges import markdown_sections as pledges_sections

    out += pledges_sections(results)
    from bench.summit import markdown_sections as summit_sections

    out += summit_sections(results)
    from bench.console import markdown_sections as console_sections

    out += console_sections(results)
    from bench.console_summit import markdown_sections as console_summit_sections

    out += console_summit_sections(results)
    from bench.partners import markdown_sections as partners_sections

    out += partners_sections(results)
    from bench.steps import markdown_sections as steps_sections

    out += steps_sections(results)
    for name, result in results["benchmarks"].items():
        if "error" in result:
            out += [f"## {name}: error", "", "```", result["traceback"].rstrip(), "```", ""]
    return "\n".join(out)


# How to tell what a benchmark wrote: the start of its row in the Results table and of its section's title
# (or a piece of both); a failed benchmark's section is "## <name>: error".
OWNED_BY = {
    "relay_throughput": ("| relay throughput", "## 1. Outbox relay"),
    "latency": ("| end-to-end", "## 2. End-to-end"),
    "cases_throughput": ("| cases: 5 transitions", "## Cases: throughput"),
    "cases_timers": ("open cases with live timers", "open cases with live timers"),
    "cases_queries": ("| cases: queries over", "## Cases: list and statistics"),
    "pledges_intake": ("| pledges: intake", "Pledge intake against a bare endpoint"),
    "pledges_import": ("| pledges: bulk import", "## 7. Pledges: bulk import"),
    "summit_delegations": ("| summit: 193 delegations", "## 8. Summit: 193 delegations"),
    "summit_agenda": ("| summit: ", "## 9. Summit: agenda"),
    "console_pages": ("| console: 20 officers", "## 10. Console"),
    "console_summit_pages": ("| console: planners", "## 11. Console"),
    "partners_webhooks": ("| partners: webhook", "## 12. Partners"),
    "partners_feed": ("| partners: event feed", "## 13. Partners"),
    "steps": ("| steps: ", "## 14. Steps"),
}


RELAY_HISTORY = [
    "Where a batch's time goes, and why the claim is a LATERAL probe: "
    "[docs/decisions/0003-relay-claim-lateral-probe.md](docs/decisions/0003-relay-claim-lateral-probe.md).",
]


def _owner(line: str) -> str | None:
    if line.startswith("| summit: ") and "delegations" in line:  # the 193 and the 1,000 rounds' rows
        return "summit_delegations"
    for name, (row, title) in OWNED_BY.items():
        if line.startswith("## "):
            if title in line or line == f"## {name}: error":
                return name
        elif line.startswith("| ") and (
            line.startswith(row) or (row in line and line.startswith("| cases: "))
        ):
            return name
    if line.startswith("| cases: list and statistics queries"):  # the queries' row when they failed
        return "cases_queries"
    return None


def _blocks(text: str) -> list[list[str]]:
    """The text cut before every "## " heading; the first block is the title and the introduction."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("## "):
            blocks.append([])
        blocks[-1].append(line)
    return blocks


def merge_markdown(previous: str, written: str, ran: list[str]) -> str:
    """For ``--only``: the benchmarks that ran replace their rows and sections in the file; every other
    benchmark's, and sections no benchmark writes, stay. This run's table goes in after the file's own as
    "## Run of <benchmarks>", replacing any earlier "## Run of" table whose benchmarks all ran again (no
    section cites it any more)."""
    new = _blocks(written)
    run_title = "## Run of " + ", ".join(name for name in BENCHMARKS if name in ran)
    this_run = next(b for b in new if b[0] == "## Run")
    rows = [line for b in new if b[0] == "## Results" for line in b if _owner(line) in ran]
    # splitlines() drops the file's last, empty line: every section ends with one here.
    sections = [b if b[-1] == "" else [*b, ""] for b in new[1:] if _owner(b[0]) in ran]
    out: list[list[str]] = []
    placed = False
    for block in _blocks(previous):
        title = block[0] if block else ""
        if title.startswith("## Run of ") and set(title.removeprefix("## Run of ").split(", ")) <= set(ran):
            continue
        if _owner(title) in ran:
            if not placed:
                out.append([line for b in sections for line in b])
                placed = True
            continue
        if title == "## Results":
            kept: list[str] = []
            for line in block:
                if _owner(line) in ran:
                    kept += rows
                    rows = []
                else:
                    kept.append(line)
            if rows:  # a benchmark that had no row yet: at the end of the table
                end = max(i for i, line in enumerate(kept) if line.startswith("|")) + 1
                kept[end:end] = rows
            block = kept
        out.append(block)
        if title == "## Run":
            out.append([run_title, *this_run[1:]])
    if not placed:  # after the last benchmark's section
        last = max(i for i, b in enumerate(out) if b and (_owner(b[0]) or b[0] == "## Results"))
        out.insert(last + 1, [line for b in sections for line in b])
    return "\n".join(line for block in out for line in block) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Run the benchmarks on a local stack of their own and rewrite BENCHMARKS.md.",
    )
    parser.add_argument("--quick", action="store_true", help=f"short trial: {QUICK_NOTE}")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="event loop of the benchmark's own clients (the services choose their own)",
    )
    parser.add_argument(
        "--port-offset",
        type=int,
        default=0,
        help="add this to every port of the benchmark stack, and use .run/bench-<offset> (default 0)",
    )
    parser.add_argument("--no-markdown", action="store_true", help="do not rewrite BENCHMARKS.md")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a goal is missed (else only on errors)"
    )
    parser.add_argument(
        "--latency-rate",
        type=float,
        default=200,
        help="submissions per second of the latency load (default 200)",
    )
    parser.add_argument(
        "--timer-cases",
        type=int,
        default=None,
        help="open cases of the live-timers benchmark (default 10,000; 1,000 with --quick)",
    )
    args = parser.parse_args(argv)
    args.command = " ".join([".venv/bin/python -m bench.run", *(sys.argv[1:] if argv is None else argv)])

    def on_signal(signum: int, _: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)

    def echo(message: str) -> None:
        print(message, flush=True)

    try:
        results = run_benchmarks(args, echo)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the stack was stopped", file=sys.stderr)
        return 130
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results_file = RESULTS / f"{stamp}.json"
    results_file.write_text(dumps(results))
    print()
    print_table(results)
    print(f"\nraw results: {results_file.relative_to(REPO)}")
    if not args.no_markdown:
        written = markdown(results, results_file)
        if args.only and MARKDOWN.exists():
            written = merge_markdown(MARKDOWN.read_text(), written, args.only)
        MARKDOWN.write_text(written)
        print(f"rewrote {MARKDOWN.relative_to(REPO)}" + (" (the benchmarks run only)" if args.only else ""))
    if any("error" in r for r in results["benchmarks"].values()):
        return 1
    if args.strict and not all(r.get("passed") for r in results["benchmarks"].values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
