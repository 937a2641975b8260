"""Issue 20: the Kubernetes manifests as kustomize renders each overlay (deploy/k8s/overlays/*), checked
against the Kubernetes API's schemas and for what operating them needs: PodDisruptionBudgets,
NetworkPolicies that let each component reach what it uses and nothing else in, scrape targets for every
/metrics port, no persistent volume, client security from Secrets.

Rendering needs kustomize, which `make test` builds at a pinned version from the Go module proxy into
.venv/bin (nothing reaches a cluster); the schemas come with the kubernetes-validate package (dev group),
offline. A missing kustomize is a failure, not a skip.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from services.common.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = Path(sys.executable).parent / "kustomize"  # make test builds it there
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("staging", "production")
# The Prometheus Operator's kinds: no schema in kubernetes-validate, checked field by field below.
CUSTOM_KINDS = {"ServiceMonitor", "PodMonitor"}
APIS = ("pledges", "cases", "summit")
WORKERS = tuple(f"{service}-worker" for service in APIS)


def _render(folder: Path) -> list[dict[str, Any]]:
    if not KUSTOMIZE.exists():
        pytest.fail(f"{KUSTOMIZE} is needed to render the overlays: `make test` builds it")
    result = subprocess.run(
        [str(KUSTOMIZE), "build", str(folder)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kustomize build {folder}:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {overlay: _render(K8S / "overlays" / overlay) for overlay in OVERLAYS}


def _of(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def _pods(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each workload's pod template (Deployments and the topics Job)."""
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]
        for doc in docs
        if doc["kind"] in ("Deployment", "Job")
    }


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, In expressions: what these manifests use) selects ``labels``."""
    if not selector:
        return True
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def test_the_base_is_not_applied_alone() -> None:
    """Both overlays build on the one base; the base renders too (what each overlay changes is a patch)."""
    assert len(_render(K8S / "base")) > 30
    for overlay in OVERLAYS:
        kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
        assert kustomization["resources"] == ["../../base"], overlay


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_matches_the_kubernetes_schema(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    version = kubernetes_validate.latest_version()
    checked = 0
    for doc in rendered[overlay]:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        # strict: a field the API does not know (a typo) is an error too.
        kubernetes_validate.validate(doc, version, strict=True)
        checked += 1
    assert checked >= 30


def test_the_schema_check_catches_mistakes(rendered: dict[str, list[dict[str, Any]]]) -> None:
    version = kubernetes_validate.latest_version()
    deployment = _of(rendered["production"], "Deployment")["cases"]
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "three"
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    for broken in (wrong_type, misspelt):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, version, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_a_disruption_budget(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    budgets = _of(docs, "PodDisruptionBudget").values()
    deployments = _of(docs, "Deployment")
    assert set(deployments) == {*APIS, *WORKERS, "console", "partners"}
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if _selects(b["spec"]["selector"], labels)]
        # One pod at a time: with 2+ replicas one keeps serving, and a 1-replica Deployment can still drain.
        assert budget["spec"] == {"maxUnavailable": 1, "selector": budget["spec"]["selector"]}, name


def _policies(docs: list[dict[str, Any]], labels: dict[str, str], direction: str) -> list[dict[str, Any]]:
    key = "egress" if direction == "Egress" else "ingress"
    return [
        rule
        for policy in _of(docs, "NetworkPolicy").values()
        if direction in policy["spec"]["policyTypes"] and _selects(policy["spec"]["podSelector"], labels)
        for rule in policy["spec"].get(key, [])
    ]


def _egress_ports(docs: list[dict[str, Any]], labels: dict[str, str]) -> set[int | str]:
    """Ports a pod may reach on any destination (rules without `to`)."""
    ports: set[int | str] = set()
    for rule in _policies(docs, labels, "Egress"):
        if "to" in rule:
            continue
        for port in rule.get("ports", []):
            ports.update(range(port["port"], port.get("endPort", port["port"]) + 1))
    return ports


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default_and_allow_what_each_component_needs(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    policies = _of(docs, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    pods = _pods(docs)
    for name, pod in pods.items():
        labels = pod["metadata"]["labels"]
        # PostgreSQL, Kafka (plaintext and SASL/TLS listeners), Temporal, HTTPS (object store, JWKS, Cloud).
        assert {5432, 9092, 9093, 9094, 7233, 443} <= _egress_ports(docs, labels), name
        dns = [r for r in _policies(docs, labels, "Egress") if {"protocol": "UDP", "port": 53} in r["ports"]]
        assert dns, name
        # Prometheus reaches every port that serves /metrics.
        metrics_ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        scraped = {
            port["port"]
            for rule in _policies(docs, labels, "Ingress")
            if any(
                peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                == "monitoring"
                for peer in rule["from"]
            )
            for port in rule["ports"]
        }
        assert metrics_ports <= scraped, name
    # Only the partner gateway may call any host on port 80 (webhook URLs).
    assert 80 in _egress_ports(docs, pods["partners"]["metadata"]["labels"])
    assert not [
        n for n in pods if n != "partners" and 80 in _egress_ports(docs, pods[n]["metadata"]["labels"])
    ]
    # The console reaches the three APIs, and each API lets it in.
    console = pods["console"]["metadata"]["labels"]
    (to_apis,) = [
        r
        for r in _policies(docs, console, "Egress")
        if "to" in r and "ports" in r and r["ports"][0]["port"] == "http"
    ]
    for api in APIS:
        api_labels = pods[api]["metadata"]["labels"]
        assert any(_selects(peer["podSelector"], api_labels) for peer in to_apis["to"]), api
        allowed = [
            peer
            for rule in _policies(docs, api_labels, "Ingress")
            for peer in rule["from"]
            if "podSelector" in peer
        ]
        assert any(_selects(peer["podSelector"], console) for peer in allowed), api
    # Nothing lets a worker be called (no ingress beyond metrics).
    for worker in WORKERS:
        rules = _policies(docs, pods[worker]["metadata"]["labels"], "Ingress")
        assert {port["port"] for rule in rules for port in rule["ports"]} <= {"http", "metrics"}, worker


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_metrics_port_is_scraped(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    docs = rendered[overlay]
    (service_monitor,) = _of(docs, "ServiceMonitor").values()
    (pod_monitor,) = _of(docs, "PodMonitor").values()
    assert service_monitor["apiVersion"] == pod_monitor["apiVersion"] == "monitoring.coreos.com/v1"
    # Every API and the console: their Service's `http` port, path /metrics.
    for name, service in _of(docs, "Service").items():
        assert _selects(service_monitor["spec"]["selector"], service["metadata"]["labels"]), name
        assert "http" in {port["name"] for port in service["spec"]["ports"]}, name
    assert service_monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    # Every worker (no Service): its container port `metrics` = UNCOPS_METRICS_PORT = 9100.
    assert pod_monitor["spec"]["podMetricsEndpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]
    deployments = _of(docs, "Deployment")
    for worker in WORKERS:
        template = deployments[worker]["spec"]["template"]
        assert _selects(pod_monitor["spec"]["selector"], template["metadata"]["labels"]), worker
        (container,) = template["spec"]["containers"]
        assert {"name": "metrics", "containerPort": 9100} in container["ports"], worker
        assert {"name": "UNCOPS_METRICS_PORT", "value": "9100"} in container["env"], worker
    # API pods keep /metrics on their HTTP port: no separate metrics port.
    for api in (*APIS, "console", "partners"):
        for container in deployments[api]["spec"]["template"]["spec"]["containers"]:
            assert [p["name"] for p in container["ports"]] == ["http"], api
            assert "UNCOPS_METRICS_PORT" not in {e["name"] for e in container.get("env", [])}, api


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_persistent_volume(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    """Nothing stores files on a disk of its own: attachments are in the object store."""
    docs = rendered[overlay]
    assert not [doc for doc in docs if doc["kind"] == "PersistentVolumeClaim"]
    for name, pod in _pods(docs).items():
        for volume in pod["spec"].get("volumes", []):
            assert set(volume) - {"name"} <= {"emptyDir", "secret"}, (name, volume)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_credentials_come_from_secrets(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    docs = rendered[overlay]
    shared = _of(docs, "Secret")["uncops-shared"]["stringData"]
    for key in ("UNCOPS_VICTIM_DATA_KEYS", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
        assert key in shared, key
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(shared)
    config = _of(docs, "ConfigMap")["uncops-config"]["data"]
    for key in ("UNCOPS_S3_BUCKET", "UNCOPS_S3_REGION", "KAFKA_SECURITY_PROTOCOL"):
        assert config[key], key
    secret_keys = {
        "UNCOPS_VICTIM_DATA_KEYS",
        "KAFKA_SASL_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
        "UNCOPS_TEMPORAL_API_KEY",
    }
    assert not secret_keys & set(config), "a credential in the ConfigMap"
    for name, pod in _pods(docs).items():
        tls = [v for v in pod["spec"]["volumes"] if v["name"] == "tls"]
        assert tls == [
            {"name": "tls", "secret": {"secretName": "uncops-tls", "optional": True, "defaultMode": 0o440}}
        ]
        for container in _containers(pod):
            where = f"{name}/{container['name']}"
            assert container["envFrom"] == [
                {"configMapRef": {"name": "uncops-config"}},
                {"secretRef": {"name": "uncops-shared"}},
            ], where
            env = {e["name"] for e in container.get("env", [])}
            assert "UNCOPS_VICTIM_DATA_KEY" not in env, where
            assert {"name": "tls", "mountPath": "/etc/uncops/tls", "readOnly": True} in container[
                "volumeMounts"
            ]


def _settings(config: dict[str, str], shared: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a pod of the overlay reads (its ConfigMap and Secret through envFrom). As a test
    environment: the Secret's values are placeholders, which production would refuse before anything else."""
    for key, value in {**config, **shared, "UNCOPS_ENV": "test"}.items():
        monkeypatch.setenv(key, value)
    return Settings()


def test_production_speaks_mutual_tls_to_kafka_and_temporal(
    rendered: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = rendered["production"]
    config = _of(docs, "ConfigMap")["uncops-config"]["data"]
    assert {doc["metadata"].get("namespace", "uncops") for doc in docs} == {"uncops"}
    for api in ("pledges", "cases", "summit", "console"):
        assert _of(docs, "Deployment")[api]["spec"]["replicas"] == 3, api
    settings = _settings(config, {}, monkeypatch)
    assert settings.kafka_security_protocol == "SASL_SSL"
    tls = Path("/etc/uncops/tls")
    assert (settings.kafka_ssl_cafile, settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile) == (
        tls / "kafka-ca.crt",
        tls / "kafka-client.crt",
        tls / "kafka-client.key",
    )
    assert (settings.temporal_tls_cert, settings.temporal_tls_key, settings.temporal_tls_ca) == (
        tls / "temporal-client.crt",
        tls / "temporal-client.key",
        tls / "temporal-ca.crt",
    )
    assert settings.temporal_api_key is None


def test_staging_reaches_temporal_cloud_with_an_api_key(
    rendered: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = rendered["staging"]
    assert {doc["metadata"].get("namespace") for doc in docs if doc["kind"] != "Namespace"} == {
        "uncops-staging"
    }
    assert set(_of(docs, "Namespace")) == {"uncops-staging"}
    for name, deployment in _of(docs, "Deployment").items():
        assert deployment["spec"]["replicas"] == 1, name
    config = _of(docs, "ConfigMap")["uncops-config"]["data"]
    shared = _of(docs, "Secret")["uncops-shared"]["stringData"]
    settings = _settings(config, {"UNCOPS_TEMPORAL_API_KEY": shared["UNCOPS_TEMPORAL_API_KEY"]}, monkeypatch)
    assert settings.temporal_address.endswith(".api.temporal.io:7233")
    assert settings.temporal_api_key is not None and settings.temporal_tls_cert is None
    assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_ssl_cafile is None
    images = {c["image"] for pod in _pods(docs).values() for c in _containers(pod)}
    (production,) = {c["image"] for pod in _pods(rendered["production"]).values() for c in _containers(pod)}
    assert len(images) == 1 and images != {production}
