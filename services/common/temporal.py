"""Temporal for the services: the client (pydantic data converter, trace propagation), workflows known by
their registered names, and the rule that a workflow starts before the commit of the row it belongs to."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import (
    LoggingConfig,
    LoggingFormat,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import TLSConfig
from temporalio.worker import (
    HandleUpdateInput,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from services.common import metrics, timing
from services.common.settings import Settings


def task_queue(service: str) -> str:
    return f"uncops-{service}"


async def connect(settings: Settings) -> Client:
    # The tracing interceptor carries the request's trace (our correlation id) into workflows and activities;
    # a worker built on this client takes it too (Worker uses the client's interceptors that are also
    # worker interceptors), so its workflow and activity spans continue the caller's trace.
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        data_converter=pydantic_data_converter,
        interceptors=[StepTracingInterceptor()],
        runtime=sdk_runtime(),
    )


# ---- The Temporal SDK's telemetry (issue 20): its metrics into this process's /metrics, its core's logs
# into the JSON logs.
@functools.cache
def sdk_runtime() -> Runtime:
    """The SDK runtime of every client (and so worker) of the process, made once.

    Metrics go to a buffer that services/common/metrics.py drains into prometheus_client, so they are
    served on the process's one /metrics (not on a port of the SDK's own); the Rust core's log lines, which
    would otherwise print as text, are printed as JSON.
    """
    buffer = MetricBuffer(metrics.TEMPORAL_BUFFER_SIZE, MetricBufferDurationFormat.SECONDS)
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=buffer,
            # The process is the scrape target already: no constant "temporal-core-sdk" label on every series.
            attach_service_name=False,
            # JSON lines written by the core itself: forwarded to a Python logger instead, the core's thread
            # called into an interpreter shutting down and crashed the process at exit (seen).
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"), format=LoggingFormat.JSON
            ),
        )
    )
    metrics.serve_temporal_metrics(buffer)
    return runtime


class StepTracingInterceptor(TracingInterceptor):
    """The SDK's tracing interceptor, with a workflow Update's spans in the trace of the request that sent it.

    The SDK puts an Update's handler (and what it starts: a case step's activity) in the trace of the
    request that STARTED the workflow, linked to the Update's; a case lives for months, so a step's work
    would hang off its intake's trace. Here the handler and validator continue the Update's own context
    (from its header), so one step is one trace: HTTP request, Update, activity, outbox, Kafka, consumer
    (issue 20; docs/operations.md, "Traces"). The SDK documents subclassing these for such changes.
    """

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)
        return _UpdateTracingWorkflowInbound


class _UpdateTracingWorkflowInbound(TracingWorkflowInboundInterceptor):
    def _update_context(self, input: HandleUpdateInput) -> otel_context.Context | None:
        header = input.headers.get(self.header_key)
        if not header:
            return None
        carrier = self.payload_converter.from_payloads([header])[0]
        return self._set_on_context(self.text_map_propagator.extract(carrier))

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        context = self._update_context(input)
        if context is None:
            super().handle_update_validator(input)
            return
        token = otel_context.attach(context)
        try:
            self._completed_span(f"ValidateUpdate:{input.update}", kind=SpanKind.SERVER)
            WorkflowInboundInterceptor.handle_update_validator(self, input)
        finally:
            otel_context.detach(token)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        context = self._update_context(input)
        if context is None:
            return await super().handle_update_handler(input)
        # Attached for the handler's whole run (its own task's context): the activities it starts carry it.
        token = otel_context.attach(context)
        try:
            self._completed_span(f"HandleUpdate:{input.update}", kind=SpanKind.SERVER)
            return await WorkflowInboundInterceptor.handle_update_handler(self, input)
        finally:
            otel_context.detach(token)


# ---- issue 20: Temporal client security (mutual TLS, Temporal Cloud's API keys)


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS of the Temporal client: a TLSConfig with the client certificate and key (mutual TLS) and the CA
    when set; plain TLS with the system's CAs for TEMPORAL_TLS=true or an API key (sent only over TLS); else
    none."""
    files = {
        "UNCOPS_TEMPORAL_TLS_CERT": settings.temporal_tls_cert,
        "UNCOPS_TEMPORAL_TLS_KEY": settings.temporal_tls_key,
        "UNCOPS_TEMPORAL_TLS_CA": settings.temporal_tls_ca,
    }
    if not any(files.values()):
        return settings.temporal_tls or settings.temporal_api_key is not None
    read: dict[str, bytes | None] = {}
    for name, path in files.items():
        if path is not None and not path.is_file():
            raise ValueError(f"{name}={path}: no such file")
        read[name] = path.read_bytes() if path is not None else None
    return TLSConfig(
        server_root_ca_cert=read["UNCOPS_TEMPORAL_TLS_CA"],
        client_cert=read["UNCOPS_TEMPORAL_TLS_CERT"],
        client_private_key=read["UNCOPS_TEMPORAL_TLS_KEY"],
    )


def build_worker(
    client: Client, queue: str, workflows: Sequence[type], activities: Sequence[Callable[..., Any]]
) -> Worker:
    # Unsandboxed: the sandbox re-imports each workflow module per workflow and runs every activation
    # through its proxies, 40 % of the worker's CPU per step (28 ms of CPU against 16.5 ms, 16 steps in
    # flight), and guards only the workflow modules' own lines, the domain modules they call being passed
    # through anyway. tests/unit/test_workflow_determinism.py keeps those lines free of clocks, randomness
    # and I/O; the replay tests catch the rest.
    return Worker(
        client,
        task_queue=queue,
        workflows=list(workflows),
        activities=list(activities),
        workflow_runner=UnsandboxedWorkflowRunner(),
        # One thread for the activations: under the GIL more threads only take turns, and waking them
        # cost a step p50 41-46 ms one at a time against 36-41 with one (issue 19, side by side).
        workflow_task_executor=concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="workflow"),
    )


@dataclass(frozen=True)
class WorkflowType:
    """A workflow as a service's gateway knows it: the name its worker registers, its Updates and Queries by
    name, on its context's task queue. Services never import workflows/; tests/unit/test_layout.py checks
    every name here against what workflows/<context>/worker.py registers."""

    name: str
    service: str
    updates: tuple[str, ...] = ()
    queries: tuple[str, ...] = ()

    @property
    def task_queue(self) -> str:
        return task_queue(self.service)

    async def start(
        self,
        client: Client,
        start: Any,
        workflow_id: str,
        id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.REJECT_DUPLICATE,
        task_timeout: timedelta | None = None,
    ) -> WorkflowHandle[Any, Any]:
        with timing.phase(timing.WORKFLOW):
            return await client.start_workflow(
                self.name,
                start,
                id=workflow_id,
                task_queue=self.task_queue,
                id_reuse_policy=id_reuse_policy,
                task_timeout=task_timeout,
            )


@contextlib.asynccontextmanager
async def started_before_commit(
    session: AsyncSession, reason: str
) -> AsyncIterator[list[WorkflowHandle[Any, Any]]]:
    """Commits the session after the block, which starts the workflows of the rows it wrote and lists their
    handles. A workflow starts before its row commits, so a stored row always has its workflow (its timers,
    its steps); if the block or the commit fails, every workflow started is terminated with ``reason`` (its
    activities would find no row anyway)."""
    started: list[WorkflowHandle[Any, Any]] = []
    try:
        yield started
        await session.commit()
    except BaseException:
        await asyncio.gather(*(handle.terminate(reason) for handle in started), return_exceptions=True)
        raise
