"""The latency benchmark's consumer, run as its own process: ``python -m bench.consumer ...``.

It joins its own consumer group on the topic, waits for its assignment, positions itself at the end of
every partition and then writes ``--ready`` (the load may begin). For each message it records the ce_id
and ce_subject headers, the wall-clock time at which the message reached this process (``time.time()``,
taken when the fetch returned it) and the Kafka timestamp. A line ``stop <expected> <grace_seconds>`` on
stdin ends it once ``expected`` messages arrived or the grace period ran out; ``--max-seconds`` bounds the
whole run in any case. The records are written as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer


def _stdin_commands(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str]) -> None:
    for line in sys.stdin:
        loop.call_soon_threadsafe(queue.put_nowait, line.strip())
    loop.call_soon_threadsafe(queue.put_nowait, "eof")


async def consume(args: argparse.Namespace) -> dict[str, Any]:
    hard_deadline = time.monotonic() + args.max_seconds
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=f"bench-latency-{uuid.uuid4().hex[:8]}",
        client_id="bench-latency-consumer",
        auto_offset_reset="latest",
        enable_auto_commit=False,
        fetch_max_wait_ms=args.fetch_max_wait_ms,
        max_poll_records=2000,
    )
    await asyncio.wait_for(consumer.start(), 30)
    records: list[list[Any]] = []
    try:
        consumer.subscribe([args.topic])
        join_deadline = time.monotonic() + 60
        while not consumer.assignment():
            if time.monotonic() > join_deadline:
                raise RuntimeError("no partition assigned within 60 s")
            await consumer.getmany(timeout_ms=100)
        assignment = sorted(consumer.assignment())
        await consumer.seek_to_end(*assignment)
        positions = {f"{tp.topic}-{tp.partition}": await consumer.position(tp) for tp in assignment}
        Path(args.ready).write_text(json.dumps({"assignment": positions}))  # noqa: ASYNC240 - once, tiny

        commands: asyncio.Queue[str] = asyncio.Queue()
        threading.Thread(
            target=_stdin_commands, args=(asyncio.get_running_loop(), commands), daemon=True
        ).start()
        expected: int | None = None
        stop_at = hard_deadline
        while time.monotonic() < stop_at:
            batches = await consumer.getmany(timeout_ms=20)
            received = time.time()
            for messages in batches.values():
                for message in messages:
                    headers = dict(message.headers or ())
                    records.append(
                        [
                            (headers.get("ce_id") or b"").decode(),
                            (headers.get("ce_subject") or b"").decode(),
                            received,
                            message.timestamp / 1000,
                            message.partition,
                        ]
                    )
            while not commands.empty():
                command = commands.get_nowait().split()
                if command and command[0] == "stop" and len(command) == 3:
                    expected = int(command[1])
                    stop_at = min(hard_deadline, time.monotonic() + float(command[2]))
                elif command and command[0] == "eof":
                    stop_at = min(stop_at, time.monotonic() + 5)
            if expected is not None and len(records) >= expected:
                break
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 10)
    return {"records": records, "assignment": positions}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fetch-max-wait-ms", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        result = runner.run(consume(args))
    Path(args.out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
