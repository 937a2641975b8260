"""Traces (issue 20): the relay's publish span continues the outbox row's trace and is what the consumer
continues; the exporter is on only with an OTLP endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import cast

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.record.default_records import DefaultRecordBatch
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan

from deploy.stack import REPO
from services.common.observability import configure, continued_span
from services.common.relay import OutboxRelay
from tests.unit.test_relay_batches import FakeProducer, row

STORED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_a_published_event_carries_its_publish_span_a_child_of_the_writer() -> None:
    configure("test")
    producer = FakeProducer(partitions=1, batch_bytes=1024 * 1024)
    relay = OutboxRelay("cases", "postgresql+asyncpg://u@127.0.0.1/x", lambda: cast(AIOKafkaProducer, None))
    spans: list[trace.Span] = []
    rows = [row(0, "uncops.cases.v1", "case-1", STORED), row(1, "uncops.cases.v1", "case-2")]
    await relay._send(cast(AIOKafkaProducer, producer), cast(list[asyncpg.Record], rows), spans)

    (_, _, batch), *_ = producer.sent
    first, second = DefaultRecordBatch(bytes(batch._build()))
    headers = dict(first.headers)
    (span,) = spans  # one per event that has a trace
    assert isinstance(span, ReadableSpan) and span.parent is not None
    assert span.name == "publish uncops.cases.v1" and span.kind is trace.SpanKind.PRODUCER
    assert format(span.parent.span_id, "016x") == "b7ad6b7169203331"
    context = span.get_span_context()
    sent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert headers["traceparent"] == headers["ce_traceparent"] == sent.encode()
    assert sent.split("-")[1] == STORED.split("-")[1]  # the same trace
    assert "traceparent" not in dict(second.headers)

    # The consumer's span is the publish span's child.
    with continued_span("consume uncops.cases.v1", {"traceparent": sent}) as consumed:
        assert isinstance(consumed, ReadableSpan) and consumed.parent is not None
        assert consumed.parent.span_id == context.span_id


EXPORTING = textwrap.dedent(
    """
    import json, sys
    from opentelemetry import trace
    from services.common import observability
    observability.configure("cases-relay")
    provider = trace.get_tracer_provider()
    print(json.dumps({
        "exporting": observability.exporting(),
        "service": provider.resource.attributes["service.name"],
        "processors": [type(p).__name__ for p in provider._active_span_processor._span_processors],
    }))
    """
)


def exporter(env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", EXPORTING],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_spans_are_exported_only_with_an_endpoint() -> None:
    assert exporter({}) == {"exporting": False, "service": "uncops-cases-relay", "processors": []}
    assert exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}) == {
        "exporting": True,
        "service": "uncops-cases-relay",
        "processors": ["BatchSpanProcessor"],
    }
    named = exporter(
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://x:4318/v1/traces", "OTEL_SERVICE_NAME": "x"}
    )
    assert named["exporting"] is True and named["service"] == "x"
    assert (
        exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "true"})["exporting"]
        is False
    )
