"""Routes of a summit's money: budget lines, spending, exchange rates, the funding position, receipts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from services.common.app import IfMatch, Route, SessionDep, expected_version
from services.common.auth import Principal
from services.summit import queries, service
from services.summit.api.access import PLANNERS
from services.summit.api.summits import SummitPublic, summit_public
from services.summit.domain.budget import BudgetLineCreate, ExchangeRates, ExpenditureCreate, ReceiptCreate
from services.summit.models import BudgetLineRow

router = APIRouter(prefix="/summits", tags=["summits"], route_class=Route)


class PledgeFunding(BaseModel):
    pledge_id: str
    member_state: str
    status: str
    pledged: Decimal
    received: Decimal
    outstanding: Decimal


class Funding(BaseModel):
    """The summit's money in its budget currency. ``funded`` counts a pledge once, whether it is still a
    promise or has arrived; the gap is what the budget still lacks."""

    summit_id: str
    currency: str
    budget: Decimal
    pledged: Decimal
    received: Decimal
    spent: Decimal
    funded: Decimal
    gap: Decimal
    gap_ratio: float
    unconverted: dict[str, Decimal] = Field(description="Amounts in currencies without a rate: in no total")
    pledges: list[PledgeFunding]
    budget_lines: list[BudgetLinePublic]


class BudgetLinePublic(BaseModel):
    id: str
    category: str
    title: str
    planned: Decimal
    spent: Decimal
    version: int


class Expenditure(BaseModel):
    """Money spent against a budget line."""

    id: str
    summit_id: str
    budget_line_id: str
    amount: Decimal
    spent_on: date
    description: str
    recorded_by: str


class FundingReceipt(BaseModel):
    """Money received for a summit, recorded by the secretariat; it feeds the pledges it names."""

    id: str
    summit_id: str
    member_state: str
    pledge_id: str | None = None
    amount: Decimal
    currency: str
    received_on: date
    recorded_by: str


def _line(line: BudgetLineRow, spent: Decimal) -> BudgetLinePublic:
    return BudgetLinePublic(
        id=line.id,
        category=line.category,
        title=line.title,
        planned=line.planned,
        spent=spent,
        version=line.version,
    )


@router.post("/{summit_id}/budget/lines", status_code=status.HTTP_201_CREATED, summary="Add a budget line")
async def create_budget_line(
    summit_id: str, body: BudgetLineCreate, session: SessionDep, _: Annotated[Principal, PLANNERS]
) -> BudgetLinePublic:
    return _line(await service.add_budget_line(session, summit_id, body), Decimal(0))


@router.put("/{summit_id}/budget/lines/{line_id}", summary="Change a budget line (If-Match: its version)")
async def update_budget_line(
    summit_id: str,
    line_id: str,
    body: BudgetLineCreate,
    session: SessionDep,
    _: Annotated[Principal, PLANNERS],
    if_match: IfMatch = None,
) -> BudgetLinePublic:
    line, spent = await service.change_budget_line(
        session, summit_id, line_id, body, expected_version(if_match)
    )
    return _line(line, spent)


@router.post(
    "/{summit_id}/budget/expenditures", status_code=status.HTTP_201_CREATED, summary="Record spending"
)
async def record_expenditure(
    summit_id: str, body: ExpenditureCreate, session: SessionDep, principal: Annotated[Principal, PLANNERS]
) -> Expenditure:
    expenditure = await service.record_expenditure(session, summit_id, body, principal.subject)
    return Expenditure.model_validate(expenditure, from_attributes=True)


@router.put(
    "/{summit_id}/budget/exchange-rates", summary="Rates from other currencies to the budget currency"
)
async def set_exchange_rates(
    summit_id: str, body: ExchangeRates, session: SessionDep, _: Annotated[Principal, PLANNERS]
) -> SummitPublic:
    return summit_public(await service.set_exchange_rates(session, summit_id, body))


@router.get("/{summit_id}/funding", summary="Budget, money pledged, received and spent, and the funding gap")
async def summit_funding(summit_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS]) -> Funding:
    summit = await queries.summit_or_404(session, summit_id)
    position = await queries.funding_position_of(session, summit)
    lines = await queries.budget_lines(session, summit_id)
    return Funding(
        summit_id=summit_id,
        currency=position.currency,
        budget=position.budget,
        pledged=position.pledged,
        received=position.received,
        spent=position.spent,
        funded=position.funded,
        gap=position.gap,
        gap_ratio=round(position.gap_ratio, 4),
        unconverted=position.unconverted,
        pledges=[PledgeFunding.model_validate(p) for p in position.per_pledge],
        budget_lines=[_line(line, spent) for line, spent in lines],
    )


@router.post(
    "/{summit_id}/funding/receipts", status_code=status.HTTP_201_CREATED, summary="Record money received"
)
async def record_receipt(
    summit_id: str, body: ReceiptCreate, session: SessionDep, principal: Annotated[Principal, PLANNERS]
) -> FundingReceipt:
    receipt = await service.record_receipt(session, summit_id, body, principal.subject)
    return FundingReceipt.model_validate(receipt, from_attributes=True)
