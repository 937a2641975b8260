"""`make run` keeps serving when one of its processes crashes (issue 20): each kind of process is killed with
-9 in turn, the stack says so, starts it again, and the rest answers meanwhile."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from deploy.stack import REPO, LocalStack, Ports
from tests.conftest import PORTS, TEST_RUN_DIR

# Beside the suite's own stack: the same ports shifted, so both run at once.
RUN_PORTS = Ports(*(port + 50 for port in dataclasses.astuple(PORTS)))
# One of each kind: the three servers, the mail catcher, the object store, an API (with its in-process relay
# and consumers), a workflow worker and the console.
KINDS = ("postgres", "kafka", "temporal", "mailcatcher", "s3", "cases", "cases-worker", "console")


@dataclasses.dataclass
class Running:
    stack: LocalStack  # not started here: its ports, run folder and probes
    popen: subprocess.Popen[bytes]
    output: Path

    def said(self) -> str:
        return self.output.read_text(errors="replace")

    def pids(self) -> dict[str, int]:
        pids: dict[str, int] = json.loads((self.stack.run_dir / "processes.json").read_text())
        return pids

    def wait(self, what: str, condition: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen.poll() is None, f"make run stopped:\n{self.said()[-3000:]}"
            if condition():
                return
            time.sleep(0.5)
        raise AssertionError(f"not {what} after {timeout:.0f}s; make run said:\n{self.said()[-3000:]}")


@pytest.fixture(scope="module")
def make_run() -> Iterator[Running]:
    # Beside the suite's run folder (PostgreSQL runs as its own user: pytest's temporary folders are root's).
    run_dir = TEST_RUN_DIR.with_name(f"{TEST_RUN_DIR.name}-make-run")
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    output = run_dir / "make-run.out"
    env = {**os.environ, "UNCOPS_RUN_DIR": str(run_dir)}
    env.update({Ports.ENV[name]: str(port) for name, port in dataclasses.asdict(RUN_PORTS).items()})
    with output.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "deploy.stack", "run", "--no-demo"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(LocalStack(run_dir, RUN_PORTS, echo=lambda _: None), popen, output)
    try:
        running.wait("up", lambda: "UNCOPS Platform is up" in running.said(), 300)
        yield running
    finally:
        popen.send_signal(signal.SIGINT)
        try:
            popen.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            raise
        assert "stopped: no process left running" in running.said()
        assert _log_lines_not_json(running.said()) == []


def _log_lines_not_json(said: str) -> list[str]:
    """The lines `make run` printed that are not a JSON object, its banner (text for the person) aside."""
    wrong: list[str] = []
    in_banner = False
    for line in said.splitlines():
        if line.startswith("UNCOPS Platform is up"):
            in_banner = True
        elif not line.strip():
            in_banner = False
        elif not in_banner:
            try:
                parsed = json.loads(line)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict) or "event" not in parsed:
                wrong.append(line)
    return wrong


@pytest.mark.parametrize("name", KINDS)
def test_a_process_killed_with_minus_9_comes_back_and_the_rest_keeps_serving(
    make_run: Running, name: str
) -> None:
    before = make_run.pids()[name]
    os.kill(before, signal.SIGKILL)
    make_run.wait(f"{name} restarted", lambda: f"{name} started again" in make_run.said(), 60)
    assert f"{name} exited (signal 9)" in make_run.said()
    assert make_run.pids()[name] != before
    if name not in ("postgres", "pledges"):
        # Another API answers meanwhile: the stack did not stop for one process.
        assert httpx.get(f"http://127.0.0.1:{RUN_PORTS.pledges}/healthz", timeout=5).status_code == 200
    after = make_run.pids()[name]
    make_run.wait(f"{name} ready again", lambda: make_run.stack.is_ready(name, after), 120)
    # Everything serves again, not only the process that came back.
    for api in ("pledges", "cases", "summit", "partners", "console"):
        make_run.wait(f"{api} ready", functools.partial(make_run.stack.is_ready, api), 120)
