"""The local stack's guards (deploy/stack.py): ports from the environment, busy ports, the run-folder lock.

Constructing a LocalStack only creates folders; nothing here starts a server.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.stack import LocalStack, Ports, StackError
from services.common.settings import Settings


def test_default_ports() -> None:
    ports = Ports.from_env({})

    assert (ports.postgres, ports.kafka, ports.temporal, ports.temporal_ui) == (5432, 9092, 7233, 8233)
    assert (ports.pledges, ports.cases, ports.summit) == (8001, 8002, 8003)
    assert ports.service("summit") == 8003


def test_ports_from_the_environment() -> None:
    ports = Ports.from_env(
        {"POSTGRES_PORT": "15432", "KAFKA_PORT": "19092", "PLEDGES_PORT": "18001", "UNRELATED": "x"}
    )

    assert ports.postgres == 15432
    assert ports.kafka == 19092
    assert ports.pledges == 18001
    assert ports.temporal == 7233


def test_every_port_has_its_variable() -> None:
    for name, variable in Ports.ENV.items():
        assert getattr(Ports.from_env({variable: "40000"}), name) == 40000


def test_a_non_numeric_port_names_the_variable() -> None:
    with pytest.raises(StackError, match="TEMPORAL_PORT") as caught:
        Ports.from_env({"TEMPORAL_PORT": "seven"})

    assert "'seven'" in str(caught.value)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_check_ports_names_a_busy_port(tmp_path: Path, busy_port: int) -> None:
    stack = LocalStack(tmp_path, Ports(postgres=busy_port), echo=lambda _: None)

    with pytest.raises(StackError) as caught:
        stack.check_ports(["postgres"])

    message = str(caught.value)
    assert str(busy_port) in message
    assert "postgres" in message
    assert "POSTGRES_PORT" in message


def test_check_ports_passes_for_free_ports(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    LocalStack(tmp_path, Ports(kafka=free)).check_ports(["kafka"])


def test_constructing_a_stack_only_creates_its_folders(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "run", Ports())

    assert stack.logs.is_dir()
    assert stack.processes == {}
    assert not (stack.run_dir / "stack.pid").exists()


@pytest.fixture
def other_process() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "30"])
    try:
        yield process
    finally:
        process.kill()
        process.wait(10)


def test_a_live_lock_of_another_process_is_refused(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    (tmp_path / "stack.pid").write_text(str(other_process.pid))
    stack = LocalStack(tmp_path, Ports())

    with pytest.raises(StackError, match="already running") as caught:
        stack.acquire()

    assert str(other_process.pid) in str(caught.value)
    assert (tmp_path / "stack.pid").read_text() == str(other_process.pid)


def test_a_stale_lock_is_taken_over_and_release_removes_it(tmp_path: Path) -> None:
    exited = subprocess.Popen(["true"])
    exited.wait(10)  # reaped: its pid names no process any more
    lock = tmp_path / "stack.pid"
    lock.write_text(str(exited.pid))
    stack = LocalStack(tmp_path, Ports())

    stack.acquire()
    assert lock.read_text() == str(os.getpid())

    stack.release()
    assert not lock.exists()


def test_a_second_stack_on_the_same_folder_in_this_process_may_reacquire(tmp_path: Path) -> None:
    first = LocalStack(tmp_path, Ports())
    first.acquire()
    LocalStack(tmp_path, Ports()).acquire()  # same pid: not "another" stack

    first.release()
    assert not (tmp_path / "stack.pid").exists()


def test_a_garbage_lock_is_taken_over(tmp_path: Path) -> None:
    (tmp_path / "stack.pid").write_text("not a pid")
    stack = LocalStack(tmp_path, Ports())

    stack.acquire()

    assert (tmp_path / "stack.pid").read_text() == str(os.getpid())
    stack.release()


def test_release_leaves_another_process_lock_alone(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    lock = tmp_path / "stack.pid"
    lock.write_text(str(other_process.pid))

    LocalStack(tmp_path, Ports()).release()

    assert lock.read_text() == str(other_process.pid)


def test_published_schema_urls_lead_to_the_partner_gateway(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "run", Ports(partners=18004))

    assert stack.env()["UNCOPS_SCHEMA_BASE_URL"] == "http://127.0.0.1:18004/contracts/schemas"


def test_every_process_reaches_the_local_object_store(tmp_path: Path) -> None:
    # Issue 20: attachments in the stack's S3-compatible server, on its port, with its bucket and credentials.
    env = LocalStack(tmp_path / "run", Ports(s3=19000)).env()

    assert env["UNCOPS_S3_ENDPOINT_URL"] == "http://127.0.0.1:19000"
    assert env["UNCOPS_S3_BUCKET"] == "uncops-attachments"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    settings = Settings.model_validate({k: v for k, v in env.items() if k.startswith("UNCOPS_S3_")})
    assert (settings.s3_endpoint_url, settings.s3_bucket) == ("http://127.0.0.1:19000", "uncops-attachments")
