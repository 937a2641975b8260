"""Trace context (services/common/observability.py): the correlation id is the W3C trace id."""

from __future__ import annotations

import re

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from services.common.observability import (
    configure,
    continued_span,
    current_correlation_id,
    current_traceparent,
    tracer,
)

# Version 00; the sampled flag (0x01) must be set. Newer SDKs also set the W3C level-2 "random" flag
# (0x02), so "-03" is as valid as "-01".
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def sampled(flags: str) -> bool:
    return bool(int(flags, 16) & 0x01)


@pytest.fixture(autouse=True)
def configured() -> None:
    configure("test")


def test_outside_a_span_there_is_no_trace_context() -> None:
    assert current_traceparent() is None
    assert current_correlation_id() is None


def test_inside_a_span_the_traceparent_carries_the_correlation_id() -> None:
    with tracer().start_as_current_span("x") as span:
        traceparent = current_traceparent()
        correlation_id = current_correlation_id()

    assert traceparent is not None
    match = TRACEPARENT.match(traceparent)
    assert match is not None, traceparent
    assert sampled(match.group(3))
    assert match.group(1) == correlation_id
    assert match.group(1) == format(span.get_span_context().trace_id, "032x")
    assert match.group(2) == format(span.get_span_context().span_id, "016x")
    assert current_traceparent() is None


def test_continued_span_continues_the_trace() -> None:
    with tracer().start_as_current_span("producer"):
        traceparent = current_traceparent()
    assert traceparent is not None
    match = TRACEPARENT.match(traceparent)
    assert match is not None
    trace_id, parent_span_id, _ = match.groups()

    with continued_span("consumer", {"traceparent": traceparent}, topic="t") as span:
        assert current_correlation_id() == trace_id
        inner = current_traceparent()
        assert inner is not None
        assert inner.split("-")[1] == trace_id
        assert inner.split("-")[2] != parent_span_id
        assert isinstance(span, ReadableSpan) and span.parent is not None
        assert format(span.parent.span_id, "016x") == parent_span_id

    assert current_correlation_id() is None


def test_continued_span_without_a_carrier_starts_a_new_trace() -> None:
    with continued_span("consumer", {}):
        correlation_id = current_correlation_id()
    assert correlation_id is not None
    assert re.fullmatch(r"[0-9a-f]{32}", correlation_id)
