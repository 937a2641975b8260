"""Case deadlines in plain Python: working-day arithmetic, warning points, pauses and extensions.

Pure functions of their inputs (no clock, no settings): the workflow calls them with ``workflow.now()`` and
the policy it was given, so they are deterministic under replay.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from uncops_contracts.cases import (
    SEA_TYPES,
    AllegationType,
    DeadlineKind,
    MisconductCategory,
)
from uncops_contracts.policies import CasePolicy


def add_working_days(start: datetime, days: int, policy: CasePolicy) -> datetime:
    """``start`` moved forward by ``days`` working days (weekends and holidays skipped), same time of day."""
    holidays: set[date] = set(policy.holidays)
    moment = start
    remaining = days
    while remaining > 0:
        moment += timedelta(days=1)
        if moment.weekday() not in policy.weekend_days and moment.date() not in holidays:
            remaining -= 1
    return moment


def investigation_days(
    allegation: AllegationType, category: MisconductCategory, urgent: bool, policy: CasePolicy
) -> int:
    if allegation in SEA_TYPES:
        days = policy.sea_investigation_days
    elif category is MisconductCategory.CATEGORY_2:
        days = policy.category_2_investigation_days
    else:
        days = policy.category_1_investigation_days
    return min(days, policy.urgent_investigation_days) if urgent else days


class Deadline(BaseModel):
    """One running clock of a case. ``remaining`` is set while paused: the time left when it stopped."""

    model_config = ConfigDict(extra="forbid")

    kind: DeadlineKind
    owner: str
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    warned: bool = False
    missed: bool = False
    paused_at: datetime | None = None
    remaining: timedelta | None = None
    extensions: list[str] = []
    # A recurring follow-up that was missed stays overdue through its next reminder periods.
    overdue_since: datetime | None = None
    reminders: int = 0

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def overdue(self, now: datetime) -> bool:
        return self.overdue_since is not None or (not self.paused and now >= self.due_at)


def open_deadline(
    kind: DeadlineKind, owner: str, now: datetime, due_at: datetime, policy: CasePolicy
) -> Deadline:
    return Deadline(
        kind=kind, owner=owner, started_at=now, due_at=due_at, warn_at=warning_point(now, due_at, policy)
    )


def warning_point(start: datetime, due_at: datetime, policy: CasePolicy) -> datetime:
    return start + (due_at - start) * policy.warn_at_fraction


def extend(deadline: Deadline, days: int, reason: str, now: datetime, policy: CasePolicy) -> Deadline:
    """Later due date; it warns again before the new date and is no longer missed if that is in the future."""
    due_at = deadline.due_at + timedelta(days=days)
    remaining = deadline.remaining + timedelta(days=days) if deadline.remaining is not None else None
    return deadline.model_copy(
        update={
            "due_at": due_at,
            "remaining": remaining,
            "warn_at": max(now, warning_point(deadline.started_at, due_at, policy)),
            "warned": False if due_at > now else deadline.warned,
            "missed": deadline.missed and due_at <= now,
            "extensions": [*deadline.extensions, f"+{days}d: {reason}"],
        }
    )


def pause(deadline: Deadline, now: datetime) -> Deadline:
    return deadline.model_copy(
        update={"paused_at": now, "remaining": max(deadline.due_at - now, timedelta(0))}
    )


def resume(deadline: Deadline, now: datetime, policy: CasePolicy) -> Deadline:
    assert deadline.remaining is not None
    due_at = now + deadline.remaining
    # The warning keeps its share of the (shifted) clock.
    shift = now - (deadline.paused_at or now)
    return deadline.model_copy(
        update={
            "paused_at": None,
            "remaining": None,
            "due_at": due_at,
            "warn_at": deadline.warn_at + shift,
            "started_at": deadline.started_at + shift,
        }
    )


def next_alarm(deadlines: list[Deadline]) -> tuple[datetime, Deadline, str] | None:
    """The earliest pending moment among running clocks: (when, deadline, "warn" | "miss")."""
    alarms: list[tuple[datetime, Deadline, str]] = []
    for deadline in deadlines:
        if deadline.paused or deadline.missed:
            continue
        if not deadline.warned:
            alarms.append((deadline.warn_at, deadline, "warn"))
        alarms.append((deadline.due_at, deadline, "miss"))
    return min(alarms, key=lambda alarm: (alarm[0], alarm[2] == "miss")) if alarms else None
