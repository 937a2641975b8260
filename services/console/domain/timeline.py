"""A summit's plan as a Gantt-like timeline drawn on the server as SVG: one row per milestone, its warning
window as a bar ending at its due date, the summit's days as a band, today as a line. Pure layout: dates in,
coordinates out; the template only draws them (no script, no style attribute: the console's CSP)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

# What a person reads about a milestone: the summits API's statuses in the plan's words (planned: not yet
# warned, so simply due on its date; due: inside its warning window, so warned).
State = Literal["due", "warned", "overdue", "done"]
STATES: dict[str, State] = {"planned": "due", "due": "warned", "overdue": "overdue", "completed": "done"}

LABEL_WIDTH = 240
PLOT_WIDTH = 560
ROW_HEIGHT = 28
AXIS_HEIGHT = 24  # the month labels above the rows
MAX_TICKS = 8  # month labels far enough apart to read in French ("sept. 2027")


@dataclass(frozen=True)
class Milestone:
    milestone_id: str
    title: str
    status: str  # the summits API's: planned, due, overdue, completed
    due_at: datetime
    warn_at: datetime


@dataclass(frozen=True)
class Row:
    milestone_id: str
    title: str
    state: State
    y: int  # top of the row
    warn_x: int  # where the warning window starts
    due_x: int  # the due date


@dataclass(frozen=True)
class Tick:
    x: int
    month: date  # the first day of a month


@dataclass(frozen=True)
class Timeline:
    rows: tuple[Row, ...]
    ticks: tuple[Tick, ...]
    height: int
    today_x: int  # the scale always holds today
    summit: tuple[int, int] | None  # the summit's first day's start and last day's end
    label_width: int = LABEL_WIDTH
    plot_width: int = PLOT_WIDTH
    row_height: int = ROW_HEIGHT
    axis_height: int = AXIS_HEIGHT

    @property
    def width(self) -> int:
        return self.label_width + self.plot_width


def state_of(status: str) -> State:
    """The timeline's word for an API status; an unknown one is read as not yet warned."""
    return STATES.get(status, "due")


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


def timeline(
    milestones: Sequence[Milestone], now: datetime, summit_days: tuple[date, date] | None = None
) -> Timeline:
    """The layout of the milestones (by due date), on a scale of whole months that holds every warning,
    every due date, the summit's days and today."""
    ordered = sorted(milestones, key=lambda m: (m.due_at, m.title))
    moments = [m.warn_at for m in ordered] + [m.due_at for m in ordered] + [now]
    if summit_days is not None:
        moments += [_midnight(summit_days[0]), _midnight(summit_days[1] + timedelta(days=1))]
    first = _month_start(min(moments).astimezone(UTC).date())
    last = _next_month(max(moments).astimezone(UTC).date())
    start, end = _midnight(first), _midnight(last)
    span = (end - start).total_seconds()

    def x(moment: datetime) -> int:
        return LABEL_WIDTH + round(PLOT_WIDTH * (moment - start).total_seconds() / span)

    rows = tuple(
        Row(
            milestone_id=m.milestone_id,
            title=m.title,
            state=state_of(m.status),
            y=AXIS_HEIGHT + index * ROW_HEIGHT,
            warn_x=x(min(m.warn_at, m.due_at)),
            due_x=x(m.due_at),
        )
        for index, m in enumerate(ordered)
    )
    months = []
    month = first
    while month < last:
        months.append(month)
        month = _next_month(month)
    step = -(-len(months) // MAX_TICKS)  # every month, or every n-th so that at most MAX_TICKS are labelled
    ticks = tuple(Tick(x(_midnight(m)), m) for m in months[::step])
    summit = (
        (x(_midnight(summit_days[0])), x(_midnight(summit_days[1] + timedelta(days=1))))
        if summit_days is not None
        else None
    )
    return Timeline(
        rows=rows,
        ticks=ticks,
        height=AXIS_HEIGHT + len(rows) * ROW_HEIGHT,
        today_x=x(now),
        summit=summit,
    )
