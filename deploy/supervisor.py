"""`make run` keeps its processes up as Kubernetes would: a process that exits on its own is started again
after a back-off that doubles with each quick crash, the others serve meanwhile, and the stack gives up only
on a crash loop (issue 20).

``RestartPolicy`` and ``Restarts`` are the rules, in plain Python (tests/unit/test_supervisor.py);
``Supervisor`` applies them to a ``LocalStack``'s processes once a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class RestartPolicy:
    # Kubernetes starts at 10 s and caps at 5 min; a developer's stack should come back sooner.
    first_backoff: float = 1.0
    max_backoff: float = 30.0
    # A process that ran this long before exiting was healthy: its next restart is quick again.
    healthy_after: float = 60.0
    # This many quick crashes in a row is a crash loop: restarting would only hide the error.
    crash_loop: int = 5


@dataclass
class Restarts:
    """One process's record: its quick crashes in a row, how many restarts in all."""

    quick_crashes: int = 0
    total: int = 0

    def after_exit(self, policy: RestartPolicy, ran_for: float) -> float | None:
        """The back-off before the next start, or None for a crash loop (give up)."""
        if ran_for >= policy.healthy_after:
            self.quick_crashes = 0
        self.quick_crashes += 1
        if self.quick_crashes >= policy.crash_loop:
            return None
        self.total += 1
        return min(policy.first_backoff * 2.0 ** (self.quick_crashes - 1), policy.max_backoff)


class CrashLoop(Exception):
    """A process kept exiting soon after each start."""


class Supervised(Protocol):
    """What the supervisor needs of a process (deploy/stack.py ``Process``)."""

    name: str
    started_at: float

    @property
    def alive(self) -> bool: ...

    @property
    def exit_code(self) -> int | None: ...

    def tail(self, lines: int = 30) -> str: ...


@dataclass
class Supervisor:
    processes: Callable[[], dict[str, Supervised]]
    respawn: Callable[[str], object]
    echo: Callable[[str], None] = print
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    clock: Callable[[], float] = time.monotonic
    restarts: dict[str, Restarts] = field(default_factory=dict)
    due: dict[str, float] = field(default_factory=dict)  # name -> when to start it again

    def tick(self) -> None:
        """Notice the processes that exited, start again those whose back-off is over."""
        now = self.clock()
        for name, process in self.processes().items():
            if name in self.due or process.alive:
                continue
            ran_for = now - process.started_at
            record = self.restarts.setdefault(name, Restarts())
            backoff = record.after_exit(self.policy, ran_for)
            if backoff is None:
                last = _describe(process.exit_code)
                raise CrashLoop(
                    f"{name} exited {record.quick_crashes} times in a row within "
                    f"{self.policy.healthy_after:.0f}s of starting (last: {last}); giving up. "
                    f"Its log ends:\n{process.tail()}"
                )
            self.due[name] = now + backoff
            self.echo(
                f"{name} exited ({_describe(process.exit_code)}) after {ran_for:.0f}s; "
                f"starting it again in {backoff:g}s (restart {record.total})"
            )
        for name, when in list(self.due.items()):
            if now >= when:
                del self.due[name]
                self.respawn(name)
                self.echo(f"{name} started again")


def _describe(code: int | None) -> str:
    if code is None:
        return "still running"
    return f"signal {-code}" if code < 0 else f"exit code {code}"
