"""The summit plan workflow (one per summit, holding every milestone's timers) and the older milestone
workflow (one per milestone, kept for milestones planned before the summit plan existed): each warns before
a milestone falls due, marks it overdue, records completion. Their inputs live in services/summit/gateway.py.

Workflow code stays deterministic: no settings, clock or I/O here; time is ``workflow.now()`` and every
write happens in an activity.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.summit.domain.plan import MILESTONE_ACTIONS, MilestoneStatus
    from services.summit.gateway import (
        AddPlanMilestone,
        CompleteMilestone,
        CompletePlanMilestone,
        MilestonePlan,
        MilestoneState,
        MilestoneTransition,
        MoveMilestone,
        PlanMilestone,
        RescheduleSummit,
        StoreMilestone,
        StoreMilestoneMove,
        StoreReschedule,
        SummitPlanStart,
        SummitPlanState,
    )
    from workflows.summit.activities import SummitActivities


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
        await workflow.execute_activity_method(
            SummitActivities.record_milestone_transition,
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


# --- The summit plan: one workflow per summit, holding every milestone's timers ---------------------------


def _status_at(milestone: PlanMilestone, now: datetime) -> MilestoneStatus:
    """Where a moved milestone stands: its warning and due date are read again from the new dates."""
    if milestone.status is MilestoneStatus.COMPLETED:
        return milestone.status
    if now >= milestone.due_at:
        return MilestoneStatus.OVERDUE
    if now >= milestone.warn_at:
        return MilestoneStatus.DUE
    return MilestoneStatus.PLANNED


@workflow.defn(name="SummitPlanWorkflow")
class SummitPlanWorkflow:
    """Warns each milestone's owner before it falls due, marks it overdue after, records completions, and
    re-plans pending milestones when the summit moves. Ends when every milestone is completed."""

    @workflow.init
    def __init__(self, start: SummitPlanStart) -> None:
        self.summit_id = start.summit_id
        self.milestones = {m.milestone_id: m for m in start.milestones}
        self.changed = False
        # The plan itself is changing (a move, an added milestone): other changes wait.
        self.busy = False
        # Milestones whose completion is being stored.
        self.completing: set[str] = set()
        # A timer's transition is being stored: a move waits for it rather than being overwritten by it.
        self.firing = False

    @workflow.run
    async def run(self, start: SummitPlanStart) -> SummitPlanState:
        while True:
            # A plan runs for up to two years: it continues as new, carrying its milestones, before its
            # history grows long. Patched: a plan already long when this came must not change course.
            if self._history_is_long(start.history_limit) and workflow.patched("continue-as-new"):
                await workflow.wait_condition(
                    lambda: not self.busy and not self.completing and workflow.all_handlers_finished()
                )
                workflow.continue_as_new(
                    SummitPlanStart(
                        summit_id=self.summit_id,
                        milestones=list(self.milestones.values()),
                        history_limit=start.history_limit,
                    )
                )
            waiting = (MilestoneStatus.PLANNED, MilestoneStatus.DUE)
            pending = [m for m in self.milestones.values() if m.status in waiting]
            if not pending:
                if all(m.status is MilestoneStatus.COMPLETED for m in self.milestones.values()):
                    await workflow.wait_condition(lambda: not self.busy and workflow.all_handlers_finished())
                    if all(m.status is MilestoneStatus.COMPLETED for m in self.milestones.values()):
                        return self.state()
                    continue
                # Only overdue milestones left: nothing to time until one is completed, added or moved.
                self.changed = False
                await workflow.wait_condition(lambda: self.changed)
                continue
            first = min(pending, key=self._alarm)
            moment = self._alarm(first)
            self.changed = False
            delay = (moment - workflow.now()).total_seconds()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(lambda: self.changed, timeout=delay)
            # An update in flight (completion, move) wins over the alarm it raced with.
            await workflow.wait_condition(lambda: not self.busy and not self.completing)
            milestone = self.milestones[first.milestone_id]
            if (
                self.changed
                or milestone.status is MilestoneStatus.COMPLETED
                or self._alarm(milestone) != moment
                or workflow.now() < moment
            ):
                continue
            status = (
                MilestoneStatus.OVERDUE if milestone.status is MilestoneStatus.DUE else MilestoneStatus.DUE
            )
            self.firing = True
            try:
                await self._record(milestone.milestone_id, status, traceparent=milestone.traceparent)
            finally:
                self.firing = False

    def _history_is_long(self, limit: int) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > limit

    def _alarm(self, milestone: PlanMilestone) -> datetime:
        return milestone.warn_at if milestone.status is MilestoneStatus.PLANNED else milestone.due_at

    def _refuse(self, message: str, milestone: PlanMilestone | None = None) -> ApplicationError:
        details: dict[str, object] = (
            {"state": milestone.status.value, "allowed_actions": list(MILESTONE_ACTIONS[milestone.status])}
            if milestone
            else {"state": None, "allowed_actions": []}
        )
        return ApplicationError(message, details, type="TransitionRefused")

    @workflow.update
    async def complete(self, request: CompletePlanMilestone) -> PlanMilestone:
        self.completing.add(request.milestone_id)
        try:
            await self._record(
                request.milestone_id,
                MilestoneStatus.COMPLETED,
                completed_by=request.completed_by,
                traceparent=request.traceparent,
            )
        finally:
            self.completing.discard(request.milestone_id)
            self.changed = True
        return self.milestones[request.milestone_id]

    @complete.validator
    def validate_complete(self, request: CompletePlanMilestone) -> None:
        milestone = self.milestones.get(request.milestone_id)
        if milestone is None:
            raise ApplicationError(
                f"no milestone {request.milestone_id} in this plan", type="UnknownMilestone"
            )
        if request.milestone_id in self.completing or "complete" not in MILESTONE_ACTIONS[milestone.status]:
            raise self._refuse(f"a {milestone.status.value} milestone cannot be completed", milestone)
        if self.busy:
            raise self._refuse("the plan is changing; try again", milestone)

    @workflow.update
    async def add_milestone(self, request: AddPlanMilestone) -> PlanMilestone:
        self.busy = True
        try:
            milestone = request.milestone.model_copy(
                update={
                    "status": _status_at(request.milestone, workflow.now()),
                    "traceparent": request.traceparent,
                }
            )
            await workflow.execute_activity_method(
                SummitActivities.store_milestone,
                StoreMilestone(
                    summit_id=self.summit_id, milestone=milestone, traceparent=request.traceparent
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self.milestones[milestone.milestone_id] = milestone
            self.changed = True
        finally:
            self.busy = False
        return milestone

    @add_milestone.validator
    def validate_add_milestone(self, request: AddPlanMilestone) -> None:
        if self.busy or self.completing or self.firing:
            raise self._refuse("the plan is changing; try again")
        if request.milestone.milestone_id in self.milestones:
            raise self._refuse(f"milestone {request.milestone.milestone_id} is already planned")

    @workflow.update
    async def reschedule(self, request: RescheduleSummit) -> SummitPlanState:
        self.busy = True
        try:
            now = workflow.now()
            moved: list[PlanMilestone] = []
            for move in request.moves:
                current = self.milestones[move.milestone_id]
                if current.status is MilestoneStatus.COMPLETED:
                    continue
                updated = current.model_copy(
                    update={
                        "due_at": move.due_at,
                        "warn_at": move.warn_at,
                        "traceparent": request.traceparent,
                    }
                )
                moved.append(updated.model_copy(update={"status": _status_at(updated, now)}))
            await workflow.execute_activity_method(
                SummitActivities.store_reschedule,
                StoreReschedule(
                    summit_id=self.summit_id,
                    starts_on=request.starts_on,
                    ends_on=request.ends_on,
                    milestones=moved,
                    traceparent=request.traceparent,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            for milestone in moved:
                self.milestones[milestone.milestone_id] = milestone
            self.changed = True
        finally:
            self.busy = False
        return self.state()

    @reschedule.validator
    def validate_reschedule(self, request: RescheduleSummit) -> None:
        if self.busy or self.completing or self.firing:
            raise self._refuse("the plan is changing; try again")
        unknown = [m.milestone_id for m in request.moves if m.milestone_id not in self.milestones]
        if unknown:
            raise self._refuse(f"milestones not in this plan: {', '.join(unknown)}")

    @workflow.update
    async def move_milestone(self, request: MoveMilestone) -> PlanMilestone:
        """One milestone to a new date (the summit stays where it is); its timers follow."""
        self.busy = True
        try:
            current = self.milestones[request.milestone_id]
            updated = current.model_copy(
                update={
                    "due_at": request.due_at,
                    "warn_at": request.warn_at,
                    "traceparent": request.traceparent,
                }
            )
            moved = updated.model_copy(update={"status": _status_at(updated, workflow.now())})
            await workflow.execute_activity_method(
                SummitActivities.store_milestone_move,
                StoreMilestoneMove(
                    summit_id=self.summit_id, milestone=moved, traceparent=request.traceparent
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self.milestones[moved.milestone_id] = moved
            self.changed = True
        finally:
            self.busy = False
        return moved

    @move_milestone.validator
    def validate_move_milestone(self, request: MoveMilestone) -> None:
        milestone = self.milestones.get(request.milestone_id)
        if milestone is None:
            raise ApplicationError(
                f"no milestone {request.milestone_id} in this plan", type="UnknownMilestone"
            )
        if milestone.status is MilestoneStatus.COMPLETED:
            raise self._refuse("a completed milestone cannot be rescheduled", milestone)
        if self.busy or self.completing or self.firing:
            raise self._refuse("the plan is changing; try again", milestone)

    @workflow.query
    def state(self) -> SummitPlanState:
        ordered = sorted(self.milestones.values(), key=lambda m: m.due_at)
        return SummitPlanState(
            summit_id=self.summit_id,
            milestones=ordered,
            allowed_actions={m.milestone_id: list(MILESTONE_ACTIONS[m.status]) for m in ordered},
        )

    async def _record(
        self,
        milestone_id: str,
        status: MilestoneStatus,
        completed_by: str | None = None,
        traceparent: str | None = None,
    ) -> None:
        await workflow.execute_activity_method(
            SummitActivities.record_milestone_transition,
            MilestoneTransition(
                milestone_id=milestone_id, status=status, completed_by=completed_by, traceparent=traceparent
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        current = self.milestones[milestone_id]
        # A completion stored while a timer's transition was in flight stays the last word.
        if current.status is not MilestoneStatus.COMPLETED or status is MilestoneStatus.COMPLETED:
            self.milestones[milestone_id] = current.model_copy(update={"status": status})
