"""Summit planning rules in plain Python: the plan of milestones, moving it, and the money.

Delegations and the agenda have their own modules (delegations.py, agenda.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.common.errors import Conflict, InvalidField
from uncops_contracts.policies import MilestoneTemplate

# UN Headquarters: milestone dates are read as the close of business there.
VENUE_TIME_ZONE = ZoneInfo("America/New_York")
CLOSE_OF_BUSINESS = time(17, 0)
# The six official languages of the United Nations: the summit's working languages are chosen among them.
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
    model_config = ConfigDict(extra="forbid")

    id: SummitId = Field(examples=["UNCOPS-III"])
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
    venue: str = Field("United Nations Headquarters, New York", max_length=200)
    starts_on: date
    ends_on: date
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

    model_config = ConfigDict(extra="forbid")

    starts_on: date
    ends_on: date

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


class MilestoneCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
    due_at: AwareDatetime
    warn_before_days: float = Field(14, ge=0, le=365)


class MilestoneCompletion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)


class BudgetLineCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{1,40}$")] = Field(
        examples=["interpretation"],
        description="venue, interpretation, travel_support, security, communications, other...",
    )
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
    planned: Decimal = Field(ge=0, max_digits=18, decimal_places=2)


class ExpenditureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget_line_id: str
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
    spent_on: date
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


class ExchangeRates(BaseModel):
    """Units of the budget currency per unit of each other currency (the UN operational rates)."""

    model_config = ConfigDict(extra="forbid")

    rates: dict[Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")], Decimal]

    @model_validator(mode="after")
    def _positive(self) -> Self:
        for currency, rate in self.rates.items():
            if rate <= 0:
                raise InvalidField(f"rates.{currency}", "a rate must be positive")
        return self


# A pledge counts as money pledged from acceptance on, and stops counting if it lapses or is withdrawn.
COUNTED_PLEDGE_STATUSES = frozenset({"accepted", "in_progress", "fulfilled"})
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class FundingPledge:
    pledge_id: str
    member_state: str
    status: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class FundingReceiptLine:
    pledge_id: str | None
    member_state: str
    amount: Decimal
    currency: str


@dataclass
class FundingPosition:
    """The summit's money in its budget currency: what it will cost, what is pledged, received and spent."""

    currency: str
    budget: Decimal = Decimal(0)
    pledged: Decimal = Decimal(0)
    received: Decimal = Decimal(0)
    spent: Decimal = Decimal(0)
    # Pledged or received, without counting a pledge's money twice once it arrives.
    funded: Decimal = Decimal(0)
    # Money counted in no total because no rate to the budget currency was entered, by currency.
    unconverted: dict[str, Decimal] = field(default_factory=dict)
    per_pledge: list[dict[str, object]] = field(default_factory=list)

    @property
    def gap(self) -> Decimal:
        return max(self.budget - self.funded, Decimal(0))

    @property
    def gap_ratio(self) -> float:
        return float(self.gap / self.budget) if self.budget > 0 else 0.0


def _convert(amount: Decimal, currency: str, target: str, rates: dict[str, Decimal]) -> Decimal | None:
    if currency == target:
        return amount
    rate = rates.get(currency)
    if rate is None:
        return None
    try:
        return (amount * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        return None


def funding_position(
    currency: str,
    rates: dict[str, Decimal],
    budget: Iterable[Decimal],
    spent: Iterable[Decimal],
    pledges: Iterable[FundingPledge],
    receipts: Iterable[FundingReceiptLine],
) -> FundingPosition:
    """Funded = for each counted pledge, the larger of what it pledged and what arrived against it; plus
    money that arrived without a pledge. The gap is the budget less what is funded, never below zero."""
    position = FundingPosition(
        currency=currency, budget=sum(budget, Decimal(0)), spent=sum(spent, Decimal(0))
    )
    unconverted: dict[str, Decimal] = defaultdict(Decimal)
    received_by_pledge: dict[str, Decimal] = defaultdict(Decimal)
    for receipt in receipts:
        value = _convert(receipt.amount, receipt.currency, currency, rates)
        if value is None:
            unconverted[receipt.currency] += receipt.amount
            continue
        position.received += value
        if receipt.pledge_id is None:
            position.funded += value
        else:
            received_by_pledge[receipt.pledge_id] += value
    for pledge in pledges:
        value = _convert(pledge.amount, pledge.currency, currency, rates)
        arrived = received_by_pledge.pop(pledge.pledge_id, Decimal(0))
        if pledge.status not in COUNTED_PLEDGE_STATUSES:
            position.funded += arrived
            continue
        if value is None:
            unconverted[pledge.currency] += pledge.amount
            position.funded += arrived
            continue
        position.pledged += value
        position.funded += max(value, arrived)
        position.per_pledge.append(
            {
                "pledge_id": pledge.pledge_id,
                "member_state": pledge.member_state,
                "status": pledge.status,
                "pledged": value,
                "received": arrived,
                "outstanding": max(value - arrived, Decimal(0)),
            }
        )
    # Money received against a pledge this service has not (or not yet) seen accepted still funds the summit.
    position.funded += sum(received_by_pledge.values(), Decimal(0))
    position.unconverted = dict(unconverted)
    return position


def gap_alert_due(position: FundingPosition, threshold: float) -> bool:
    return position.budget > 0 and position.gap_ratio > threshold
