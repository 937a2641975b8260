"""The summit's money in plain Python: budget lines, spending, exchange rates, and the funding position
(what is pledged, received and spent against the budget, and the gap)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator

from services.common.errors import InvalidField
from services.summit.domain.plan import SummitDate


class BudgetLineCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "category": "interpretation",
                    "title": "Interpretation in six languages",
                    "planned": "120000.00",
                }
            ]
        },
    )

    category: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{1,40}$")] = Field(
        examples=["interpretation"],
        description="venue, interpretation, travel_support, security, communications, other...",
    )
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
    planned: Decimal = Field(ge=0, max_digits=18, decimal_places=2)


class ExpenditureCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "budget_line_id": "line-1",
                    "amount": "4500.00",
                    "spent_on": "2030-05-20",
                    "description": "Interpreters' rehearsal day",
                }
            ]
        },
    )

    budget_line_id: str
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
    spent_on: SummitDate
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


class ExchangeRates(BaseModel):
    """Units of the budget currency per unit of each other currency (the UN operational rates)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"rates": {"EUR": "1.08", "CHF": "1.12"}}]}
    )

    # Declared with propertyNames rather than pydantic's patternProperties, which client generators skip
    # (the rates would reach a generated client as untyped values).
    rates: Annotated[
        dict[Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")], Decimal],
        WithJsonSchema(
            {
                "type": "object",
                "title": "Rates",
                "propertyNames": {"pattern": "^[A-Z]{3}$"},
                "additionalProperties": {"anyOf": [{"type": "number"}, {"type": "string"}]},
            }
        ),
    ]

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


class ReceiptCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "member_state": "CHN",
                    "pledge_id": "PLG-0001",
                    "amount": "250000.00",
                    "currency": "USD",
                    "received_on": "2030-03-02",
                }
            ]
        },
    )

    member_state: str = Field(pattern=r"^[A-Z]{3}$")
    pledge_id: str | None = Field(None, description="The financial-support pledge this money fulfils")
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    received_on: SummitDate


class BudgetLinePatch(BaseModel):
    """The fields of a budget line to change; the others stay as they are."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"planned": "135000.00"}]})

    category: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{1,40}$")] | None = None
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)] | None = (
        None
    )
    planned: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=2)


class ExpenditurePatch(BaseModel):
    """A correction of spending recorded by mistake (the wrong amount, day, line or description)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount": "4250.00"}]})

    budget_line_id: str | None = None
    amount: Decimal | None = Field(None, gt=0, max_digits=18, decimal_places=2)
    spent_on: SummitDate | None = None
    description: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)] | None
    ) = None


def patched(current: dict[str, object], patch: BaseModel) -> dict[str, object]:
    """``current`` with the fields the patch sets; a field set to null is refused (none is nullable)."""
    changes = patch.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise InvalidField(name, "cannot be null")
    return {**current, **changes}


class ReceiptReversal(BaseModel):
    """Why a receipt is reversed (recorded twice, the wrong State or pledge, money returned...)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Recorded twice: the bank statement shows one transfer"}]},
    )

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


def reversing_amount(amount: Decimal) -> Decimal:
    """A reversing entry carries the negative of the receipt it reverses, so every total is a plain sum."""
    return -amount
