"""The summit's workflows as the service knows them: their registered names, ids, the typed inputs and
outputs they take (workflows/summit/ imports these), and the calls that start them, take a step on them or
tell them something. The only module of services/summit that talks to Temporal."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.common.actor import Actor
from services.common.commands import bounded_update, execute_update
from services.common.errors import Conflict
from services.common.temporal import WorkflowType
from services.summit.domain.delegations import Command, Delegation, Outcome
from services.summit.domain.plan import MilestoneStatus
from uncops_contracts.policies import SummitPolicy

# The client the use cases take, so that only this module names Temporal.
Temporal = Client

PLAN = WorkflowType(
    "SummitPlanWorkflow",
    "summit",
    updates=("complete", "add_milestone", "reschedule", "move_milestone"),
    queries=("state",),
)
# Milestones planned before the summit plan existed each run their own workflow; a milestone added to a
# summit whose plan has ended (or never existed) still does.
MILESTONE = WorkflowType("MilestoneWorkflow", "summit", updates=("complete",), queries=("state",))
DELEGATION = WorkflowType("DelegationWorkflow", "summit", updates=("act",), queries=("view",))

# Inviting all 193 States starts 193 workflows at once: on a busy worker their first tasks queue up, and a
# task that outlives the default 10 s is retried from scratch, which only adds to the queue.
DELEGATION_TASK_TIMEOUT = timedelta(seconds=60)
# A summit plan continues as new before its history grows past this many events (a plan runs for up to two
# years; Temporal itself suggests continuing at a few thousand events).
PLAN_HISTORY_LIMIT = 2000


def plan_workflow_id(summit_id: str) -> str:
    return f"summit-plan-{summit_id}"


def milestone_workflow_id(milestone_id: str) -> str:
    return f"milestone-{milestone_id}"


def delegation_workflow_id(delegation_id: str) -> str:
    return f"delegation-{delegation_id}"


# --- The milestone workflow (one per milestone, from before the summit plan) ---------------------------


class MilestonePlan(BaseModel):
    milestone_id: str
    summit_id: str
    title: str
    due_at: datetime
    warn_at: datetime


class MilestoneTransition(BaseModel):
    milestone_id: str
    status: MilestoneStatus
    completed_by: str | None = None
    # The trace of the request that caused it (a timer's transition carries the planning request's).
    traceparent: str | None = None


class CompleteMilestone(BaseModel):
    completed_by: str
    traceparent: str | None = None


class MilestoneState(BaseModel):
    milestone_id: str
    status: MilestoneStatus
    allowed_actions: list[str]


# --- The summit plan: one workflow per summit, holding every milestone's timers -------------------------


class PlanMilestone(BaseModel):
    milestone_id: str
    key: str | None = None
    title: str
    owner: str | None = None
    due_at: datetime
    warn_at: datetime
    status: MilestoneStatus = MilestoneStatus.PLANNED
    # The trace of the request that last planned or moved it: its timers' events carry it.
    traceparent: str | None = None


class SummitPlanStart(BaseModel):
    summit_id: str
    milestones: list[PlanMilestone]
    # The plan continues as new past this many events of history, carrying its milestones (a test sets a
    # small number; absent from the inputs of plans started before it existed).
    history_limit: int = PLAN_HISTORY_LIMIT


class CompletePlanMilestone(BaseModel):
    milestone_id: str
    completed_by: str
    traceparent: str | None = None


class AddPlanMilestone(BaseModel):
    milestone: PlanMilestone
    traceparent: str | None = None


class MilestoneMove(BaseModel):
    milestone_id: str
    due_at: datetime
    warn_at: datetime


class RescheduleSummit(BaseModel):
    starts_on: date
    ends_on: date
    moves: list[MilestoneMove]
    requested_by: str
    traceparent: str | None = None


class MoveMilestone(BaseModel):
    milestone_id: str
    due_at: datetime
    warn_at: datetime
    requested_by: str
    traceparent: str | None = None


class StoreMilestoneMove(BaseModel):
    summit_id: str
    milestone: PlanMilestone  # with its new dates and status
    traceparent: str | None = None


class StoreMilestone(BaseModel):
    summit_id: str
    milestone: PlanMilestone
    traceparent: str | None = None


class StoreReschedule(BaseModel):
    summit_id: str
    starts_on: date
    ends_on: date
    milestones: list[PlanMilestone]  # the moved ones, with their new dates and statuses
    traceparent: str | None = None


class SummitPlanState(BaseModel):
    summit_id: str
    milestones: list[PlanMilestone]
    allowed_actions: dict[str, list[str]]


# --- The delegation workflow: one per invited Member State ----------------------------------------------


class DelegationStart(BaseModel):
    delegation: Delegation
    policy: SummitPolicy
    # The invitation's trace: the timers' events carry it.
    traceparent: str | None = None


class DelegationCommandRequest(BaseModel):
    command: Command
    actor: Actor
    policy: SummitPolicy
    expected_version: int | None = None
    traceparent: str | None = None
    # The row as the caller read it: newer than the workflow's view only when another delegation's change
    # promoted it and the signal saying so has not arrived yet; the step is then judged on the row.
    stored: Delegation | None = None


class DelegationView(BaseModel):
    delegation: Delegation
    allowed_actions: list[str]


class StoreDelegationChange(BaseModel):
    # Deterministic per step (workflow.uuid4): a retried activity recognises its own committed write.
    change_id: str
    base_version: int
    outcome: Outcome
    traceparent: str | None = None


class StoredDelegationChange(BaseModel):
    applied: bool  # False: the row had moved on (see ``delegation``); nothing was written
    delegation: Delegation  # the row as it now is
    promoted: list[Delegation] = []  # delegations this change moved up from the waiting list


# --- Calls -----------------------------------------------------------------------------------------------


def _not_found(exc: RPCError) -> bool:
    return exc.status is RPCStatusCode.NOT_FOUND


async def start_plan(client: Client, start: SummitPlanStart) -> WorkflowHandle[Any, Any]:
    return await PLAN.start(client, start, plan_workflow_id(start.summit_id))


async def reschedule_plan(client: Client, summit_id: str, request: RescheduleSummit) -> SummitPlanState:
    handle = client.get_workflow_handle(plan_workflow_id(summit_id))
    try:
        return await execute_update(handle, "reschedule", request, SummitPlanState)
    except RPCError as exc:
        if _not_found(exc):
            raise Conflict(
                "this summit's plan has ended: every milestone is completed", "closed", []
            ) from exc
        raise


async def move_in_plan(client: Client, summit_id: str, request: MoveMilestone) -> PlanMilestone:
    """Moves one milestone of the summit's plan. A milestone that runs its own (older) workflow, or a plan
    that has ended, cannot be moved: 409."""
    handle = client.get_workflow_handle(plan_workflow_id(summit_id))
    try:
        return await execute_update(handle, "move_milestone", request, PlanMilestone)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == "UnknownMilestone":
            raise Conflict("this milestone is not part of the summit's plan", "unplanned", []) from exc
        raise
    except RPCError as exc:
        if _not_found(exc):
            raise Conflict(
                "this summit's plan has ended: every milestone is completed", "closed", []
            ) from exc
        raise


async def add_to_plan(client: Client, summit_id: str, request: AddPlanMilestone) -> bool:
    """Adds a milestone to the summit's plan; False when the summit has no running plan (planned before
    plans existed, or every milestone is completed)."""
    handle = client.get_workflow_handle(plan_workflow_id(summit_id))
    try:
        await execute_update(handle, "add_milestone", request, PlanMilestone)
    except RPCError as exc:
        if not _not_found(exc):
            raise
        return False
    return True


async def complete_in_plan(client: Client, summit_id: str, request: CompletePlanMilestone) -> bool:
    """Completes a milestone of the summit's plan; False when the milestone is not the plan's (it runs its
    own workflow) or the summit has no running plan."""
    handle = client.get_workflow_handle(plan_workflow_id(summit_id))
    try:
        await execute_update(handle, "complete", request, PlanMilestone)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == "UnknownMilestone":
            return False
        raise
    except RPCError as exc:
        if not _not_found(exc):
            raise
        return False
    return True


async def start_milestone(client: Client, plan: MilestonePlan) -> WorkflowHandle[Any, Any]:
    return await MILESTONE.start(client, plan, milestone_workflow_id(plan.milestone_id))


async def complete_milestone(client: Client, milestone_id: str, request: CompleteMilestone) -> None:
    handle = client.get_workflow_handle(milestone_workflow_id(milestone_id))
    try:
        await bounded_update(handle, "complete", request, MilestoneState)
    except WorkflowUpdateFailedError as exc:
        # This older workflow states a refusal as its state ("status"), not as services.common.commands does.
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == "TransitionRefused" and cause.details:
            details: dict[str, Any] = cause.details[0]
            raise Conflict(str(cause.message), details["status"], details["allowed_actions"]) from exc
        raise


async def start_delegation(client: Client, start: DelegationStart) -> WorkflowHandle[Any, Any]:
    return await DELEGATION.start(
        client,
        start,
        delegation_workflow_id(start.delegation.delegation_id),
        task_timeout=DELEGATION_TASK_TIMEOUT,
    )


async def act_on_delegation(
    client: Client, request: DelegationCommandRequest, stored: Delegation
) -> DelegationView:
    """Takes a step on a delegation; a workflow that never started is started from the stored delegation."""
    handle = client.get_workflow_handle(delegation_workflow_id(stored.delegation_id))
    for attempt in range(2):
        try:
            return await execute_update(handle, "act", request, DelegationView)
        except RPCError as exc:
            if not _not_found(exc) or attempt:
                raise
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await start_delegation(
                    client,
                    DelegationStart(
                        delegation=stored, policy=request.policy, traceparent=request.traceparent
                    ),
                )
    raise AssertionError("unreachable")  # the second attempt returns or raises


async def tell_promoted(client: Client, delegation: Delegation) -> None:
    """The row is the truth; the signal keeps the workflow's view (and its allowed steps) in step."""
    handle = client.get_workflow_handle(delegation_workflow_id(delegation.delegation_id))
    try:
        await handle.signal("promoted", delegation)
    except RPCError as exc:
        if not _not_found(exc):
            raise
