"""Fixtures for the whole suite.

Tests marked (or using fixtures) that need servers get the REAL PostgreSQL, Kafka and Temporal, started once
per run by ``deploy.stack.LocalStack`` on the suite's own ports and run folder (.run/test), and stopped at
the end. Unit tests never start them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.stack import REPO, TEST_PORTS, LocalStack, Ports
from services.common.auth import Role, issue_token
from services.common.database import create_engine
from services.common.migrations import upgrade
from services.common.settings import Settings

# Two suites can run side by side (say, two working copies) with their own folder and a port offset.
TEST_RUN_DIR = Path(os.environ.get("UNCOPS_TEST_RUN_DIR", REPO / ".run" / "test"))
_OFFSET = int(os.environ.get("UNCOPS_TEST_PORT_OFFSET", "0"))
PORTS = Ports(*(port + _OFFSET for port in dataclasses.astuple(TEST_PORTS)))


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    stack = LocalStack(TEST_RUN_DIR, PORTS, fast_postgres=True, echo=lambda _: None)
    stack.acquire()  # before wiping: a suite already running from this folder keeps its data
    # A fresh run folder each run: tests start from empty databases and topics.
    for child in TEST_RUN_DIR.iterdir():
        if child.name != "stack.pid":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    stack.logs.mkdir(parents=True, exist_ok=True)
    try:
        stack.start_infrastructure()
        yield stack
    finally:
        stack.stop_all()
        stack.release()


@pytest.fixture(scope="session")
def settings(stack: LocalStack) -> Settings:
    env = stack.env()
    return Settings(
        environment="test",
        postgres_port=int(env["POSTGRES_PORT"]),
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        temporal_address=env["TEMPORAL_ADDRESS"],
        pledges_port=PORTS.pledges,
        cases_port=PORTS.cases,
        summit_port=PORTS.summit,
        partners_port=PORTS.partners,
    )


# How long the platform's APIs wait for a step's outcome before 503 (UNCOPS_STEP_TIMEOUT_SECONDS, 5 s by
# default): longer here, where suites share two cores and a step can queue behind a burst of workflow starts
# (193 invitations) for more than 5 s.
STEP_TIMEOUT_SECONDS = 20


@pytest.fixture(scope="session")
def platform(stack: LocalStack) -> LocalStack:
    """The services as processes. The APIs run without background tasks; the relays and the summit
    consumer run as their own processes so fault tests can kill them like a crash would."""
    for service in ("pledges", "cases", "summit"):
        stack.start_service(
            service, "serve", UNCOPS_BACKGROUND="false", UNCOPS_STEP_TIMEOUT_SECONDS=str(STEP_TIMEOUT_SECONDS)
        )
    stack.start_service("summit", "worker")
    stack.start_service("cases", "worker")
    stack.start_service("pledges", "worker")
    for service in ("pledges", "cases", "summit"):
        stack.start_service(service, "relay")
    stack.start_service("summit", "consume", UNCOPS_CONSUMER_STALL_SECONDS="15")
    stack.start_service("pledges", "consume", UNCOPS_CONSUMER_STALL_SECONDS="15")
    # Notifications to people (issue 18): the console's consumer and email sender as their own process, so a
    # test can kill it; its digests composed by the tests when they choose.
    stack.start_service("console", "serve", UNCOPS_BACKGROUND="false")
    stack.start_service("console", "consume", UNCOPS_CONSUMER_STALL_SECONDS="15", UNCOPS_DIGESTS="false")
    stack.start_service("partners", "serve", **PARTNERS_ENV)
    return stack


# The partner gateway in the suite (issue 18): its API runs its consumer and webhook dispatcher, so a kill -9
# of "partners" kills deliveries in flight; retries compressed from 3 days to seconds.
PARTNERS_ENV = {
    "UNCOPS_WEBHOOK_RETRY_SECONDS": "[0.5, 1, 2, 4, 8, 8]",
    "UNCOPS_WEBHOOK_TIMEOUT_SECONDS": "5",
    "UNCOPS_WEBHOOK_POLL_SECONDS": "0.5",
    "UNCOPS_CONSUMER_STALL_SECONDS": "15",
}


def url(service: str, path: str) -> str:
    return f"http://127.0.0.1:{PORTS.service(service)}{path}"


def bearer(
    settings: Settings, role: Role, member_state: str | None = None, subject: str | None = None
) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings, role, member_state, subject=subject)}"}


@pytest_asyncio.fixture(scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends: reusing one just as the server
    # closes it fails the request with a ReadError (seen after the seconds Kafka takes to stop).
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(keepalive_expiry=2)) as client:
        yield client


@pytest_asyncio.fixture(scope="session")
async def pledges_db(stack: LocalStack) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(stack.database_url("pledges"), pool_size=2)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(scope="session")
async def summit_db(stack: LocalStack) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(stack.database_url("summit"), pool_size=2)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def scratch_pledges_db(stack: LocalStack) -> AsyncIterator[str]:
    """A database of its own migrated to the pledges head (no service or relay uses it); its asyncpg DSN."""
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        database_url = f"postgresql+asyncpg://postgres@127.0.0.1:{stack.ports.postgres}/{name}"
        await asyncio.to_thread(upgrade, "pledges", database_url)
        yield f"postgresql://postgres@127.0.0.1:{stack.ports.postgres}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def topic_reader(settings: Settings, topic: str) -> AIOKafkaConsumer:
    """A consumer of its own group reading ``topic`` from the beginning (as a partner would)."""
    consumer = AIOKafkaConsumer(
        topic,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        bootstrap_servers=settings.kafka_bootstrap_servers,
    )
    await consumer.start()
    return consumer


async def eventually(probe, timeout: float = 60, interval: float = 0.25):  # type: ignore[no-untyped-def]  # noqa: ASYNC109
    """Polls an async ``probe`` until it returns something truthy; fails with the last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    value = None
    while asyncio.get_running_loop().time() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Server-backed tests last: unit failures show first and fast. The fuzzer after them all: what it writes
    # would upset the tests that count everything.
    items.sort(
        key=lambda item: (
            "stack" in getattr(item, "fixturenames", ()),
            item.get_closest_marker("fuzz") is not None,
        )
    )


os.environ.setdefault("UNCOPS_ENV", "test")
