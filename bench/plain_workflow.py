"""The baseline of the cases throughput benchmark: a plain Temporal workflow and its worker process.

``PlainWorkflow`` takes ``STEPS`` workflow Updates; each runs one trivial activity that does one INSERT into
a scratch table (``bench_plain_step`` in the ``bench_plain`` database of the same PostgreSQL server), then
the workflow ends. No validator, no domain rules, no audit, no outbox: the floor that the Temporal server,
the Python SDK and one database round trip per step set on this machine.

The worker runs in its own process, as the cases worker does, on its own task queue:

    python -m bench.plain_workflow --address 127.0.0.1:20233 --task-queue bench-plain --dsn postgresql://...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

STEPS = 5
TASK_QUEUE = "bench-plain"
DATABASE = "bench_plain"
SCRATCH_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_plain_step ("
    "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, workflow_id text NOT NULL, step int NOT NULL, "
    "at timestamptz NOT NULL DEFAULT now())"
)


@dataclass
class StepInput:
    workflow_id: str
    step: int


@workflow.defn(name="BenchPlainWorkflow")
class PlainWorkflow:
    def __init__(self) -> None:
        self.done = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done >= STEPS)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.done

    @workflow.update
    async def step(self, number: int) -> int:
        await workflow.execute_activity(
            "bench_plain_insert",
            StepInput(workflow.info().workflow_id, number),
            start_to_close_timeout=timedelta(seconds=30),
        )
        self.done += 1
        return self.done

    @workflow.update
    async def touch(self, number: int) -> int:
        """Nothing but the Update's round trip: the floor under any step (bench/steps.py)."""
        return number

    @workflow.update
    async def touch_local(self, number: int) -> int:
        """An Update that runs one local activity doing nothing: the floor under a step whose write is a
        local activity (bench/steps.py), the SDK's and the server's share of it without any database."""
        await workflow.execute_local_activity(
            "bench_plain_nothing", number, start_to_close_timeout=timedelta(seconds=30)
        )
        return number

    @workflow.update
    async def insert_local(self, number: int) -> int:
        """An Update whose local activity does one INSERT: the least a step that writes can cost."""
        await workflow.execute_local_activity(
            "bench_plain_insert",
            StepInput(workflow.info().workflow_id, number),
            start_to_close_timeout=timedelta(seconds=30),
        )
        return number


class PlainActivities:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    @activity.defn(name="bench_plain_insert")
    async def insert(self, item: StepInput) -> None:
        await self.pool.execute(
            "INSERT INTO bench_plain_step (workflow_id, step) VALUES ($1, $2)", item.workflow_id, item.step
        )

    @activity.defn(name="bench_plain_nothing")
    async def nothing(self, number: int) -> int:
        return number


async def serve(address: str, task_queue: str, dsn: str) -> None:
    import asyncpg
    from temporalio.client import Client
    from temporalio.worker import Worker

    # A pool like the cases worker's SQLAlchemy pool (20 connections).
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=20)
    try:
        client = await asyncio.wait_for(Client.connect(address), 30)
        plain = PlainActivities(pool)
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[PlainWorkflow],
            activities=[plain.insert, plain.nothing],
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with worker:
            print(f"bench plain worker polling task queue {task_queue}", flush=True)
            await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pool.close(), 10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plain_workflow", description=__doc__)
    parser.add_argument("--address", required=True, help="Temporal frontend, e.g. 127.0.0.1:20233")
    parser.add_argument("--task-queue", default=TASK_QUEUE)
    parser.add_argument("--dsn", required=True, help="asyncpg DSN of the scratch database")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.address, args.task_queue, args.dsn))
    return 0


if __name__ == "__main__":
    sys.exit(main())
