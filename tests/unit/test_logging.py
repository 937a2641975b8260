"""Logs (issue 20): every line a process prints is one JSON object, whichever library logged it, with the
service, the trace's correlation id inside a span, and exceptions as structured fields."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import textwrap
from typing import Any

from deploy.stack import REPO

PROCESS = textwrap.dedent(
    """
    import logging, warnings
    from services.common import observability

    observability.configure("probe")
    logging.getLogger("uvicorn.error").warning("uvicorn says %s", "hello")
    logging.getLogger("aiokafka.conn").error("broker away")
    logging.getLogger("temporalio.worker").warning("slow poll")
    logging.getLogger("alembic.runtime.migration").warning("migrating")
    logging.getLogger("sqlalchemy.pool").warning("pool overflow")
    warnings.warn("a library's warning", UserWarning)
    try:
        1 / 0
    except ZeroDivisionError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    log = observability.get_logger("probe")
    with observability.tracer().start_as_current_span("step"):
        try:
            {}["missing"]
        except KeyError:
            log.exception("unexpected error", path="/x")
        logging.getLogger("temporalio.activity").warning("inside the span")
    class Leaky:
        def __del__(self):
            raise ValueError("in a finaliser")
    leaky = Leaky()
    del leaky
    raise RuntimeError("nothing caught this")
    """
)


@functools.cache
def lines() -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-c", PROCESS], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1, done.stderr  # the uncaught exception
    printed = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    parsed = []
    for line in printed:
        try:
            parsed.append(json.loads(line))
        except ValueError as exc:
            raise AssertionError(f"not JSON: {line!r}") from exc
    return parsed


def test_every_line_is_json_with_the_service_level_and_time() -> None:
    found = lines()
    events = [line["event"] for line in found]
    for expected in (
        "uvicorn says hello",
        "broker away",
        "slow poll",
        "migrating",
        "pool overflow",
        "Exception in ASGI application",
        "unexpected error",
        "inside the span",
        "uncaught exception",
        "Exception ignored in: <function",
    ):
        assert any(expected in event for event in events), (expected, events)
    assert any("a library's warning" in event for event in events), events
    for line in found:
        assert line["service"] == "probe", line
        assert line["level"] in ("warning", "error", "critical"), line
        assert line["timestamp"].endswith("Z"), line


def test_exceptions_are_structured_fields_not_text() -> None:
    found = {line["event"]: line for line in lines()}
    for event, kind in (
        ("Exception in ASGI application", "ZeroDivisionError"),
        ("unexpected error", "KeyError"),
        ("uncaught exception", "RuntimeError"),
    ):
        (exception,) = found[event]["exception"]
        assert exception["exc_type"] == kind
        assert exception["frames"], exception
        assert "Traceback" not in json.dumps(found[event])


def test_inside_a_span_stdlib_and_structlog_lines_carry_the_correlation_id() -> None:
    found = {line["event"]: line for line in lines()}
    inside, raised = found["inside the span"], found["unexpected error"]
    assert inside["correlation_id"] == raised["correlation_id"]
    assert len(inside["correlation_id"]) == 32
    assert "correlation_id" not in found["broker away"]
    assert found["broker away"]["logger"] == "aiokafka.conn"
