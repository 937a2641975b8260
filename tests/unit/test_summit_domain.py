"""Summit planning rules (services/summit/domain/): milestone actions, warning time, input models, money."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.common.errors import Conflict, InvalidField
from services.summit.domain.budget import FundingPledge, FundingReceiptLine, funding_position, gap_alert_due
from services.summit.domain.plan import (
    MILESTONE_ACTIONS,
    MilestoneCreate,
    MilestoneStatus,
    SummitCreate,
    SummitReschedule,
    ensure_can_complete,
    moved_due_at,
    plan_from_template,
    template_due_at,
    warning_time,
)
from uncops_contracts.policies import MilestoneTemplate, SummitPolicy


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
    accepted = MilestoneCreate(title="Venue booked", due_at="2026-03-01T12:00:00+01:00")
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


# --- The plan from the template ----------------------------------------------------------------------


def test_the_template_plans_every_milestone_at_close_of_business_in_new_york() -> None:
    plan = plan_from_template(SummitPolicy().milestones, date(2020, 6, 15), date(2020, 6, 16))
    assert [m.key for m in plan] == [
        "invitations_sent",
        "registration_opens",
        "registration_closes",
        "programme_final",
        "summit_opens",
        "chairs_note_published",
        "pledge_follow_up_report",
    ]
    by_key = {m.key: m for m in plan}
    # 17:00 in New York in June is 21:00 UTC (daylight saving time).
    assert by_key["summit_opens"].due_at == datetime(2020, 6, 15, 21, 0, tzinfo=UTC)
    assert by_key["registration_closes"].due_at == datetime(2020, 5, 16, 21, 0, tzinfo=UTC)
    # Anchored on the last day: two weeks after it.
    assert by_key["chairs_note_published"].due_at == datetime(2020, 6, 30, 21, 0, tzinfo=UTC)
    assert by_key["registration_closes"].warn_before == timedelta(days=10)


def test_a_milestone_in_winter_is_due_at_2200_utc() -> None:
    item = MilestoneTemplate(key="winter", title="Winter", offset_days=-200, owner="o")
    assert template_due_at(item, date(2020, 6, 15), date(2020, 6, 16)) == datetime(
        2019, 11, 28, 22, 0, tzinfo=UTC
    )


def test_an_added_milestone_keeps_its_distance_to_the_summit_when_it_moves() -> None:
    due = datetime(2020, 5, 1, 12, 0, tzinfo=UTC)
    assert moved_due_at(due, date(2020, 6, 15), date(2020, 9, 1)) == due + timedelta(days=78)


def test_summit_languages_are_un_official_languages_once_each() -> None:
    base = {"id": "UNCOPS-III", "name": "Third summit", "starts_on": "2020-06-15", "ends_on": "2020-06-16"}
    assert SummitCreate.model_validate(base).languages == ["en", "fr"]
    with pytest.raises(InvalidField) as unknown:
        SummitCreate.model_validate({**base, "languages": ["en", "de"]})
    assert unknown.value.field == "languages[1]"
    with pytest.raises(InvalidField) as twice:
        SummitCreate.model_validate({**base, "languages": ["en", "en"]})
    assert twice.value.field == "languages"
    with pytest.raises(InvalidField) as long:
        SummitCreate.model_validate({**base, "ends_on": "2020-07-15"})
    assert long.value.field == "ends_on"
    with pytest.raises(InvalidField) as backwards:
        SummitReschedule.model_validate({"starts_on": "2022-08-31", "ends_on": "2022-08-30"})
    assert backwards.value.field == "ends_on"


# --- Money --------------------------------------------------------------------------------------------


def _pledge(pid: str, amount: str, currency: str = "USD", status: str = "accepted") -> FundingPledge:
    return FundingPledge(pid, "CHN", status, Decimal(amount), currency)


def test_a_pledge_counts_once_whether_promised_or_received() -> None:
    position = funding_position(
        "USD",
        {},
        [Decimal("600000"), Decimal("400000")],
        [Decimal("1000")],
        [_pledge("p1", "500000")],
        [FundingReceiptLine("p1", "CHN", Decimal("200000"), "USD")],
    )
    assert position.budget == Decimal("1000000")
    assert position.pledged == Decimal("500000")
    assert position.received == Decimal("200000")
    assert position.funded == Decimal("500000")
    assert position.gap == Decimal("500000") and position.gap_ratio == 0.5
    assert position.spent == Decimal("1000")
    assert position.per_pledge[0]["outstanding"] == Decimal("300000")


def test_more_received_than_pledged_and_money_without_a_pledge_fund_the_summit() -> None:
    position = funding_position(
        "USD",
        {},
        [Decimal("100")],
        [],
        [_pledge("p1", "30")],
        [
            FundingReceiptLine("p1", "CHN", Decimal("40"), "USD"),
            FundingReceiptLine(None, "ARE", Decimal("70"), "USD"),
        ],
    )
    assert position.funded == Decimal("110") and position.gap == Decimal(0)


def test_only_accepted_pledges_count_and_other_currencies_need_a_rate() -> None:
    position = funding_position(
        "USD",
        {"EUR": Decimal("1.10")},
        [Decimal("1000")],
        [],
        [
            _pledge("submitted", "500", status="submitted"),
            _pledge("rejected", "500", status="rejected"),
            _pledge("eur", "100", "EUR"),
            _pledge("cny", "700", "CNY"),
        ],
        [FundingReceiptLine(None, "CHN", Decimal("50"), "CNY")],
    )
    assert position.pledged == Decimal("110.00")
    assert position.unconverted == {"CNY": Decimal("750")}
    assert position.gap == Decimal("890.00")


def test_the_gap_alert_fires_above_the_threshold_only_when_there_is_a_budget() -> None:
    empty = funding_position("USD", {}, [], [], [], [])
    assert not gap_alert_due(empty, 0.1)
    half = funding_position("USD", {}, [Decimal(100)], [], [_pledge("p", "50")], [])
    assert gap_alert_due(half, 0.1) and not gap_alert_due(half, 0.5)
