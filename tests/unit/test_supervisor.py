"""The restart rules of `make run`'s supervisor (deploy/supervisor.py), without processes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from deploy.supervisor import CrashLoop, RestartPolicy, Restarts, Supervised, Supervisor

POLICY = RestartPolicy(first_backoff=1.0, max_backoff=8.0, healthy_after=60.0, crash_loop=5)


def test_backoff_doubles_with_each_quick_crash_up_to_the_cap() -> None:
    record = Restarts()
    assert [record.after_exit(POLICY, ran_for=2.0) for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert record.total == 4


def test_the_cap_holds_when_the_loop_limit_is_higher() -> None:
    record = Restarts()
    policy = RestartPolicy(first_backoff=1.0, max_backoff=8.0, crash_loop=10)
    assert [record.after_exit(policy, ran_for=0.5) for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_long_healthy_run_resets_the_backoff() -> None:
    record = Restarts()
    for _ in range(3):
        record.after_exit(POLICY, ran_for=1.0)
    assert record.after_exit(POLICY, ran_for=600.0) == 1.0
    assert record.quick_crashes == 1
    assert record.total == 4


def test_the_fifth_quick_crash_in_a_row_is_a_crash_loop() -> None:
    record = Restarts()
    assert all(record.after_exit(POLICY, ran_for=1.0) is not None for _ in range(4))
    assert record.after_exit(POLICY, ran_for=1.0) is None


@dataclass
class FakeProcess:
    name: str
    started_at: float
    code: int | None = None

    @property
    def alive(self) -> bool:
        return self.code is None

    @property
    def exit_code(self) -> int | None:
        return self.code

    def tail(self, lines: int = 30) -> str:
        return "Traceback: boom"


@dataclass
class FakeStack:
    now: float = 100.0
    processes: dict[str, Supervised] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)

    def respawn(self, name: str) -> None:
        self.started.append(name)
        self.processes[name] = FakeProcess(name, self.now)

    def supervisor(self) -> Supervisor:
        return Supervisor(
            lambda: self.processes, self.respawn, self.said.append, POLICY, clock=lambda: self.now
        )


def test_a_crashed_process_is_started_again_after_its_backoff_and_the_others_are_left_alone() -> None:
    stack = FakeStack()
    stack.processes = {"cases-worker": FakeProcess("cases-worker", 0.0), "cases": FakeProcess("cases", 0.0)}
    supervisor = stack.supervisor()
    supervisor.tick()
    assert stack.started == []

    stack.processes["cases-worker"] = FakeProcess("cases-worker", 0.0, code=-9)
    supervisor.tick()
    assert stack.said == ["cases-worker exited (signal 9) after 100s; starting it again in 1s (restart 1)"]
    assert stack.started == []  # not before its back-off
    stack.now += 0.5
    supervisor.tick()
    assert stack.started == []
    stack.now += 0.6
    supervisor.tick()
    assert stack.started == ["cases-worker"]
    assert stack.said[-1] == "cases-worker started again"
    assert stack.processes["cases"].alive


def test_a_crash_loop_stops_the_supervisor_with_the_log() -> None:
    stack = FakeStack()
    stack.processes = {"summit": FakeProcess("summit", stack.now)}
    supervisor = stack.supervisor()
    with pytest.raises(CrashLoop, match=r"(?s)summit exited 5 times in a row .*exit code 3.*Traceback: boom"):
        for _ in range(20):
            stack.now += 2.0
            process = stack.processes["summit"]
            assert isinstance(process, FakeProcess)
            if process.alive:
                process.code = 3
            supervisor.tick()
    assert stack.started == ["summit"] * 4
