"""The summit and its plan of milestones in plain Python: dates, languages, the template, moving it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Protocol, Self
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from services.common.errors import Conflict, InvalidField
from uncops_contracts.policies import MilestoneTemplate

# UN Headquarters: milestone dates are read as the close of business there.
VENUE_TIME_ZONE = ZoneInfo("America/New_York")
CLOSE_OF_BUSINESS = time(17, 0)

# Dates a summit's records can carry: the plan works out milestones months around them and reminders days
# before them, so a date near the calendar's ends (year 1, 9999) would overflow that arithmetic; it is
# refused naming the field instead.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2999


def _plausible_date(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def _plausible_time(value: datetime) -> datetime:
    _plausible_date(value.date())
    return value


SummitDate = Annotated[date, AfterValidator(_plausible_date)]
SummitTime = Annotated[AwareDatetime, AfterValidator(_plausible_time)]
# The six official languages of the United Nations: the summit's working languages, and the agenda's
# interpretation, are chosen among them.
UN_LANGUAGES = ("ar", "zh", "en", "fr", "ru", "es")

SummitId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,40}$")]


class MilestoneStatus(StrEnum):
    PLANNED = "planned"
    DUE = "due"  # inside its warning window
    OVERDUE = "overdue"
    COMPLETED = "completed"


# What may happen to a milestone in each status: the 409 of a refused action lists these.
MILESTONE_ACTIONS: dict[MilestoneStatus, tuple[str, ...]] = {
    MilestoneStatus.PLANNED: ("complete",),
    MilestoneStatus.DUE: ("complete",),
    MilestoneStatus.OVERDUE: ("complete",),
    MilestoneStatus.COMPLETED: (),
}


def ensure_can_complete(status: MilestoneStatus) -> None:
    if "complete" not in MILESTONE_ACTIONS[status]:
        raise Conflict(
            f"a {status.value} milestone cannot be completed",
            state=status.value,
            allowed_actions=MILESTONE_ACTIONS[status],
        )


def warning_time(due_at: datetime, warn_before: timedelta, created_at: datetime) -> datetime:
    """When the 'milestone due' warning fires: ``warn_before`` ahead, never before the milestone exists."""
    return max(due_at - warn_before, created_at)


def _check_dates(starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise InvalidField("ends_on", f"{ends_on} is before starts_on {starts_on}")
    if (ends_on - starts_on).days > 14:
        raise InvalidField("ends_on", "a summit lasts at most 15 days")


def _check_languages(languages: Sequence[str]) -> None:
    for index, language in enumerate(languages):
        if language not in UN_LANGUAGES:
            raise InvalidField(
                f"languages[{index}]",
                f"{language!r} is not a UN official language ({', '.join(UN_LANGUAGES)})",
            )
    if len(set(languages)) != len(languages):
        raise InvalidField("languages", "a language is listed twice")


class SummitCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "UNCOPS-III",
                    "name": "Third UN Chiefs of Police Summit",
                    "starts_on": "2030-06-04",
                    "ends_on": "2030-06-05",
                    "languages": ["en", "fr"],
                    "capacity": 400,
                    "budget_currency": "USD",
                }
            ]
        },
    )

    id: SummitId = Field(examples=["UNCOPS-III"])
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
    venue: str = Field("United Nations Headquarters, New York", max_length=200)
    starts_on: SummitDate
    ends_on: SummitDate
    host_support: str | None = Field(None, max_length=500, examples=["People's Republic of China"])
    languages: list[str] = Field(default_factory=lambda: ["en", "fr"], max_length=6, examples=[["en", "fr"]])
    capacity: int | None = Field(None, ge=1, le=20000, description="Places for delegates (default: policy)")
    budget_currency: str = Field("USD", pattern=r"^[A-Z]{3}$")

    @model_validator(mode="after")
    def _valid(self) -> Self:
        _check_dates(self.starts_on, self.ends_on)
        _check_languages(self.languages)
        return self


class SummitReschedule(BaseModel):
    """New dates for the summit: every pending milestone moves with them."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"starts_on": "2030-06-11", "ends_on": "2030-06-12"}]}
    )

    starts_on: SummitDate
    ends_on: SummitDate

    @model_validator(mode="after")
    def _valid(self) -> Self:
        _check_dates(self.starts_on, self.ends_on)
        return self


@dataclass(frozen=True)
class PlannedMilestone:
    """A milestone of the plan with its dates worked out (the workflow receives these, never the template)."""

    key: str | None
    title: str
    owner: str | None
    due_at: datetime
    warn_before: timedelta


def template_due_at(item: MilestoneTemplate, starts_on: date, ends_on: date) -> datetime:
    """Close of business at UN Headquarters, ``offset_days`` from the summit's first or last day."""
    anchor = starts_on if item.anchor == "starts_on" else ends_on
    day = anchor + timedelta(days=item.offset_days)
    return datetime.combine(day, CLOSE_OF_BUSINESS, VENUE_TIME_ZONE).astimezone(UTC)


def plan_from_template(
    template: Iterable[MilestoneTemplate], starts_on: date, ends_on: date
) -> list[PlannedMilestone]:
    return sorted(
        (
            PlannedMilestone(
                key=item.key,
                title=item.title,
                owner=item.owner,
                due_at=template_due_at(item, starts_on, ends_on),
                warn_before=timedelta(days=item.warn_before_days),
            )
            for item in template
        ),
        key=lambda m: m.due_at,
    )


def moved_due_at(due_at: datetime, old_starts_on: date, new_starts_on: date) -> datetime:
    """A milestone a planner added keeps its distance to the summit's first day when the summit moves."""
    return due_at + (new_starts_on - old_starts_on)


class MilestoneDates(Protocol):
    """A stored milestone as a move of the summit sees it."""

    @property
    def id(self) -> str: ...
    @property
    def key(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def warn_at(self) -> datetime: ...


@dataclass(frozen=True)
class MilestoneMoved:
    milestone_id: str
    due_at: datetime
    warn_at: datetime


def replanned(
    milestones: Iterable[MilestoneDates],
    template: Iterable[MilestoneTemplate],
    old_starts_on: date,
    starts_on: date,
    ends_on: date,
    now: datetime,
) -> list[MilestoneMoved]:
    """The pending milestones' new dates when the summit moves: the template's own are worked out again from
    the new dates; one a planner added keeps its distance to the summit's first day and its warning."""
    templates = {item.key: item for item in template}
    moves = []
    for milestone in milestones:
        if milestone.status == MilestoneStatus.COMPLETED.value:
            continue
        item = templates.get(milestone.key) if milestone.key else None
        if item is not None:
            due_at = template_due_at(item, starts_on, ends_on)
            warn_before = timedelta(days=item.warn_before_days)
        else:
            due_at = moved_due_at(milestone.due_at, old_starts_on, starts_on)
            warn_before = milestone.due_at - milestone.warn_at
        moves.append(MilestoneMoved(milestone.id, due_at, warning_time(due_at, warn_before, now)))
    return moves


class MilestoneCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"title": "Send the save-the-date", "due_at": "2030-01-15T17:00:00Z", "warn_before_days": 14}
            ]
        },
    )

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
    due_at: SummitTime
    warn_before_days: float = Field(14, ge=0, le=365)


class MilestoneCompletion(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "Sent to every Permanent Mission"}]}
    )

    note: str | None = Field(None, max_length=2000)


class MilestoneReschedule(BaseModel):
    """A new due date for one milestone of the plan (the summit's own dates stay as they are)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"due_at": "2030-02-01T17:00:00Z", "warn_before_days": 14}]},
    )

    due_at: SummitTime
    warn_before_days: float | None = Field(
        None, ge=0, le=365, description="How long before it falls due to warn (default: as before)"
    )


def ensure_can_reschedule(status: MilestoneStatus) -> None:
    """A completed milestone is history: it keeps the date it was due."""
    if status is MilestoneStatus.COMPLETED:
        raise Conflict(
            "a completed milestone cannot be rescheduled",
            state=status.value,
            allowed_actions=MILESTONE_ACTIONS[status],
        )


def moved_warning(
    due_at: datetime, warn_at: datetime, new_due_at: datetime, warn_before_days: float | None, now: datetime
) -> datetime:
    """The warning of a milestone moved to ``new_due_at``: as far ahead as asked, else as far as before."""
    warn_before = timedelta(days=warn_before_days) if warn_before_days is not None else due_at - warn_at
    return warning_time(new_due_at, warn_before, now)
