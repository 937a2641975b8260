"""Metrics (issue 20): the Temporal SDK's metrics served by prometheus_client, the business gauges' helper
and the local stack's metrics ports."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import REGISTRY, CollectorRegistry, Gauge, generate_latest
from temporalio.runtime import MetricBuffer, MetricBufferDurationFormat, Runtime, TelemetryConfig

from deploy.stack import TEST_PORTS, LocalStack, Ports, _banner
from services.common.consumer import InboxConsumer, Subscription
from services.common.metrics import GaugeByLabel, TemporalMetrics, serve_metrics


def test_the_sdk_metrics_are_exposed_in_prometheus_format() -> None:
    buffer = MetricBuffer(1000, MetricBufferDurationFormat.SECONDS)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer, attach_service_name=False))
    meter = runtime.metric_meter
    polls = meter.create_counter("temporal_probe_polls", "Polls")
    polls.add(2, {"task_queue": "uncops-cases"})
    polls.add(3, {"task_queue": "uncops-cases"})
    meter.create_gauge("temporal_probe_slots", "Free slots").set(7, {"task_queue": "uncops-cases"})
    latency = meter.create_histogram_timedelta("temporal_probe_latency", "Latency", "duration")
    latency.record(timedelta(milliseconds=30), {})
    latency.record(timedelta(seconds=3), {})

    registry = CollectorRegistry()
    registry.register(TemporalMetrics(buffer))
    text = generate_latest(registry).decode()

    assert 'temporal_probe_polls_total{task_queue="uncops-cases"} 5.0' in text
    assert 'temporal_probe_slots{task_queue="uncops-cases"} 7.0' in text
    assert 'temporal_probe_latency_seconds_bucket{le="0.05"} 1.0' in text
    assert 'temporal_probe_latency_seconds_bucket{le="+Inf"} 2.0' in text
    assert "temporal_probe_latency_seconds_count 2.0" in text
    # Counters keep counting across scrapes.
    polls.add(1, {"task_queue": "uncops-cases"})
    assert 'temporal_probe_polls_total{task_queue="uncops-cases"} 6.0' in generate_latest(registry).decode()


def test_a_label_value_that_empties_shows_zero() -> None:
    registry = CollectorRegistry()
    gauge = GaugeByLabel(
        Gauge("probe_overdue", "Overdue", ["mission"], registry=registry), known=("MINUSCA",)
    )
    assert "probe_overdue{" not in generate_latest(registry).decode()  # nothing before the first refresh
    gauge.set({"MONUSCO": 2, "UNMISS": 1})
    gauge.set({"UNMISS": 4})
    text = generate_latest(registry).decode()
    assert 'probe_overdue{mission="UNMISS"} 4.0' in text
    assert 'probe_overdue{mission="MONUSCO"} 0.0' in text
    assert 'probe_overdue{mission="MINUSCA"} 0.0' in text


def test_each_background_process_has_its_own_metrics_port() -> None:
    ports = Ports()
    assert ports.metrics("cases", "worker") == 9121
    assert ports.metrics("pledges", "relay") == 9112
    assert ports.metrics("console", "consume") == 9103
    assert ports.metrics("partners", "consume") == 9143
    shifted = Ports(*(port + 700 for port in TEST_PORTS.__dict__.values()))
    assert shifted.metrics("cases", "worker") == 9121 + (TEST_PORTS.console - 8000) + 700
    every = [
        ports.metrics(service, role)
        for service in ("console", "pledges", "cases", "summit", "partners")
        for role in ("worker", "relay", "consume")
    ]
    assert len(set(every)) == len(every)
    assert not set(every) & set(ports.__dict__.values())


def test_a_taken_metrics_port_is_logged_and_the_process_goes_on() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert serve_metrics(taken.getsockname()[1], "127.0.0.1") is False


def test_the_banner_lists_each_process_metrics(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, Ports(), echo=lambda _: None)
    stack.metrics_ports.update({"cases-worker": 9121, "pledges-relay": 9112})
    banner = _banner(stack, 12)
    assert "cases-worker    http://127.0.0.1:9121/metrics" in banner
    assert "pledges-relay   http://127.0.0.1:9112/metrics" in banner


class LaggingConsumer:
    """What the lag measurement reads of AIOKafkaConsumer: the high watermark and the position."""

    def __init__(
        self, highwater: dict[TopicPartition, int | None], position: dict[TopicPartition, int]
    ) -> None:
        self._highwater = highwater
        self._position = position

    def highwater(self, tp: TopicPartition) -> int | None:
        return self._highwater[tp]

    async def position(self, tp: TopicPartition) -> int:
        return self._position[tp]


async def test_consumer_lag_is_the_high_watermark_less_the_position_per_topic() -> None:
    a0, a1, b0 = TopicPartition("a.v1", 0), TopicPartition("a.v1", 1), TopicPartition("b.v1", 0)
    subscription = Subscription("probe.lag", ["a.v1", "b.v1", "c.v1"], {})
    inbox = InboxConsumer(subscription, cast(Any, None), cast(Any, None), cast(Any, None))
    kafka = LaggingConsumer({a0: 10, a1: 5, b0: None}, {a0: 7, a1: 5, b0: 0})
    await inbox._measure_lag(cast(AIOKafkaConsumer, kafka), {a0, a1, b0})

    def lag(topic: str) -> float | None:
        return REGISTRY.get_sample_value("uncops_consumer_lag", {"consumer": "probe.lag", "topic": topic})

    assert lag("a.v1") == 3
    assert lag("b.v1") == 0  # not fetched from yet: no figure, 0
    assert lag("c.v1") == 0  # subscribed, nothing assigned here
