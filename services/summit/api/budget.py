"""Routes of a summit's money: budget lines, spending, exchange rates, the funding position, receipts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from services.common.app import IfMatch, Route, SessionDep, expected_version
from services.common.auth import Principal
from services.common.paging import PAGED, Page, PageDep
from services.summit import queries, service
from services.summit.api.access import PLANNERS, etag
from services.summit.api.summits import SummitPublic, summit_public
from services.summit.domain.budget import (
    BudgetLineCreate,
    BudgetLinePatch,
    ExchangeRates,
    ExpenditureCreate,
    ExpenditurePatch,
    ReceiptCreate,
    ReceiptReversal,
)
from services.summit.models import BudgetLineRow, FundingReceiptRow

router = APIRouter(prefix="/summits", route_class=Route)


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
    version: int


class FundingReceipt(BaseModel):
    """Money received for a summit, recorded by the secretariat; it feeds the pledges it names. A reversing
    entry carries the negative amount, the receipt it ``reverses`` and the ``reason``."""

    id: str
    summit_id: str
    member_state: str
    pledge_id: str | None = None
    amount: Decimal
    currency: str
    received_on: date
    recorded_by: str
    recorded_at: datetime | None = None
    reverses: str | None = Field(None, description="For a reversing entry: the receipt it reverses")
    reason: str | None = Field(None, description="For a reversing entry: why")
    reversed_by: str | None = Field(None, description="For a reversed receipt: its reversing entry")


class AuditEntry(BaseModel):
    """A correction of what was recorded: who, when, the values before and after, and why."""

    id: str
    subject: str
    subject_id: str
    action: str
    actor: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


def _receipt(row: FundingReceiptRow, reversed_by: str | None = None) -> FundingReceipt:
    receipt = FundingReceipt.model_validate(row, from_attributes=True)
    receipt.reversed_by = reversed_by
    return receipt


def _line(line: BudgetLineRow, spent: Decimal) -> BudgetLinePublic:
    return BudgetLinePublic(
        id=line.id,
        category=line.category,
        title=line.title,
        planned=line.planned,
        spent=spent,
        version=line.version,
    )


@router.post(
    "/{summit_id}/budget/lines",
    tags=["budget"],
    status_code=status.HTTP_201_CREATED,
    summary="Add a budget line",
)
async def create_budget_line(
    summit_id: str,
    body: BudgetLineCreate,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, PLANNERS],
) -> BudgetLinePublic:
    """A budget line (a category and its amount in the summit's currency); ``Location`` names it."""
    line = await service.add_budget_line(session, summit_id, body)
    response.headers["Location"] = f"/summits/{summit_id}/budget/lines/{line.id}"
    etag(response, line.version)
    return _line(line, Decimal(0))


class BudgetLinePage(Page[BudgetLinePublic]):
    """One page of budget lines, by category and title; ``next_cursor`` fetches the next (null: no more)."""


@router.get(
    "/{summit_id}/budget/lines",
    tags=["budget"],
    summary="The budget lines, each with what was spent against it",
    openapi_extra=PAGED,
)
async def list_budget_lines(
    summit_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS], page: PageDep
) -> BudgetLinePage:
    """Every budget line of the summit, each with what was spent against it, by category and title, a page
    at a time."""
    await queries.summit_or_404(session, summit_id)
    lines, next_cursor = await queries.budget_lines_page(session, summit_id, page)
    return page.answer(BudgetLinePage, [_line(line, spent) for line, spent in lines], next_cursor)


@router.get(
    "/{summit_id}/budget/lines/{line_id}", tags=["budget"], summary="One budget line (ETag: its version)"
)
async def get_budget_line(
    summit_id: str, line_id: str, session: SessionDep, response: Response, _: Annotated[Principal, PLANNERS]
) -> BudgetLinePublic:
    """One budget line and what was spent against it; its ``ETag`` is its version."""
    line = await queries.budget_line_or_404(session, summit_id, line_id)
    etag(response, line.version)
    return _line(line, await queries.spent_on_line(session, line_id))


@router.put(
    "/{summit_id}/budget/lines/{line_id}",
    tags=["budget"],
    summary="Replace a budget line (If-Match: its version)",
)
async def update_budget_line(
    summit_id: str,
    line_id: str,
    body: BudgetLineCreate,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
    if_match: IfMatch = None,
) -> BudgetLinePublic:
    """Replaces the budget line (``If-Match``: its version); the change is audited and evented."""
    line, spent = await service.change_budget_line(
        session, summit_id, line_id, body, expected_version(if_match), principal.subject
    )
    etag(response, line.version)
    return _line(line, spent)


@router.patch(
    "/{summit_id}/budget/lines/{line_id}",
    tags=["budget"],
    summary="Correct fields of a budget line (If-Match: its version); audited",
)
async def patch_budget_line(
    summit_id: str,
    line_id: str,
    body: BudgetLinePatch,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
    if_match: IfMatch = None,
) -> BudgetLinePublic:
    """Changes some fields of the budget line (``If-Match``: its version); the change is audited and
    evented."""
    line, spent = await service.change_budget_line(
        session, summit_id, line_id, body, expected_version(if_match), principal.subject
    )
    etag(response, line.version)
    return _line(line, spent)


@router.delete(
    "/{summit_id}/budget/lines/{line_id}",
    tags=["budget"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a budget line nothing was spent against (409 otherwise); audited",
)
async def delete_budget_line(
    summit_id: str,
    line_id: str,
    session: SessionDep,
    principal: Annotated[Principal, PLANNERS],
    if_match: IfMatch = None,
) -> None:
    """Removes a budget line nothing was spent against; the removal is audited and evented."""
    await service.remove_budget_line(
        session, summit_id, line_id, expected_version(if_match), principal.subject
    )


@router.post(
    "/{summit_id}/budget/expenditures",
    tags=["budget"],
    status_code=status.HTTP_201_CREATED,
    summary="Record spending",
)
async def record_expenditure(
    summit_id: str,
    body: ExpenditureCreate,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
) -> Expenditure:
    """Spending against a budget line, in any currency with an exchange rate set; ``Location`` names it."""
    expenditure = await service.record_expenditure(session, summit_id, body, principal.subject)
    response.headers["Location"] = f"/summits/{summit_id}/budget/expenditures/{expenditure.id}"
    etag(response, expenditure.version)
    return Expenditure.model_validate(expenditure, from_attributes=True)


class ExpenditurePage(Page[Expenditure]):
    """One page of spending, by day; ``next_cursor`` fetches the next (null: no more)."""


@router.get(
    "/{summit_id}/budget/expenditures", tags=["budget"], summary="Spending, by day", openapi_extra=PAGED
)
async def list_expenditures(
    summit_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS], page: PageDep
) -> ExpenditurePage:
    """The summit's spending, by day, a page at a time."""
    await queries.summit_or_404(session, summit_id)
    rows, next_cursor = await queries.expenditures_page(session, summit_id, page)
    return page.answer(
        ExpenditurePage, [Expenditure.model_validate(row, from_attributes=True) for row in rows], next_cursor
    )


@router.get(
    "/{summit_id}/budget/expenditures/{expenditure_id}",
    tags=["budget"],
    summary="One expenditure (ETag: its version)",
)
async def get_expenditure(
    summit_id: str,
    expenditure_id: str,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, PLANNERS],
) -> Expenditure:
    """One expenditure; its ``ETag`` is its version."""
    row = await queries.expenditure_or_404(session, summit_id, expenditure_id)
    etag(response, row.version)
    return Expenditure.model_validate(row, from_attributes=True)


@router.patch(
    "/{summit_id}/budget/expenditures/{expenditure_id}",
    tags=["budget"],
    summary="Correct spending recorded by mistake (If-Match: its version); audited",
)
async def correct_expenditure(
    summit_id: str,
    expenditure_id: str,
    body: ExpenditurePatch,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
    if_match: IfMatch = None,
) -> Expenditure:
    """Corrects an expenditure (``If-Match``: its version); the correction is audited and evented."""
    row = await service.correct_expenditure(
        session, summit_id, expenditure_id, body, expected_version(if_match), principal.subject
    )
    etag(response, row.version)
    return Expenditure.model_validate(row, from_attributes=True)


@router.put(
    "/{summit_id}/budget/exchange-rates",
    tags=["budget"],
    summary="Rates from other currencies to the budget currency",
)
async def set_exchange_rates(
    summit_id: str, body: ExchangeRates, session: SessionDep, _: Annotated[Principal, PLANNERS]
) -> SummitPublic:
    """The rates that convert other currencies into the summit's currency, for spending and receipts."""
    return summit_public(await service.set_exchange_rates(session, summit_id, body))


@router.get(
    "/{summit_id}/funding",
    tags=["funding"],
    summary="Budget, money pledged, received and spent, and the funding gap",
)
async def summit_funding(summit_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS]) -> Funding:
    """The budget, the money pledged and received for the summit, what was spent, and the gap still to
    fund."""
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
    "/{summit_id}/funding/receipts",
    tags=["funding"],
    status_code=status.HTTP_201_CREATED,
    summary="Record money received",
)
async def record_receipt(
    summit_id: str,
    body: ReceiptCreate,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
) -> FundingReceipt:
    """Money received for the summit, optionally against a pledge; ``Location`` names the receipt."""
    receipt = await service.record_receipt(session, summit_id, body, principal.subject)
    response.headers["Location"] = f"/summits/{summit_id}/funding/receipts/{receipt.id}"
    return _receipt(receipt)


class FundingReceiptPage(Page[FundingReceipt]):
    """One page of receipts and reversing entries; ``next_cursor`` fetches the next (null: no more)."""


@router.get(
    "/{summit_id}/funding/receipts",
    tags=["funding"],
    summary="Receipts and reversing entries, in the order recorded",
    openapi_extra=PAGED,
)
async def list_receipts(
    summit_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS], page: PageDep
) -> FundingReceiptPage:
    """Receipts and the entries that reverse them, in the order they were recorded, a page at a time."""
    await queries.summit_or_404(session, summit_id)
    rows, next_cursor = await queries.receipts(session, summit_id, page)
    reversed_by = await queries.reversals_of(session, [row.id for row in rows])
    return page.answer(
        FundingReceiptPage, [_receipt(row, reversed_by.get(row.id)) for row in rows], next_cursor
    )


@router.get(
    "/{summit_id}/funding/receipts/{receipt_id}", tags=["funding"], summary="One receipt or reversing entry"
)
async def get_receipt(
    summit_id: str, receipt_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS]
) -> FundingReceipt:
    """One receipt or reversing entry."""
    row = await queries.receipt_or_404(session, summit_id, receipt_id)
    reversal = await queries.reversal_of(session, receipt_id)
    return _receipt(row, reversal.id if reversal else None)


@router.post(
    "/{summit_id}/funding/receipts/{receipt_id}/reversal",
    tags=["funding"],
    status_code=status.HTTP_201_CREATED,
    summary="Reverse a receipt recorded by mistake: a reversing entry, audited, funding_receipt_reversed",
)
async def reverse_receipt(
    summit_id: str,
    receipt_id: str,
    body: ReceiptReversal,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
) -> FundingReceipt:
    """Nothing is deleted: the reversing entry carries the negative amount, so ``received`` and the pledge's
    delivered money go back down. A receipt is reversed once (409 the second time)."""
    reversal = await service.reverse_receipt(session, summit_id, receipt_id, body, principal.subject)
    response.headers["Location"] = f"/summits/{summit_id}/funding/receipts/{reversal.id}"
    return _receipt(reversal)


class AuditPage(Page[AuditEntry]):
    """One page of a summit's corrections, oldest first; ``next_cursor`` fetches the next (null: no more)."""


@router.get(
    "/{summit_id}/audit",
    tags=["audit"],
    summary="Corrections of rooms, budget lines, spending and receipts",
    openapi_extra=PAGED,
)
async def audit_trail(
    summit_id: str,
    session: SessionDep,
    _: Annotated[Principal, PLANNERS],
    page: PageDep,
    subject_id: Annotated[str | None, Query(description="Only the corrections of this record")] = None,
) -> AuditPage:
    """Every correction of the summit's rooms, budget lines, spending and receipts: who, when, before and
    after, oldest first, a page at a time."""
    await queries.summit_or_404(session, summit_id)
    entries, next_cursor = await queries.audit(session, summit_id, page, subject_id)
    return page.answer(
        AuditPage, [AuditEntry.model_validate(e, from_attributes=True) for e in entries], next_cursor
    )
