"""HTTP routes of summit planning: the summit and its plan of milestones, the budget and its funding, and the
material the other services feed in. Thin: the rules are in domain.py and the workflows. Delegations and
the agenda have their own routers (delegations_api.py, agenda_api.py), included at the end."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.common.app import (
    IfMatch,
    Route,
    RuntimeDep,
    SessionDep,
    TemporalDep,
    expected_version,
)
from services.common.auth import Principal
from services.common.commands import update_refused
from services.common.errors import Conflict, InvalidField, NotFound
from services.common.observability import current_traceparent
from services.common.outbox import record_event
from services.summit.agenda_api import router as agenda_router
from services.summit.delegations_api import router as delegations_router
from services.summit.domain import (
    BudgetLineCreate,
    ExchangeRates,
    ExpenditureCreate,
    MilestoneCompletion,
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
from services.summit.models import (
    BudgetLine,
    Expenditure,
    FundingReceipt,
    Milestone,
    PublicAllegation,
    Summit,
    SummitPledge,
)
from services.summit.store import PLANNERS, READERS, TASK_QUEUE, funding_position_of, summit_or_404
from uncops_contracts.reference import is_member_state
from uncops_contracts.summit import FundingReceived, SummitPlanned
from workflows.summit.workflows import (
    AddPlanMilestone,
    CompleteMilestone,
    CompletePlanMilestone,
    MilestoneMove,
    MilestonePlan,
    MilestoneWorkflow,
    PlanMilestone,
    RescheduleSummit,
    SummitPlanStart,
    SummitPlanWorkflow,
)

router = APIRouter(prefix="/summits", tags=["summits"], route_class=Route)


class SummitPublic(BaseModel):
    id: str
    name: str
    venue: str
    starts_on: date
    ends_on: date
    host_support: str | None
    languages: list[str]
    capacity: int
    budget_currency: str
    exchange_rates: dict[str, str]
    version: int


class MilestonePublic(BaseModel):
    id: str
    summit_id: str
    key: str | None
    title: str
    owner: str | None
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
    status: str
    traffic_light: str | None


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


class ReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_state: str = Field(pattern=r"^[A-Z]{3}$")
    pledge_id: str | None = Field(None, description="The financial-support pledge this money fulfils")
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    received_on: date


class FollowUpLine(BaseModel):
    member_state: str
    kind: str
    pledges: int
    by_status: dict[str, int]
    by_traffic_light: dict[str, int]
    items: list[SummitPledgePublic]


class FollowUpReport(BaseModel):
    """The material of the pledge follow-up session: accepted pledges by State and kind."""

    summit_id: str
    made_at: list[str]
    generated_at: datetime
    totals: dict[str, int]
    lines: list[FollowUpLine]


class AccountabilityTable(BaseModel):
    dimension: str
    rows: dict[str, int]


class AccountabilityMaterial(BaseModel):
    """Allegations against UN Police as the UN publishes them: counts only, nothing that names a person."""

    summit_id: str
    allegations: int
    victims_adult: int
    victims_minor: int
    referred_for_criminal_accountability: int
    tables: list[AccountabilityTable]


def plan_workflow_id(summit_id: str) -> str:
    return f"summit-plan-{summit_id}"


def legacy_milestone_workflow_id(milestone_id: str) -> str:
    """Milestones planned before the summit plan existed each ran their own workflow."""
    return f"milestone-{milestone_id}"


def _public(summit: Summit) -> SummitPublic:
    return SummitPublic.model_validate(summit, from_attributes=True)


def _milestone_public(milestone: Milestone) -> MilestonePublic:
    return MilestonePublic.model_validate(milestone, from_attributes=True)


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def _no_plan(exc: BaseException) -> bool:
    return isinstance(exc, RPCError) and exc.status is RPCStatusCode.NOT_FOUND


# --- The summit and its plan --------------------------------------------------------------------------


@router.post(
    "", status_code=status.HTTP_201_CREATED, summary="Plan a summit: its milestones come from the template"
)
async def create_summit(
    body: SummitCreate,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    _: Annotated[Principal, PLANNERS],
) -> SummitPublic:
    policy = runtime.settings.summit_policy
    summit = Summit(
        **body.model_dump(exclude={"capacity"}), capacity=body.capacity or policy.default_capacity
    )
    session.add(summit)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"summit {body.id} already exists") from exc
    now = datetime.now(UTC)
    milestones = [
        Milestone(
            id=str(uuid.uuid4()),
            summit_id=summit.id,
            key=planned.key,
            title=planned.title,
            owner=planned.owner,
            due_at=planned.due_at,
            warn_at=warning_time(planned.due_at, planned.warn_before, now),
        )
        for planned in plan_from_template(policy.milestones, body.starts_on, body.ends_on)
    ]
    session.add_all(milestones)
    record_event(
        session,
        SummitPlanned(
            summit_id=summit.id,
            title=summit.name,
            venue=summit.venue,
            starts_on=summit.starts_on,
            ends_on=summit.ends_on,
            languages=summit.languages,
            capacity=summit.capacity,
            host_support=summit.host_support,
        ),
        key=summit.id,
        traceparent=current_traceparent(),
    )
    await session.flush()
    # The plan starts before the commit so a summit never exists without its timers; should the commit
    # fail, its activities find no milestone and the workflow is terminated here.
    handle = await temporal.start_workflow(
        SummitPlanWorkflow.run,
        SummitPlanStart(
            summit_id=summit.id,
            milestones=[
                PlanMilestone(
                    milestone_id=m.id,
                    key=m.key,
                    title=m.title,
                    owner=m.owner,
                    due_at=m.due_at,
                    warn_at=m.warn_at,
                )
                for m in milestones
            ],
        ),
        id=plan_workflow_id(summit.id),
        task_queue=TASK_QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    try:
        await session.commit()
    except Exception:
        await handle.terminate("summit was not stored")
        raise
    _etag(response, summit.version)
    return _public(summit)


@router.get("", summary="Summits")
async def list_summits(session: SessionDep, _: Annotated[Principal, READERS]) -> list[SummitPublic]:
    rows = await session.execute(select(Summit).order_by(col(Summit.starts_on)))
    return [_public(s) for s in rows.scalars()]


@router.get("/{summit_id}", summary="One summit")
async def get_summit(
    summit_id: str, session: SessionDep, response: Response, _: Annotated[Principal, READERS]
) -> SummitPublic:
    summit = await summit_or_404(session, summit_id)
    _etag(response, summit.version)
    return _public(summit)


@router.post("/{summit_id}/reschedule", summary="Move the summit's dates: every pending milestone moves too")
async def reschedule_summit(
    summit_id: str,
    body: SummitReschedule,
    session: SessionDep,
    temporal: TemporalDep,
    runtime: RuntimeDep,
    response: Response,
    principal: Annotated[Principal, PLANNERS],
    if_match: IfMatch = None,
) -> SummitPublic:
    summit = await summit_or_404(session, summit_id)
    expected = expected_version(if_match)
    if expected is not None and expected != summit.version:
        raise Conflict(
            f"the summit is at version {summit.version}, not {expected}", "planned", ["reschedule"]
        )
    templates = {item.key: item for item in runtime.settings.summit_policy.milestones}
    rows = (await session.execute(select(Milestone).where(col(Milestone.summit_id) == summit_id))).scalars()
    now = datetime.now(UTC)
    moves: list[MilestoneMove] = []
    for milestone in rows:
        if milestone.status == MilestoneStatus.COMPLETED.value:
            continue
        template = templates.get(milestone.key) if milestone.key else None
        if template is not None:
            due_at = template_due_at(template, body.starts_on, body.ends_on)
            warn_before = timedelta(days=template.warn_before_days)
        else:
            due_at = moved_due_at(milestone.due_at, summit.starts_on, body.starts_on)
            warn_before = milestone.due_at - milestone.warn_at
        moves.append(
            MilestoneMove(
                milestone_id=milestone.id, due_at=due_at, warn_at=warning_time(due_at, warn_before, now)
            )
        )
    await session.rollback()  # release the snapshot: the workflow's activity does the writing
    handle = temporal.get_workflow_handle(plan_workflow_id(summit_id))
    try:
        await handle.execute_update(
            SummitPlanWorkflow.reschedule,
            RescheduleSummit(
                starts_on=body.starts_on,
                ends_on=body.ends_on,
                moves=moves,
                requested_by=principal.subject,
                traceparent=current_traceparent(),
            ),
        )
    except WorkflowUpdateFailedError as exc:
        raise update_refused(exc) from exc
    except RPCError as exc:
        if _no_plan(exc):
            raise Conflict(
                "this summit's plan has ended: every milestone is completed", "closed", []
            ) from exc
        raise
    summit = await summit_or_404(session, summit_id)
    _etag(response, summit.version)
    return _public(summit)


@router.post(
    "/{summit_id}/milestones", status_code=status.HTTP_201_CREATED, summary="Add a milestone to the plan"
)
async def create_milestone(
    summit_id: str,
    body: MilestoneCreate,
    session: SessionDep,
    temporal: TemporalDep,
    _: Annotated[Principal, PLANNERS],
) -> MilestonePublic:
    await summit_or_404(session, summit_id)
    now = datetime.now(UTC)
    planned = PlanMilestone(
        milestone_id=str(uuid.uuid4()),
        title=body.title,
        due_at=body.due_at,
        warn_at=warning_time(body.due_at, timedelta(days=body.warn_before_days), now),
    )
    await session.rollback()
    try:
        await temporal.get_workflow_handle(plan_workflow_id(summit_id)).execute_update(
            SummitPlanWorkflow.add_milestone,
            AddPlanMilestone(milestone=planned, traceparent=current_traceparent()),
        )
    except WorkflowUpdateFailedError as exc:
        raise update_refused(exc) from exc
    except RPCError as exc:
        if not _no_plan(exc):
            raise
        # A summit planned before plans existed, or whose plan has ended: the milestone runs on its own.
        await _start_milestone_on_its_own(session, temporal, summit_id, planned)
    milestone = await session.get(Milestone, planned.milestone_id)
    assert milestone is not None  # stored by the workflow's activity before the update returned
    return _milestone_public(milestone)


async def _start_milestone_on_its_own(
    session: SessionDep, temporal: Client, summit_id: str, planned: PlanMilestone
) -> None:
    milestone = Milestone(
        id=planned.milestone_id,
        summit_id=summit_id,
        title=planned.title,
        due_at=planned.due_at,
        warn_at=planned.warn_at,
    )
    session.add(milestone)
    await session.flush()
    handle = await temporal.start_workflow(
        MilestoneWorkflow.run,
        MilestonePlan(
            milestone_id=milestone.id,
            summit_id=summit_id,
            title=milestone.title,
            due_at=milestone.due_at,
            warn_at=milestone.warn_at,
        ),
        id=legacy_milestone_workflow_id(milestone.id),
        task_queue=TASK_QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    try:
        await session.commit()
    except Exception:
        await handle.terminate("milestone was not stored")
        raise


@router.get("/{summit_id}/milestones", summary="The plan: milestones of a summit, by due date")
async def list_milestones(
    summit_id: str, session: SessionDep, _: Annotated[Principal, READERS]
) -> list[MilestonePublic]:
    await summit_or_404(session, summit_id)
    rows = await session.execute(
        select(Milestone).where(Milestone.summit_id == summit_id).order_by(col(Milestone.due_at))
    )
    return [_milestone_public(m) for m in rows.scalars()]


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
    await session.rollback()
    traceparent = current_traceparent()
    try:
        await temporal.get_workflow_handle(plan_workflow_id(summit_id)).execute_update(
            SummitPlanWorkflow.complete,
            CompletePlanMilestone(
                milestone_id=milestone_id, completed_by=principal.subject, traceparent=traceparent
            ),
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if not (isinstance(cause, ApplicationError) and cause.type == "UnknownMilestone"):
            raise update_refused(exc) from exc
        await _complete_on_its_own(temporal, milestone_id, principal.subject, traceparent)
    except RPCError as exc:
        if not _no_plan(exc):
            raise
        await _complete_on_its_own(temporal, milestone_id, principal.subject, traceparent)
    stored = await session.get(Milestone, milestone_id)
    assert stored is not None
    return _milestone_public(stored)


async def _complete_on_its_own(temporal: Client, milestone_id: str, by: str, traceparent: str | None) -> None:
    handle = temporal.get_workflow_handle(legacy_milestone_workflow_id(milestone_id))
    try:
        await handle.execute_update(
            MilestoneWorkflow.complete, CompleteMilestone(completed_by=by, traceparent=traceparent)
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == "TransitionRefused" and cause.details:
            details: dict[str, Any] = cause.details[0]
            raise Conflict(str(cause.message), details["status"], details["allowed_actions"]) from exc
        raise


# --- Budget and funding -------------------------------------------------------------------------------


@router.post("/{summit_id}/budget/lines", status_code=status.HTTP_201_CREATED, summary="Add a budget line")
async def create_budget_line(
    summit_id: str, body: BudgetLineCreate, session: SessionDep, _: Annotated[Principal, PLANNERS]
) -> BudgetLinePublic:
    await summit_or_404(session, summit_id)
    line = BudgetLine(id=str(uuid.uuid4()), summit_id=summit_id, **body.model_dump())
    session.add(line)
    try:
        await session.commit()
    except IntegrityError as exc:
        raise InvalidField("title", f"{body.category} already has a line titled {body.title!r}") from exc
    return BudgetLinePublic(
        id=line.id,
        category=line.category,
        title=line.title,
        planned=line.planned,
        spent=Decimal(0),
        version=1,
    )


@router.put("/{summit_id}/budget/lines/{line_id}", summary="Change a budget line (If-Match: its version)")
async def update_budget_line(
    summit_id: str,
    line_id: str,
    body: BudgetLineCreate,
    session: SessionDep,
    _: Annotated[Principal, PLANNERS],
    if_match: IfMatch = None,
) -> BudgetLinePublic:
    line = await session.get(BudgetLine, line_id, with_for_update=True)
    if line is None or line.summit_id != summit_id:
        raise NotFound(f"no budget line {line_id} in summit {summit_id}")
    expected = expected_version(if_match)
    if expected is not None and expected != line.version:
        raise Conflict(f"the line is at version {line.version}, not {expected}", "current", ["update"])
    line.category, line.title, line.planned = body.category, body.title, body.planned
    line.version += 1
    spent = await session.scalar(
        select(func.coalesce(func.sum(Expenditure.amount), 0)).where(
            col(Expenditure.budget_line_id) == line_id
        )
    )
    await session.commit()
    return BudgetLinePublic(
        id=line.id,
        category=line.category,
        title=line.title,
        planned=line.planned,
        spent=Decimal(spent or 0),
        version=line.version,
    )


@router.post(
    "/{summit_id}/budget/expenditures", status_code=status.HTTP_201_CREATED, summary="Record spending"
)
async def record_expenditure(
    summit_id: str, body: ExpenditureCreate, session: SessionDep, principal: Annotated[Principal, PLANNERS]
) -> Expenditure:
    line = await session.get(BudgetLine, body.budget_line_id)
    if line is None or line.summit_id != summit_id:
        raise InvalidField("budget_line_id", f"no budget line {body.budget_line_id} in summit {summit_id}")
    expenditure = Expenditure(
        id=str(uuid.uuid4()), summit_id=summit_id, recorded_by=principal.subject, **body.model_dump()
    )
    session.add(expenditure)
    await session.commit()
    return expenditure


@router.put(
    "/{summit_id}/budget/exchange-rates", summary="Rates from other currencies to the budget currency"
)
async def set_exchange_rates(
    summit_id: str, body: ExchangeRates, session: SessionDep, _: Annotated[Principal, PLANNERS]
) -> SummitPublic:
    summit = await summit_or_404(session, summit_id, for_update=True)
    if summit.budget_currency in body.rates:
        raise InvalidField(f"rates.{summit.budget_currency}", "the budget currency needs no rate")
    summit.exchange_rates = {currency: str(rate) for currency, rate in body.rates.items()}
    summit.version += 1
    await session.commit()
    return _public(summit)


@router.get("/{summit_id}/funding", summary="Budget, money pledged, received and spent, and the funding gap")
async def summit_funding(summit_id: str, session: SessionDep, _: Annotated[Principal, PLANNERS]) -> Funding:
    summit = await summit_or_404(session, summit_id)
    position = await funding_position_of(session, summit)
    spent_by_line: dict[str, Decimal] = defaultdict(Decimal)
    for line_id, amount in await session.execute(
        select(col(Expenditure.budget_line_id), col(Expenditure.amount)).where(
            col(Expenditure.summit_id) == summit_id
        )
    ):
        spent_by_line[line_id] += amount
    lines = (
        await session.execute(
            select(BudgetLine)
            .where(col(BudgetLine.summit_id) == summit_id)
            .order_by(col(BudgetLine.category), col(BudgetLine.title))
        )
    ).scalars()
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
        budget_lines=[
            BudgetLinePublic(
                id=line.id,
                category=line.category,
                title=line.title,
                planned=line.planned,
                spent=spent_by_line[line.id],
                version=line.version,
            )
            for line in lines
        ],
    )


@router.post(
    "/{summit_id}/funding/receipts", status_code=status.HTTP_201_CREATED, summary="Record money received"
)
async def record_receipt(
    summit_id: str, body: ReceiptCreate, session: SessionDep, principal: Annotated[Principal, PLANNERS]
) -> FundingReceipt:
    await summit_or_404(session, summit_id)
    if not is_member_state(body.member_state):
        raise InvalidField("member_state", f"{body.member_state} is not a UN Member State")
    if body.pledge_id is not None:
        pledge = await session.get(SummitPledge, body.pledge_id)
        if pledge is not None and pledge.member_state != body.member_state:
            raise InvalidField("member_state", f"pledge {body.pledge_id} was made by {pledge.member_state}")
    receipt = FundingReceipt(
        id=str(uuid.uuid4()), summit_id=summit_id, recorded_by=principal.subject, **body.model_dump()
    )
    session.add(receipt)
    record_event(
        session,
        FundingReceived(receipt_id=receipt.id, summit_id=summit_id, **body.model_dump()),
        key=body.pledge_id or summit_id,
        traceparent=current_traceparent(),
    )
    await session.commit()
    return receipt


# --- Material fed by the other services ---------------------------------------------------------------


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


# Accepted at some point: what a follow-up session reports on (rejected and never-reviewed pledges are not).
FOLLOWED_UP = ("accepted", "in_progress", "fulfilled", "lapsed", "withdrawn")


@router.get("/{summit_id}/follow-up", summary="Pledge follow-up material: accepted pledges by State and kind")
async def follow_up_report(
    summit_id: str,
    session: SessionDep,
    _: Annotated[Principal, PLANNERS],
    made_at: Annotated[
        list[str] | None, Query(description="Summits whose pledges to report; default: all")
    ] = None,
) -> FollowUpReport:
    await summit_or_404(session, summit_id)
    query = select(SummitPledge).where(col(SummitPledge.status).in_(FOLLOWED_UP))
    if made_at:
        query = query.where(col(SummitPledge.summit).in_(made_at))
    rows = (
        await session.execute(
            query.order_by(
                col(SummitPledge.member_state), col(SummitPledge.kind), col(SummitPledge.submitted_at)
            )
        )
    ).scalars()
    groups: dict[tuple[str, str], list[SummitPledge]] = defaultdict(list)
    for pledge in rows:
        groups[(pledge.member_state, pledge.kind)].append(pledge)
    totals: Counter[str] = Counter()
    lines = []
    for (member_state, kind), pledges in groups.items():
        by_status = Counter(p.status for p in pledges)
        totals.update(by_status)
        lines.append(
            FollowUpLine(
                member_state=member_state,
                kind=kind,
                pledges=len(pledges),
                by_status=dict(by_status),
                by_traffic_light=dict(Counter(p.traffic_light or "none" for p in pledges)),
                items=[SummitPledgePublic.model_validate(p, from_attributes=True) for p in pledges],
            )
        )
    return FollowUpReport(
        summit_id=summit_id,
        made_at=sorted(made_at or []),
        generated_at=datetime.now(UTC),
        totals=dict(totals),
        lines=lines,
    )


ACCOUNTABILITY_DIMENSIONS = (
    "reported_year",
    "mission",
    "personnel_category",
    "nationality",
    "allegation_type",
    "result",
)


@router.get(
    "/{summit_id}/accountability",
    summary="Misconduct statistics for the performance-and-accountability session (public data only)",
)
async def accountability_material(
    summit_id: str,
    session: SessionDep,
    _: Annotated[Principal, PLANNERS],
    since_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> AccountabilityMaterial:
    await summit_or_404(session, summit_id)
    where = [] if since_year is None else [col(PublicAllegation.reported_year) >= since_year]
    totals = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(PublicAllegation.victims_adult), 0),
                func.coalesce(func.sum(PublicAllegation.victims_minor), 0),
                func.count().filter(col(PublicAllegation.referred_for_criminal_accountability)),
            ).where(*where)
        )
    ).one()
    tables = []
    for dimension in ACCOUNTABILITY_DIMENSIONS:
        column = getattr(PublicAllegation, dimension)
        counted = await session.execute(
            select(column, func.count()).where(*where).group_by(column).order_by(column)
        )
        tables.append(
            AccountabilityTable(
                dimension=dimension,
                rows={str(value) if value is not None else "pending": n for value, n in counted},
            )
        )
    return AccountabilityMaterial(
        summit_id=summit_id,
        allegations=totals[0],
        victims_adult=totals[1],
        victims_minor=totals[2],
        referred_for_criminal_accountability=totals[3],
        tables=tables,
    )


router.include_router(delegations_router)
router.include_router(agenda_router)
