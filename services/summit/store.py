"""Reads shared by the summit service's routes."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.common.auth import Role, require_roles
from services.common.errors import NotFound
from services.summit.domain import FundingPledge, FundingPosition, FundingReceiptLine, funding_position
from services.summit.models import BudgetLine, Expenditure, FundingReceipt, Summit, SummitPledge

PLANNERS = require_roles(Role.PLANNER)
READERS = require_roles(Role.PLANNER, Role.STATE_FOCAL_POINT)
TASK_QUEUE = "uncops-summit"


async def summit_or_404(session: AsyncSession, summit_id: str, *, for_update: bool = False) -> Summit:
    summit = await session.get(Summit, summit_id, with_for_update=for_update)
    if summit is None:
        raise NotFound(f"no summit {summit_id}")
    return summit


async def funding_position_of(session: AsyncSession, summit: Summit) -> FundingPosition:
    """The summit's money from its tables: budget lines, spending, the financial pledges supporting it
    (as the pledge service's events described them) and the receipts."""
    budget = (
        await session.execute(select(col(BudgetLine.planned)).where(col(BudgetLine.summit_id) == summit.id))
    ).scalars()
    spent = (
        await session.execute(select(col(Expenditure.amount)).where(col(Expenditure.summit_id) == summit.id))
    ).scalars()
    pledges = (
        await session.execute(
            select(SummitPledge).where(
                col(SummitPledge.supports_summit) == summit.id, col(SummitPledge.amount).is_not(None)
            )
        )
    ).scalars()
    receipts = (
        await session.execute(select(FundingReceipt).where(col(FundingReceipt.summit_id) == summit.id))
    ).scalars()
    return funding_position(
        summit.budget_currency,
        {currency: Decimal(rate) for currency, rate in summit.exchange_rates.items()},
        list(budget),
        list(spent),
        [
            FundingPledge(p.pledge_id, p.member_state, p.status, p.amount, p.currency)
            for p in pledges
            if p.amount is not None and p.currency is not None
        ],
        [FundingReceiptLine(r.pledge_id, r.member_state, r.amount, r.currency) for r in receipts],
    )
