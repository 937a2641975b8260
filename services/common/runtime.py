"""What a running service holds: settings, database engine, Temporal client, background tasks.

A service describes itself with a ``ServiceDefinition`` (services/<context>/app.py); the same runtime backs
its API process, its standalone relay and consumer processes and its context's Temporal worker
(workflows/<context>/worker.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg
from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from services.common import temporal
from services.common.consumer import InboxConsumer, Subscription, consumer_factory
from services.common.database import create_engine, driver_pool, session_factory
from services.common.kafka import idempotent_producer, plain_producer
from services.common.metrics import refresh_periodically
from services.common.observability import get_logger
from services.common.relay import OutboxRelay
from services.common.settings import Settings

if TYPE_CHECKING:
    from services.common.objects import ObjectStore

log = get_logger(__name__)

BackgroundTask = tuple[str, Callable[[asyncio.Event], Awaitable[None]]]


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    title: str
    description: str
    # Included in order, each directly into the app: FastAPI walks a nested router's routes on every
    # request it matches.
    routers: Sequence[APIRouter]
    # Static, or built from the runtime when a handler needs it (a bridge into Temporal, say).
    subscriptions: Sequence[Subscription] | Callable[[ServiceRuntime], Sequence[Subscription]] = ()
    tags: Sequence[dict[str, str]] = field(default_factory=tuple)
    # Other long-running tasks, run wherever the consumers run (the partner gateway's webhook dispatcher):
    # (name, coroutine function of the stop event), built from the runtime.
    background: Callable[[ServiceRuntime], Sequence[BackgroundTask]] | None = None
    # Whether it writes events to an outbox for a relay to publish (the console and the gateway publish none).
    publishes: bool = True
    # Issue 20: refreshes the service's business gauges (Prometheus) from its database; run periodically
    # where its relay runs (services/common/metrics.py).
    gauges: Callable[[ServiceRuntime], Awaitable[None]] | None = None

    @property
    def task_queue(self) -> str:
        return temporal.task_queue(self.name)


class ServiceRuntime:
    def __init__(self, definition: ServiceDefinition, settings: Settings) -> None:
        self.definition = definition
        self.settings = settings
        self.database_url = settings.database_url(definition.name)
        self.engine: AsyncEngine = create_engine(self.database_url, settings.database_pool_size)
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)
        self._driver_pool: asyncpg.Pool | None = None
        self._driver_pool_lock = asyncio.Lock()
        self._temporal: Client | None = None
        self._temporal_lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._objects: ObjectStore | None = None  # issue 20: attachments' object store, opened on first use

    @property
    def name(self) -> str:
        return self.definition.name

    @contextlib.asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of the runtime's own asyncpg pool, for constant SQL on hot paths
        (database.Statement). No transaction is begun: each statement commits on its own.

        Not the engine's pool: checking a connection out of SQLAlchemy's asyncio pool and back costs three
        greenlet switches, 6 % of a pledge submission's CPU.
        """
        pool = self._driver_pool or await self._open_driver_pool()
        async with pool.acquire() as connection:
            yield connection

    async def _open_driver_pool(self) -> asyncpg.Pool:
        async with self._driver_pool_lock:
            if self._driver_pool is None:
                size = self.settings.database_driver_pool_size
                self._driver_pool = await driver_pool(self.database_url, size)
            return self._driver_pool

    async def temporal(self) -> Client:
        async with self._temporal_lock:
            if self._temporal is None:
                self._temporal = await asyncio.wait_for(temporal.connect(self.settings), 10)
            return self._temporal

    def objects(self) -> ObjectStore:
        """The S3-compatible object store (issue 20), its client opened on first use and closed with us."""
        if self._objects is None:
            from services.common.objects import ObjectStore  # botocore loads only where it is used

            self._objects = ObjectStore(self.settings)
        return self._objects

    def relay(self) -> OutboxRelay:
        return OutboxRelay(
            self.name,
            self.database_url,
            lambda: idempotent_producer(self.settings, f"uncops-{self.name}-relay"),
            batch_size=self.settings.outbox_batch_size,
            linger_seconds=self.settings.outbox_linger_ms / 1000,
            retention_hours=self.settings.outbox_retention_hours,
            schema_base=self.settings.schema_base_url,
        )

    def consumers(self) -> list[InboxConsumer]:
        options = self.settings.kafka_options()
        return [
            InboxConsumer(
                subscription,
                self.sessions,
                consumer_factory(options),
                functools.partial(plain_producer, self.settings, f"{subscription.name}-dlq"),
                max_attempts=self.settings.consumer_max_attempts,
                stall_seconds=self.settings.consumer_stall_seconds,
            )
            for subscription in self.subscriptions()
        ]

    def subscriptions(self) -> Sequence[Subscription]:
        declared = self.definition.subscriptions
        return declared(self) if callable(declared) else declared

    def start_background(self, relay: bool = True, consumers: bool = True) -> None:
        if relay and self.definition.publishes:
            self._spawn("relay", self.relay().run(self._stop))
        if relay and self.definition.gauges is not None:
            gauges = self.definition.gauges
            self._spawn("gauges", refresh_periodically(self.name, lambda: gauges(self), self._stop))
        if consumers:
            for consumer in self.consumers():
                self._spawn(f"consumer:{consumer.name}", consumer.run(self._stop))
            for name, task in self.definition.background(self) if self.definition.background else ():
                self._spawn(name, task(self._stop))

    async def wait_background(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, name: str, coroutine: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await coroutine
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task died", task=name)

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    async def stopped(self) -> None:
        await self._stop.wait()

    def request_stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        self._stop.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=15)
            for task in pending:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*pending, return_exceptions=True)
        if self._driver_pool is not None:
            await self._driver_pool.close()
        if self._objects is not None:
            await self._objects.close()
        await self.engine.dispose()
