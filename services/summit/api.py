"""HTTP routes of summit planning: thin, the rules are in domain.py and the workflows."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError

from services.common.app import SessionDep, TemporalDep
from services.common.auth import Principal, Role, require_roles
from services.common.errors import Conflict, InvalidField, NotFound
from services.common.observability import current_traceparent
from services.common.outbox import record_event
from services.summit.domain import (
    MilestoneCompletion,
    MilestoneCreate,
    MilestoneStatus,
    SummitCreate,
    ensure_can_complete,
    warning_time,
)
from services.summit.models import FundingReceipt, Milestone, Summit, SummitPledge
from uncops_contracts.reference import is_member_state
from uncops_contracts.summit import FundingReceived
from workflows.summit.workflows import CompleteMilestone, MilestonePlan, MilestoneState, MilestoneWorkflow

router = APIRouter(prefix="/summits", tags=["summits"])

PLANNERS = require_roles(Role.PLANNER)
READERS = require_roles(Role.PLANNER, Role.STATE_FOCAL_POINT)
TASK_QUEUE = "uncops-summit"


class MilestonePublic(BaseModel):
    id: str
    summit_id: str
    title: str
    due_at: datetime
    warn_at: datetime
    status: str
    completed_at: datetime | None
    completed_by: str | None
    version: int


class SummitPledgePublic(BaseModel):
    pledge_id: str
    member_state: str
    summit: str
    supports_summit: str | None
    kind: str
    title: str
    amount: Decimal | None
    currency: str | None
    submitted_at: datetime


class Funding(BaseModel):
    summit_id: str
    pledged: dict[str, Decimal]
    pledges: int
    received: dict[str, Decimal] = {}


class ReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_state: str = Field(pattern=r"^[A-Z]{3}$")
    pledge_id: str | None = Field(None, description="The financial-support pledge this money fulfils")
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    received_on: date


def milestone_workflow_id(milestone_id: str) -> str:
    return f"milestone-{milestone_id}"


async def _summit(session: SessionDep, summit_id: str) -> Summit:
    summit = await session.get(Summit, summit_id)
    if summit is None:
        raise NotFound(f"no summit {summit_id}")
    return summit


@router.post("", status_code=status.HTTP_201_CREATED, summary="Plan a summit")
async def create_summit(body: SummitCreate, session: SessionDep, _: Annotated[Principal, PLANNERS]) -> Summit:
    summit = Summit(**body.model_dump())
    session.add(summit)
    try:
        await session.commit()
    except IntegrityError as exc:
        raise Conflict(f"summit {body.id} already exists") from exc
    return summit


@router.get("", summary="Summits")
async def list_summits(session: SessionDep, _: Annotated[Principal, READERS]) -> list[Summit]:
    return list((await session.execute(select(Summit).order_by(col(Summit.starts_on)))).scalars())


@router.get("/{summit_id}", summary="One summit")
async def get_summit(summit_id: str, session: SessionDep, _: Annotated[Principal, READERS]) -> Summit:
    return await _summit(session, summit_id)


@router.post("/{summit_id}/milestones", status_code=status.HTTP_201_CREATED, summary="Plan a milestone")
async def create_milestone(
    summit_id: str,
    body: MilestoneCreate,
    session: SessionDep,
    temporal: TemporalDep,
    _: Annotated[Principal, PLANNERS],
) -> MilestonePublic:
    await _summit(session, summit_id)
    now = datetime.now(UTC)
    milestone = Milestone(
        id=str(uuid.uuid4()),
        summit_id=summit_id,
        title=body.title,
        due_at=body.due_at,
        warn_at=warning_time(body.due_at, timedelta(days=body.warn_before_days), now),
    )
    session.add(milestone)
    await session.flush()
    # The workflow starts before the commit so a milestone never exists without its timers; should the
    # commit fail, the workflow's first activity finds no milestone and the workflow is terminated here.
    handle = await temporal.start_workflow(
        MilestoneWorkflow.run,
        MilestonePlan(
            milestone_id=milestone.id,
            summit_id=summit_id,
            title=milestone.title,
            due_at=milestone.due_at,
            warn_at=milestone.warn_at,
        ),
        id=milestone_workflow_id(milestone.id),
        task_queue=TASK_QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    try:
        await session.commit()
    except Exception:
        await handle.terminate("milestone was not stored")
        raise
    return MilestonePublic.model_validate(milestone, from_attributes=True)


@router.get("/{summit_id}/milestones", summary="Milestones of a summit, by due date")
async def list_milestones(
    summit_id: str, session: SessionDep, _: Annotated[Principal, READERS]
) -> list[MilestonePublic]:
    await _summit(session, summit_id)
    rows = await session.execute(
        select(Milestone).where(Milestone.summit_id == summit_id).order_by(col(Milestone.due_at))
    )
    return [MilestonePublic.model_validate(m, from_attributes=True) for m in rows.scalars()]


@router.post("/{summit_id}/milestones/{milestone_id}/complete", summary="Mark a milestone completed")
async def complete_milestone(
    summit_id: str,
    milestone_id: str,
    body: MilestoneCompletion,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Annotated[Principal, PLANNERS],
) -> MilestonePublic:
    milestone = await session.get(Milestone, milestone_id)
    if milestone is None or milestone.summit_id != summit_id:
        raise NotFound(f"no milestone {milestone_id} in summit {summit_id}")
    ensure_can_complete(MilestoneStatus(milestone.status))
    handle = temporal.get_workflow_handle(milestone_workflow_id(milestone_id))
    try:
        await handle.execute_update(
            MilestoneWorkflow.complete,
            CompleteMilestone(completed_by=principal.subject, traceparent=current_traceparent()),
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == "TransitionRefused" and cause.details:
            state = MilestoneState.model_validate(cause.details[0])
            raise Conflict(str(cause.message), state.status.value, state.allowed_actions) from exc
        raise
    await session.refresh(milestone)
    return MilestonePublic.model_validate(milestone, from_attributes=True)


@router.get("/{summit_id}/pledges", summary="Pledges made at or supporting this summit")
async def list_summit_pledges(
    summit_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS]
) -> list[SummitPledgePublic]:
    rows = await session.execute(
        select(SummitPledge)
        .where((SummitPledge.summit == summit_id) | (SummitPledge.supports_summit == summit_id))
        .order_by(col(SummitPledge.submitted_at))
    )
    return [SummitPledgePublic.model_validate(p, from_attributes=True) for p in rows.scalars()]


@router.get("/{summit_id}/funding", summary="Money pledged for this summit, by currency")
async def summit_funding(summit_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS]) -> Funding:
    await _summit(session, summit_id)
    rows = await session.execute(
        select(SummitPledge).where(
            SummitPledge.supports_summit == summit_id, col(SummitPledge.amount).is_not(None)
        )
    )
    pledged: dict[str, Decimal] = defaultdict(Decimal)
    count = 0
    for pledge in rows.scalars():
        assert pledge.amount is not None and pledge.currency is not None
        pledged[pledge.currency] += pledge.amount
        count += 1
    received: dict[str, Decimal] = defaultdict(Decimal)
    for receipt in (
        await session.execute(select(FundingReceipt).where(col(FundingReceipt.summit_id) == summit_id))
    ).scalars():
        received[receipt.currency] += receipt.amount
    return Funding(summit_id=summit_id, pledged=dict(pledged), pledges=count, received=dict(received))


@router.post(
    "/{summit_id}/funding/receipts", status_code=status.HTTP_201_CREATED, summary="Record money received"
)
async def record_receipt(
    summit_id: str, body: ReceiptCreate, session: SessionDep, principal: Annotated[Principal, PLANNERS]
) -> FundingReceipt:
    await _summit(session, summit_id)
    if not is_member_state(body.member_state):
        raise InvalidField("member_state", f"{body.member_state} is not a UN Member State")
    receipt = FundingReceipt(
        id=str(uuid.uuid4()), summit_id=summit_id, recorded_by=principal.subject, **body.model_dump()
    )
    session.add(receipt)
    record_event(
        session,
        FundingReceived(receipt_id=receipt.id, summit_id=summit_id, **body.model_dump()),
        key=body.pledge_id or summit_id,
    )
    await session.commit()
    return receipt
