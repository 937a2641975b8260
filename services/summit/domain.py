"""Summit planning rules in plain Python (milestones for now; delegations and agenda come next)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.common.errors import Conflict, InvalidField

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


class SummitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: SummitId = Field(examples=["UNCOPS-III"])
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
    venue: str = Field("United Nations Headquarters, New York", max_length=200)
    starts_on: date
    ends_on: date
    host_support: str | None = Field(None, max_length=500, examples=["People's Republic of China"])

    @model_validator(mode="after")
    def _dates(self) -> Self:
        if self.ends_on < self.starts_on:
            raise InvalidField("ends_on", f"{self.ends_on} is before starts_on {self.starts_on}")
        return self


class MilestoneCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
    due_at: AwareDatetime
    warn_before_days: float = Field(14, ge=0, le=365)


class MilestoneCompletion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)
