"""Where a request's time goes: each response carries a W3C ``Server-Timing`` header with the time spent
authenticating, in the database and waiting for the workflow (browsers' developer tools draw it), and
``bench/steps.py`` builds its latency profile from it. The phases add up within one request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

AUTH = "auth"
DATABASE = "db"
WORKFLOW = "workflow"

_phases: ContextVar[dict[str, float] | None] = ContextVar("server_timing", default=None)


def begin() -> dict[str, float]:
    """Starts recording the phases of the request running in this context; returns them as they fill."""
    phases: dict[str, float] = {}
    _phases.set(phases)
    return phases


def add(name: str, seconds: float) -> None:
    phases = _phases.get()
    if phases is not None:
        phases[name] = phases.get(name, 0.0) + seconds


@contextmanager
def phase(name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        add(name, time.perf_counter() - started)


def header(phases: dict[str, float], total_seconds: float) -> bytes:
    """``auth;dur=0.41, db;dur=3.12, workflow;dur=20.5, app;dur=27.9`` (milliseconds, as the spec has it)."""
    entries = [*phases.items(), ("app", total_seconds)]
    return ", ".join(f"{name};dur={seconds * 1000:.2f}" for name, seconds in entries).encode()


def parse(value: str) -> dict[str, float]:
    """The phases of a ``Server-Timing`` header, in milliseconds."""
    phases: dict[str, float] = {}
    for entry in value.split(","):
        name, _, params = entry.strip().partition(";")
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "dur" and name:
                phases[name] = float(number)
    return phases


def time_statements(engine: Engine) -> None:
    """Adds each SQL statement's round trip on ``engine`` (a sync engine, e.g. ``AsyncEngine.sync_engine``)
    to the request's ``db`` phase."""

    def before(conn: Any, *_: Any) -> None:
        conn.info.setdefault("server_timing_started", []).append(time.perf_counter())

    def after(conn: Any, *_: Any) -> None:
        started = conn.info["server_timing_started"].pop()
        add(DATABASE, time.perf_counter() - started)

    def failed(context: Any) -> None:
        stack = context.connection.info.get("server_timing_started") if context.connection else None
        if stack:
            add(DATABASE, time.perf_counter() - stack.pop())

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)
