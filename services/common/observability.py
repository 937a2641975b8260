"""JSON logs, W3C trace context and Prometheus metrics.

The correlation id of a request is its OpenTelemetry trace id: it enters with (or is created for) the HTTP
request, is stored with each outbox event as ``traceparent``, travels in the Kafka headers and is restored by
consumers, so one id follows an action across services, Kafka and Temporal.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False
# Set by configure(): whether spans leave the process (an OTLP endpoint is set), so per-event spans (the
# relay's publish span) are made only when someone will see them.
_exporting = False

# Libraries that log a line per connection, poll or file at INFO: kept at WARNING (or the process's level if
# higher).
_CHATTY = (
    "aiokafka",
    "temporalio",
    "alembic",
    "httpx",
    "httpcore",
    "uvicorn.access",
    "mail.log",  # aiosmtpd: a line per SMTP command (the local mail catcher)
    "weasyprint",  # a line per stylesheet of each PDF
    "fontTools",
)


def configure(service: str, level: str = "INFO") -> None:
    """Set up JSON logging (structlog and every stdlib logger) and the tracer provider once per process."""
    global _configured
    if _configured:
        return
    _configured = True
    _configure_tracing(service)
    _configure_logging(service, level.upper())


# ---- Tracing (issue 20): spans leave the process over OTLP/HTTP when an endpoint is set.
def _configure_tracing(service: str) -> None:
    """A tracer provider whose resource names the process; an OTLP/HTTP exporter when
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set (the exporter reads
    those, the headers, timeout and compression from the standard ``OTEL_*`` variables itself), none
    otherwise. ``OTEL_SERVICE_NAME`` wins over the process's own name; the sampler is the SDK's, from
    ``OTEL_TRACES_SAMPLER`` (parent-based, always on, by default); ``OTEL_SDK_DISABLED=true`` turns it off.
    """
    global _exporting
    name = os.environ.get("OTEL_SERVICE_NAME") or f"uncops-{service}"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    if endpoint and not disabled:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # Batched, off the request path: spans are queued and sent by the processor's own thread
        # (OTEL_BSP_* tune it). The provider flushes them at exit.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        _exporting = True
    trace.set_tracer_provider(provider)


def exporting() -> bool:
    """Whether this process's spans are exported (an OTLP endpoint is configured)."""
    return _exporting


# ---- Logs (issue 20): one JSON object per line, from structlog and from every stdlib logger.
def _configure_logging(service: str, level: str) -> None:
    def add_service(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        # Static, not a context variable: stdlib loggers also log from threads (the Temporal SDK's, the span
        # exporter's) that never saw the context the service was bound in.
        event.setdefault("service", service)
        return event

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_service,
        _add_trace_context,
    ]
    # The application's own loggers render straight to stdout (no stdlib on the way: the cheap path); an
    # exception becomes a structured "exception" field (type, message, frames), never a text traceback.
    structlog.configure(
        processors=[*shared, structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        # One write per line (a print would write the line and its newline apart, and a process killed
        # between the two would leave half a line for the next one to continue).
        logger_factory=structlog.WriteLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Every stdlib logger (uvicorn, aiokafka, temporalio, sqlalchemy, alembic, warnings.warn) goes through the
    # same processors by way of the root logger's one handler.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.dict_tracebacks,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    for existing in root.handlers[:]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for chatty in _CHATTY:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # Loggers that brought their own handlers (uvicorn's, alembic's) hand their records to the root's instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "sqlalchemy"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.captureWarnings(True)  # SQLAlchemy's (and others') warnings, as log records
    # An exception nothing caught, in the main thread or another: a JSON line with the structured exception,
    # not Python's text traceback on stderr.
    crash = logging.getLogger("uncops.crash")
    sys.excepthook = lambda kind, value, tb: crash.critical("uncaught exception", exc_info=(kind, value, tb))
    sys.unraisablehook = lambda unraisable: crash.error(
        f"{unraisable.err_msg or 'Exception ignored in'}: {unraisable.object!r}"[:500],
        exc_info=(unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback),  # type: ignore[arg-type]
    )
    threading.excepthook = lambda args: crash.critical(
        "uncaught exception in a thread",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
        extra={"thread": getattr(args.thread, "name", None)},
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


def publish_span(traceparent: str, topic: str) -> tuple[trace.Span, str]:
    """A producer span for one event the relay publishes, child of the span that wrote it to the outbox
    (its stored ``traceparent``), and the ``traceparent`` to send with it so the consumer's span is the
    publish span's child. The caller ends the span once Kafka has acknowledged the event."""
    parent = propagate.extract({"traceparent": traceparent})
    span = tracer().start_span(
        f"publish {topic}",
        context=parent,
        kind=trace.SpanKind.PRODUCER,
        attributes={"messaging.system": "kafka", "messaging.destination.name": topic},
    )
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span, parent))
    return span, carrier.get("traceparent", traceparent)
