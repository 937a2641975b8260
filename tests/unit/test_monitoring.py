"""deploy/monitoring (issue 20): the alert rules and the dashboard parse, and every query names only metrics
the platform's processes export (promtool is not installable from the registries here: docs/operations.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import services.cases.app
import services.common.app
import services.common.consumer
import services.common.relay
import services.pledges.app
from services.common.metrics import TEMPORAL_METRICS

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
assert services.cases.app and services.common.app and services.common.consumer  # their metrics registered
assert services.common.relay and services.pledges.app

# PromQL's own words: functions, aggregations, keywords; and "up", which Prometheus itself records.
PROMQL = {
    *("sum", "max", "min", "avg", "count", "by", "without", "on", "ignoring", "group_left", "group_right"),
    *("rate", "irate", "increase", "delta", "histogram_quantile", "offset", "and", "or", "unless", "bool"),
    *("abs", "clamp_min", "clamp_max", "absent", "time", "vector", "scalar", "topk", "bottomk", "up"),
}
IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def exported() -> set[str]:
    """Every sample name the processes can serve: prometheus_client's metrics and the SDK's we rely on."""
    names: set[str] = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    for name, kind in TEMPORAL_METRICS.items():
        base = name.removesuffix("_total")
        names.update(base + suffix for suffix in suffixes[kind])
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: its identifiers less label matchers, durations, label
    lists of by/without and PromQL's own words."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\boffset\s+\w+", "", expr)
    expr = re.sub(r"\b\d+(\.\d+)?\b", "", expr)
    return {name for name in IDENTIFIER.findall(expr) if name not in PROMQL}


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_targets() -> Iterator[tuple[str, str]]:
    document = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    for panel in document["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["expr"]


def test_the_parser_finds_the_metrics_of_an_expression() -> None:
    assert metric_names(
        'sum by (service) (rate(uncops_http_requests_total{status=~"5.."}[5m])) / max(up offset 1h) > 0.05'
    ) == {"uncops_http_requests_total"}


def test_the_alerts_cover_what_the_issue_names() -> None:
    read = {name for rule in rules() for name in metric_names(str(rule["expr"]))}
    for needed in (
        "uncops_outbox_oldest_unpublished_age_seconds",  # outbox backlog age
        "uncops_consumer_lag",
        "uncops_consumer_events_total",  # DLQ growth (outcome dead_lettered)
        "uncops_cases_overdue",  # deadline escalations
        "uncops_http_requests_total",  # 5xx rate
    ):
        assert needed in read, needed


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: str(rule["alert"]))
def test_each_alert_reads_exported_metrics_and_says_what_to_do(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"Uncops[A-Z][A-Za-z0-9]+", rule["alert"])
    assert rule["labels"]["severity"] in ("warning", "critical")
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    names = metric_names(str(rule["expr"]))
    assert names and names <= exported(), names - exported()
    if "for" in rule:
        assert re.fullmatch(r"\d+[smh]", rule["for"])


def test_each_dashboard_query_reads_exported_metrics() -> None:
    targets = list(dashboard_targets())
    assert len(targets) >= 10
    for title, expr in targets:
        names = metric_names(expr)
        assert names and names <= exported(), (title, names - exported())
