"""Summit planning rules (services/summit/domain.py): milestone actions, warning time, input models."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.common.errors import Conflict, InvalidField
from services.summit.domain import (
    MILESTONE_ACTIONS,
    MilestoneCreate,
    MilestoneStatus,
    SummitCreate,
    ensure_can_complete,
    warning_time,
)


def test_every_status_has_its_actions() -> None:
    assert set(MILESTONE_ACTIONS) == set(MilestoneStatus)
    assert MILESTONE_ACTIONS[MilestoneStatus.COMPLETED] == ()
    for status in (MilestoneStatus.PLANNED, MilestoneStatus.DUE, MilestoneStatus.OVERDUE):
        assert MILESTONE_ACTIONS[status] == ("complete",)


@pytest.mark.parametrize("status", [MilestoneStatus.PLANNED, MilestoneStatus.DUE, MilestoneStatus.OVERDUE])
def test_an_open_milestone_can_be_completed(status: MilestoneStatus) -> None:
    ensure_can_complete(status)


def test_a_completed_milestone_cannot_be_completed_again() -> None:
    with pytest.raises(Conflict) as caught:
        ensure_can_complete(MilestoneStatus.COMPLETED)

    assert caught.value.status_code == 409
    assert caught.value.state == "completed"
    assert caught.value.allowed_actions == []
    assert caught.value.body() == {
        "detail": "a completed milestone cannot be completed",
        "state": "completed",
        "allowed_actions": [],
    }


def test_warning_time_is_due_minus_warn_before() -> None:
    created = datetime(2025, 1, 1, tzinfo=UTC)
    due = datetime(2025, 6, 1, 12, tzinfo=UTC)

    assert warning_time(due, timedelta(days=14), created) == datetime(2025, 5, 18, 12, tzinfo=UTC)
    assert warning_time(due, timedelta(0), created) == due


def test_warning_time_is_never_before_creation() -> None:
    created = datetime(2025, 5, 25, tzinfo=UTC)
    due = datetime(2025, 6, 1, tzinfo=UTC)

    assert warning_time(due, timedelta(days=14), created) == created
    # a milestone created after its due date warns at once
    late = datetime(2025, 7, 1, tzinfo=UTC)
    assert warning_time(due, timedelta(0), late) == late


def test_summit_dates() -> None:
    summit = SummitCreate(
        id="UNCOPS-III", name="Third summit", starts_on=date(2026, 6, 1), ends_on=date(2026, 6, 1)
    )
    assert summit.ends_on == summit.starts_on

    with pytest.raises(InvalidField) as caught:
        SummitCreate(
            id="UNCOPS-III", name="Third summit", starts_on=date(2026, 6, 2), ends_on=date(2026, 6, 1)
        )
    assert caught.value.field == "ends_on"


def test_summit_refuses_unknown_fields_and_bad_ids() -> None:
    with pytest.raises(ValidationError):
        SummitCreate.model_validate(
            {"id": "UNCOPS-III", "name": "Third", "starts_on": "2026-06-01", "ends_on": "2026-06-02", "x": 1}
        )
    with pytest.raises(ValidationError):
        SummitCreate.model_validate(
            {"id": "-bad id", "name": "Third", "starts_on": "2026-06-01", "ends_on": "2026-06-02"}
        )


def test_milestone_needs_an_aware_due_date() -> None:
    accepted = MilestoneCreate(title="Venue booked", due_at="2026-03-01T12:00:00+01:00")  # type: ignore[arg-type]
    assert accepted.due_at.utcoffset() == timedelta(hours=1)
    assert accepted.warn_before_days == 14

    with pytest.raises(ValidationError) as caught:
        MilestoneCreate(title="Venue booked", due_at=datetime(2026, 3, 1, 12))
    assert caught.value.errors()[0]["loc"] == ("due_at",)


@pytest.mark.parametrize("days", [-1, 365.5, 1000])
def test_warn_before_days_out_of_range(days: float) -> None:
    with pytest.raises(ValidationError) as caught:
        MilestoneCreate(title="Venue booked", due_at=datetime(2026, 3, 1, tzinfo=UTC), warn_before_days=days)
    assert caught.value.errors()[0]["loc"] == ("warn_before_days",)


@pytest.mark.parametrize("days", [0, 0.5, 365])
def test_warn_before_days_in_range(days: float) -> None:
    milestone = MilestoneCreate(
        title="Venue booked", due_at=datetime(2026, 3, 1, tzinfo=UTC), warn_before_days=days
    )
    assert milestone.warn_before_days == days
