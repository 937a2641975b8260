"""When a failed webhook delivery is tried again: the settings' schedule (seconds after each failed
attempt, 3 days in all by default), each wait stretched by up to 20 % of random jitter so that the retries of
many deliveries that failed together (an endpoint back from an outage) do not arrive together."""

from __future__ import annotations

import random
from collections.abc import Sequence

JITTER = 0.2


def next_wait(
    schedule: Sequence[float], failed_attempts: int, rng: random.Random | None = None
) -> float | None:
    """Seconds until the next attempt after ``failed_attempts`` failures; None when the schedule is spent."""
    if failed_attempts < 1 or failed_attempts > len(schedule):
        return None
    base = schedule[failed_attempts - 1]
    return base * (1 + JITTER * (rng or random).random())
