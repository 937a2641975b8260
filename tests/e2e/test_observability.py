"""Operability (issue 20) on the real processes: one case step's spans form one trace from the HTTP request
through Temporal, the outbox relay and Kafka to a consumer; every line our processes log is JSON; every kind
of process serves /metrics with its metrics.

Spans are received by an OTLP/HTTP receiver this module runs on loopback (the processes' exporter is the
real one, pointed at it by OTEL_EXPORTER_OTLP_ENDPOINT) and decoded with opentelemetry-proto.
"""

from __future__ import annotations

import functools
import gzip
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from deploy.stack import LocalStack
from services.common.auth import Role
from services.common.metrics import TEMPORAL_METRICS
from services.common.settings import Settings
from tests.conftest import STEP_TIMEOUT_SECONDS, bearer, eventually, url
from tests.e2e.test_case_lifecycle import intake


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str | None


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver (POST /v1/traces, protobuf): what a collector would get."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ExportHandler)
        self.spans: list[ReceivedSpan] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def trace(self, trace_id: str) -> dict[str, ReceivedSpan]:
        with self.lock:
            return {span.span_id: span for span in self.spans if span.trace_id == trace_id}


class _ExportHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        received = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=attributes.get("service.name", ""),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex() or None,
                        )
                    )
        with self.server.lock:
            self.server.spans.extend(received)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: Any) -> None:  # quiet: pytest shows what matters
        pass


# The processes one case step goes through, as the platform fixture starts them (tests/conftest.py).
TRACED: list[tuple[str, str, dict[str, str]]] = [
    (
        "cases",
        "serve",
        {"UNCOPS_BACKGROUND": "false", "UNCOPS_STEP_TIMEOUT_SECONDS": str(STEP_TIMEOUT_SECONDS)},
    ),
    ("cases", "worker", {}),
    ("cases", "relay", {}),
    ("console", "consume", {"UNCOPS_CONSUMER_STALL_SECONDS": "15", "UNCOPS_DIGESTS": "false"}),
]


def restart(stack: LocalStack, env: dict[str, str]) -> None:
    for service, role, extra in TRACED:
        name = service if role == "serve" else f"{service}-{role}"
        stack.stop(name)
        stack.start_service(service, role, **extra, **env)
        if role != "serve":
            # Up once it serves its metrics (a relay's or consumer's start does not wait, and a worker's
            # wait can see the stopped worker's poller, still listed by Temporal for a while).
            port = stack.metrics_ports[name]
            stack.wait_for(name, functools.partial(_answers, f"http://127.0.0.1:{port}/metrics"), 60)


def _answers(address: str) -> bool:
    try:
        return httpx.get(address, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def traced(platform: LocalStack, receiver: Receiver) -> Iterator[LocalStack]:
    """The processes of a case step, exporting their spans to ``receiver``; back as they were after."""
    restart(platform, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"})
    yield platform
    restart(platform, {})


async def test_a_case_step_is_one_trace_from_the_request_to_the_consumer(
    traced: LocalStack, receiver: Receiver, settings: Settings, http: httpx.AsyncClient
) -> None:
    officer = bearer(settings, Role.CONDUCT_OFFICER, subject="cdo-trace")
    opened = await http.post(url("cases", "/cases"), headers=officer, json=intake())
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    stepped = await http.post(
        url("cases", f"/cases/{case_id}/actions"), headers=officer, json={"action": "start_assessment"}
    )
    assert stepped.status_code == 200, stepped.text
    trace_id = stepped.headers["x-correlation-id"]

    async def consumed() -> dict[str, ReceivedSpan] | None:
        spans = receiver.trace(trace_id)
        names = {span.name for span in spans.values()}
        return spans if "consume uncops.cases.v1" in names else None

    try:
        spans = await eventually(consumed)
    except AssertionError as exc:
        received = sorted(
            (s.service, s.name, s.span_id, s.parent_id) for s in receiver.trace(trace_id).values()
        )
        raise AssertionError(f"trace {trace_id} has no consumer span; received: {received}") from exc

    # One tree: a single root, the request's server span; every other span's parent is in the trace.
    roots = [span for span in spans.values() if span.parent_id is None]
    assert [(root.service, root.name) for root in roots] == [
        ("uncops-cases", "POST /cases/{case_id}/actions")
    ]
    orphans = [span for span in spans.values() if span.parent_id is not None and span.parent_id not in spans]
    assert orphans == []

    # The consumer's span descends, hop by hop, from the request through Temporal and the relay.
    (consume,) = [span for span in spans.values() if span.name == "consume uncops.cases.v1"]
    chain = [consume]
    while chain[-1].parent_id is not None:
        chain.append(spans[chain[-1].parent_id])
    hops = [(span.service, span.name.split(":")[0]) for span in reversed(chain)]
    assert hops[0] == ("uncops-cases", "POST /cases/{case_id}/actions")
    assert hops == [
        ("uncops-cases", "POST /cases/{case_id}/actions"),
        ("uncops-cases", "StartWorkflowUpdate"),  # the API's Temporal client
        ("uncops-cases-worker", "StartActivity"),  # the workflow's Update handler starts the activity
        ("uncops-cases-worker", "RunActivity"),  # which writes the outbox row
        ("uncops-cases-relay", "publish uncops.cases.v1"),  # the relay's hop to Kafka
        ("uncops-console-consume", "consume uncops.cases.v1"),  # the consumer, from the Kafka headers
    ]
    # The Update's handler in the worker is a child of the API's Update call, in the same trace.
    (update,) = [span for span in chain if span.name.startswith("StartWorkflowUpdate")]
    handlers = [span for span in spans.values() if span.name == "HandleUpdate:act"]
    assert [(span.service, span.parent_id) for span in handlers] == [("uncops-cases-worker", update.span_id)]


async def test_the_access_log_names_the_route_never_the_query(
    traced: LocalStack, settings: Settings, http: httpx.AsyncClient
) -> None:
    secret = f"Query-Secret-{uuid.uuid4().hex[:8]}"
    listed = await http.get(
        url("cases", "/cases"), headers=bearer(settings, Role.CONDUCT_OFFICER), params={"q": secret}
    )
    assert listed.status_code == 200, listed.text
    correlation = listed.headers["x-correlation-id"]

    async def logged() -> dict[str, Any] | None:
        for line in (traced.logs / "cases.log").read_text().splitlines():
            if correlation in line and '"request"' in line:
                found: dict[str, Any] = json.loads(line)
                return found
        return None

    line = await eventually(logged)
    assert line["route"] == "/cases" and line["method"] == "GET" and line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["service"] == "cases"
    assert secret not in (traced.logs / "cases.log").read_text()


# Each kind of process and metrics it must serve: the API's on its own port, the others' on theirs.
EXPECTED_METRICS = {
    "cases": ("uncops_http_requests_total", "uncops_http_request_seconds", "temporal_request_total"),
    # Every SDK metric deploy/monitoring relies on (a case step's activity is a local one).
    "cases-worker": tuple(
        name + {"histogram": "_bucket"}.get(kind, "") for name, kind in TEMPORAL_METRICS.items()
    ),
    "cases-relay": (
        "uncops_outbox_published_total",
        "uncops_outbox_oldest_unpublished_age_seconds",
        'uncops_cases_open{stage="preliminary_assessment"}',
        "# TYPE uncops_cases_overdue gauge",  # per mission, none overdue yet
    ),
    "pledges-relay": ('uncops_pledges{traffic_light="green"}', "uncops_outbox_backlog"),
    "console-consume": (
        'uncops_consumer_lag{consumer="console.notifications",topic="uncops.cases.v1"}',
        "uncops_consumer_events_total",
        "uncops_consumer_assigned_partitions",
    ),
}


async def test_every_kind_of_process_serves_its_metrics(traced: LocalStack, http: httpx.AsyncClient) -> None:
    # Run after the case step above: the worker has run workflow tasks and an activity by now.
    for name, expected in EXPECTED_METRICS.items():
        port = traced.ports.cases if name == "cases" else traced.metrics_ports[name]

        async def scraped(port: int = port, expected: tuple[str, ...] = expected) -> str | None:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            return text if all(metric in text for metric in expected) else None

        try:
            await eventually(scraped, timeout=40)
        except AssertionError as exc:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            missing = [metric for metric in expected if metric not in text]
            raise AssertionError(f"{name} on {port} lacks {missing}") from exc
    # The business gauges come from where the relay runs: a worker (which loads the same wiring) has none.
    worker = (await http.get(f"http://127.0.0.1:{traced.metrics_ports['cases-worker']}/metrics")).text
    assert "uncops_cases_open{" not in worker


# Our processes' logs (the servers' own, PostgreSQL's, Kafka's and Temporal's, are not ours).
OURS = {
    *(f"{service}.log" for service in ("pledges", "cases", "summit", "console", "partners")),
    *(
        f"{service}-{role}.log"
        for service in ("pledges", "cases", "summit", "console", "partners")
        for role in ("worker", "relay", "consume")
    ),
    "mailcatcher.log",
}


async def test_every_line_our_processes_logged_is_json(traced: LocalStack) -> None:
    checked = 0
    for log in sorted(traced.logs.glob("*.log")):
        if log.name not in OURS:
            continue
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise AssertionError(f"{log.name}:{number} is not JSON: {line[:300]!r}") from exc
            assert {"level", "timestamp"} <= record.keys(), (log.name, number, record)
            # Ours name their service; the Temporal SDK's core writes its own JSON (message under "fields").
            assert "service" in record or "fields" in record, (log.name, number, record)
            checked += 1
    assert checked > 0
