"""JSON logs, W3C trace context and Prometheus metrics.

The correlation id of a request is its OpenTelemetry trace id: it enters with (or is created for) the HTTP
request, is stored with each outbox event as ``traceparent``, travels in the Kafka headers and is restored by
consumers, so one id follows an action across services, Kafka and Temporal.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider

_configured = False


def configure(service: str, level: str = "INFO") -> None:
    """Set up JSON logging and the tracer provider once per process."""
    global _configured
    if _configured:
        return
    _configured = True
    trace.set_tracer_provider(TracerProvider())
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    for noisy in ("aiokafka", "temporalio", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_context,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def _add_trace_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event["correlation_id"] = format(span.trace_id, "032x")
        event["span_id"] = format(span.span_id, "016x")
    return event


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


@functools.cache
def tracer() -> trace.Tracer:
    # Made once: a tracer made before configure() is a proxy that follows the provider set later.
    return trace.get_tracer("uncops")


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, to store with an outbox event."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def current_correlation_id() -> str | None:
    span = trace.get_current_span().get_span_context()
    return format(span.trace_id, "032x") if span.is_valid else None


@contextmanager
def continued_span(
    name: str, carrier: Mapping[str, str], kind: trace.SpanKind = trace.SpanKind.CONSUMER, **attributes: Any
) -> Iterator[trace.Span]:
    """A span that continues the trace found in ``carrier`` (HTTP or Kafka headers)."""
    # No headers, nothing to continue: the span starts a trace of its own without running the propagators
    # (most requests come without a traceparent, and this runs for each).
    token = otel_context.attach(propagate.extract(dict(carrier))) if carrier else None
    try:
        with tracer().start_as_current_span(name, kind=kind, attributes=attributes) as span:
            yield span
    finally:
        if token is not None:
            otel_context.detach(token)
