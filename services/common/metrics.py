"""Prometheus metrics beyond the HTTP ones (issue 20): the Temporal SDK's, the business gauges, and the
/metrics endpoint of the processes that serve no HTTP API (worker, relay, consumer).

The Temporal SDK's metrics are read from a ``MetricBuffer`` and served by prometheus_client with ours,
rather than by the SDK's own Prometheus endpoint (``PrometheusConfig``): that would bind a second port in
every process (API processes included), and each deployment would have to scrape two ports per pod. Here
each process has ONE /metrics: its API's port, or ``UNCOPS_METRICS_PORT`` (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from prometheus_client import REGISTRY, Gauge, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from temporalio.runtime import BufferedMetricUpdate, MetricBuffer

from services.common.observability import get_logger

log = get_logger(__name__)

# Seconds: the SDK's durations are read as seconds (MetricBufferDurationFormat.SECONDS).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# How often the buffer is drained between scrapes: the SDK drops updates once it holds buffer_size of them.
_DRAIN_SECONDS = 1.0
TEMPORAL_BUFFER_SIZE = 50_000

_Labels = tuple[tuple[str, str], ...]

# The SDK's metrics that deploy/monitoring's dashboard and alert rules use, as served here (a worker serves
# them once it has run a workflow task; tests/e2e/test_observability.py scrapes them).
TEMPORAL_METRICS = {
    "temporal_request_total": "counter",
    "temporal_workflow_task_execution_latency_seconds": "histogram",
    "temporal_workflow_task_schedule_to_start_latency_seconds": "histogram",
    "temporal_worker_task_slots_used": "gauge",
    "temporal_worker_task_slots_available": "gauge",
    "temporal_local_activity_execution_latency_seconds": "histogram",
}


class TemporalMetrics(Collector):
    """The Temporal SDK's metric updates (counters, gauges, histograms), accumulated and exposed in
    Prometheus' format under the SDK's names (``temporal_*``; durations get ``_seconds``)."""

    def __init__(self, buffer: MetricBuffer) -> None:
        self.buffer = buffer
        self._lock = threading.Lock()
        # name -> (kind, description, labels -> value | [bucket counts..., sum, count])
        self._metrics: dict[str, tuple[str, str, dict[_Labels, Any]]] = {}

    def drain(self) -> None:
        with self._lock:
            for update in self.buffer.retrieve_updates():
                self._apply(update)

    def _apply(self, update: BufferedMetricUpdate) -> None:
        metric = update.metric
        kind = {0: "counter", 1: "gauge", 2: "histogram"}.get(int(metric.kind), "gauge")
        # A counter's samples get "_total" here: the SDK's own "local_activity_total" would get it twice.
        name = metric.name.removesuffix("_total") if kind == "counter" else metric.name
        # Durations come as seconds (MetricBufferDurationFormat.SECONDS), their unit then "s".
        if kind == "histogram" and metric.unit in ("s", "duration") and not name.endswith("_seconds"):
            name += "_seconds"
        _, _, series = self._metrics.setdefault(name, (kind, metric.description or name, {}))
        labels: _Labels = tuple(sorted((str(k), str(v)) for k, v in update.attributes.items()))
        value = float(update.value)
        if kind == "counter":
            series[labels] = series.get(labels, 0.0) + value
        elif kind == "gauge":
            series[labels] = value
        else:
            counts = series.setdefault(labels, [0] * len(DURATION_BUCKETS) + [0.0, 0])
            for i, bound in enumerate(DURATION_BUCKETS):
                if value <= bound:
                    counts[i] += 1
            counts[-2] += value
            counts[-1] += 1

    def collect(self) -> Iterable[Metric]:
        self.drain()
        with self._lock:
            for name, (kind, description, series) in self._metrics.items():
                family = Metric(name, description, kind)
                for labels, value in series.items():
                    sample_labels = dict(labels)
                    if kind == "counter":
                        family.add_sample(name + "_total", sample_labels, value)
                    elif kind == "gauge":
                        family.add_sample(name, sample_labels, value)
                    else:
                        for bound, count in zip(DURATION_BUCKETS, value, strict=False):
                            family.add_sample(name + "_bucket", {**sample_labels, "le": str(bound)}, count)
                        family.add_sample(name + "_bucket", {**sample_labels, "le": "+Inf"}, value[-1])
                        family.add_sample(name + "_sum", sample_labels, value[-2])
                        family.add_sample(name + "_count", sample_labels, value[-1])
                yield family


def serve_temporal_metrics(buffer: MetricBuffer) -> TemporalMetrics:
    """Registers the SDK's metrics with prometheus_client and drains them every second from a daemon
    thread, so a process scraped rarely (or not at all) never fills the SDK's buffer."""
    collector = TemporalMetrics(buffer)
    REGISTRY.register(collector)
    stopped = threading.Event()

    def drain_forever() -> None:
        while not stopped.wait(_DRAIN_SECONDS):
            try:
                collector.drain()
            except Exception:  # never let the thread die: the next round tries again
                log.exception("temporal metrics drain failed")

    thread = threading.Thread(target=drain_forever, name="temporal-metrics", daemon=True)
    thread.start()

    def stop() -> None:
        # Stopped before the interpreter finalises: a daemon thread still calling into the SDK's native code
        # then crashed the process at exit ("Fatal Python error: PyGILState_Release", seen on every worker).
        stopped.set()
        thread.join(5)

    atexit.register(stop)
    return collector


def serve_metrics(port: int, host: str) -> bool:
    """/metrics of a worker, relay or consumer process (prometheus_client's own server, in a thread).

    A port already taken is logged as an error and the process goes on without metrics: its work matters
    more than its metrics (and in a pod the port is the pod's own, so this is a local mistake).
    """
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.error("metrics not served", port=port, error=repr(exc))
        return False
    log.info("metrics served", port=port, path="/metrics")
    return True


# ---- Business gauges: refreshed by a periodic task where the relay runs (one process per service), from
# the service's own queries; a scrape only reads the last values, so it costs no query.
GAUGE_REFRESH_SECONDS = 30.0


async def refresh_periodically(
    name: str,
    refresh: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    every: float = GAUGE_REFRESH_SECONDS,
) -> None:
    """Runs ``refresh`` now and then every ``every`` seconds until ``stop``; a failure is logged and the
    gauges keep their last values until the next round."""
    while not stop.is_set():
        try:
            await refresh()
        except Exception as exc:
            log.warning("business gauges not refreshed", gauges=name, error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


class GaugeByLabel:
    """A one-label gauge set from counts by label value: a value counted once and absent since (a stage
    that emptied, a mission with no overdue case left) shows 0 rather than its last count.

    A gauge with a label shows nothing until set, so the processes that import a service's wiring without
    refreshing its gauges (its worker, say) serve none of them, rather than a misleading 0.
    """

    def __init__(self, gauge: Gauge, known: Iterable[str] = ()) -> None:
        self.gauge = gauge
        self.seen = set(known)

    def set(self, counts: Mapping[str, float]) -> None:
        self.seen.update(counts)
        for value in self.seen:
            self.gauge.labels(value).set(counts.get(value, 0))
