"""The milestone workflow: warns before a milestone falls due, marks it overdue, records completion.

Workflow code stays deterministic: no settings, clock or I/O here; time is ``workflow.now()`` and every
write happens in an activity.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.summit.domain import MILESTONE_ACTIONS, MilestoneStatus


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


# Activities retry until the database is back; each is idempotent, so a retry never writes twice.
ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn(name="MilestoneWorkflow")
class MilestoneWorkflow:
    @workflow.init
    def __init__(self, plan: MilestonePlan) -> None:
        self.plan = plan
        self.status = MilestoneStatus.PLANNED
        self.completing = False

    @workflow.run
    async def run(self, plan: MilestonePlan) -> MilestoneState:
        for moment, status in ((plan.warn_at, MilestoneStatus.DUE), (plan.due_at, MilestoneStatus.OVERDUE)):
            if await self._completed_before(moment):
                break
            await self._record(status)
        await workflow.wait_condition(
            lambda: self.status is MilestoneStatus.COMPLETED and workflow.all_handlers_finished()
        )
        return self.state()

    @workflow.update
    async def complete(self, request: CompleteMilestone) -> MilestoneState:
        self.completing = True
        try:
            await self._record(
                MilestoneStatus.COMPLETED, completed_by=request.completed_by, traceparent=request.traceparent
            )
        finally:
            self.completing = False
        return self.state()

    @complete.validator
    def validate_complete(self, request: CompleteMilestone) -> None:
        # Runs before anything reaches history: a refused completion leaves no trace.
        if self.completing or "complete" not in MILESTONE_ACTIONS[self.status]:
            raise ApplicationError(
                f"a {self.status.value} milestone cannot be completed",
                self.state().model_dump(mode="json"),
                type="TransitionRefused",
            )

    @workflow.query
    def state(self) -> MilestoneState:
        return MilestoneState(
            milestone_id=self.plan.milestone_id,
            status=self.status,
            allowed_actions=list(MILESTONE_ACTIONS[self.status]),
        )

    async def _completed_before(self, moment: datetime) -> bool:
        delay = (moment - workflow.now()).total_seconds()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self.status is MilestoneStatus.COMPLETED, timeout=delay)
        # A completion in flight wins over the warning it raced with.
        await workflow.wait_condition(lambda: not self.completing)
        return self.status is MilestoneStatus.COMPLETED

    async def _record(
        self, status: MilestoneStatus, completed_by: str | None = None, traceparent: str | None = None
    ) -> None:
        await workflow.execute_activity(
            "record_milestone_transition",
            MilestoneTransition(
                milestone_id=self.plan.milestone_id,
                status=status,
                completed_by=completed_by,
                traceparent=traceparent,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self.status = status
