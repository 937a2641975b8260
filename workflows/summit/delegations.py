"""The delegation workflow: one per invited Member State, from the note verbale to confirmed attendance, or
until the State declines, withdraws, or lets registration close.

Each step is an Update whose validator runs the rules first (a refused step leaves no trace); an accepted
step runs one (local) activity that stores the delegation, its participants and its events in one
transaction. While the State has not registered, durable timers remind it before the deadline and expire the
invitation at it.

Places at the summit are shared by every delegation, so the activity settles them on the summit's row (an
atomic counter for a first registration, the row's lock for the rest): a registration that does not fit goes
to the waiting list, and a change that frees places moves the earliest waitlisted delegations up. The
database row is the truth; this workflow learns of a promotion from a ``promoted`` signal sent by the
workflow whose change freed the places, or, should a step come first, from the row the API read and passes
along; and should it act on a row that moved meanwhile, the activity says so and the step is taken again on
the row as it now is.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from services.common.commands import refusal, version_conflict
    from services.common.errors import Conflict, InvalidField
    from services.summit.domain.delegations import (
        ENDED,
        Delegation,
        Outcome,
        allowed_actions,
        apply,
        fire_alarm,
        next_alarm,
    )
    from services.summit.gateway import (
        DelegationCommandRequest,
        DelegationStart,
        DelegationView,
        StoreDelegationChange,
        delegation_workflow_id,
    )
    from workflows.summit.activities import DelegationActivities

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["InvalidField"],
)
# A step is retried on the row as it now is when another change (a promotion) moved it meanwhile.
STALE_RETRIES = 3
# Issue 19: a step's write runs as a local activity, inside the workflow task the Update started, instead of
# a task of its own and a second workflow task. Histories recorded before it replay the old path. A retry
# after a worker crash runs it again with the same change_id, and the store finds its change and does nothing.
LOCAL_STEP_PATCH = "delegation-step-local-activity"


# Run unsandboxed like every workflow (services/common/temporal.py): the worker spent 4.5-4.8 CPU-s instead
# of 5.5-6.6 on 193 registrations at once without the sandbox.
@workflow.defn(name="DelegationWorkflow")
class DelegationWorkflow:
    @workflow.init
    def __init__(self, start: DelegationStart) -> None:
        self.delegation = start.delegation
        self.policy = start.policy
        self.traceparent = start.traceparent
        self.lock = asyncio.Lock()
        self.changed = False
        # Delegations a change of this one moved up from the waiting list, whose workflows must be told.
        # The main loop tells them, so an Update answers as soon as its change is stored.
        self.to_tell: list[Delegation] = []

    @workflow.run
    async def run(self, start: DelegationStart) -> Delegation:
        while not self._finished():
            alarm = next_alarm(self.delegation, self.policy)
            self.changed = False
            timeout = None if alarm is None else max((alarm[0] - workflow.now()).total_seconds(), 0.001)
            try:
                await workflow.wait_condition(
                    lambda: self.changed or self._finished() or bool(self.to_tell), timeout=timeout
                )
            except TimeoutError:
                assert alarm is not None
                async with self.lock:
                    outcome = fire_alarm(self.delegation, alarm[1], workflow.now(), self.policy)
                    if outcome is not None:
                        await self._store(outcome, self.traceparent)
            await self._tell_promoted()
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._tell_promoted()
                workflow.continue_as_new(
                    DelegationStart(
                        delegation=self.delegation, policy=self.policy, traceparent=self.traceparent
                    )
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._tell_promoted()
        return self.delegation

    @workflow.update
    async def act(self, request: DelegationCommandRequest) -> DelegationView:
        async with self.lock:
            self.policy = request.policy
            if request.stored is not None:
                self._adopt(request.stored)
            for _ in range(STALE_RETRIES):
                try:
                    outcome = apply(
                        self.delegation, request.command, request.actor, workflow.now(), request.policy
                    )
                except (Conflict, InvalidField) as exc:
                    raise refusal(exc) from None
                if await self._store(outcome, request.traceparent):
                    break
            else:
                raise ApplicationError(f"delegation {self.delegation.delegation_id} kept changing; try again")
            return DelegationView(
                delegation=self.delegation, allowed_actions=allowed_actions(self.delegation, request.actor)
            )

    @act.validator
    def validate_act(self, request: DelegationCommandRequest) -> None:
        current = self.delegation
        if request.stored is not None and request.stored.version > current.version:
            current = request.stored
        if request.expected_version is not None and request.expected_version != current.version:
            raise version_conflict(current.version, request.expected_version, current.status.value)
        try:
            apply(current, request.command, request.actor, workflow.now(), request.policy)
        except (Conflict, InvalidField) as exc:
            raise refusal(exc) from None

    @workflow.signal
    def promoted(self, delegation: Delegation) -> None:
        """Another delegation's change moved this one up from the waiting list (already stored)."""
        self._adopt(delegation)

    @workflow.query
    def view(self) -> Delegation:
        return self.delegation

    def _finished(self) -> bool:
        return self.delegation.status in ENDED

    def _adopt(self, delegation: Delegation) -> None:
        # Versions only grow: a promotion signal and an activity's answer may arrive in either order.
        if delegation.version > self.delegation.version:
            self.delegation = delegation
            self.changed = True

    async def _store(self, outcome: Outcome, traceparent: str | None) -> bool:
        change = StoreDelegationChange(
            change_id=str(workflow.uuid4()),
            base_version=self.delegation.version,
            outcome=outcome,
            traceparent=traceparent,
        )
        try:
            if workflow.patched(LOCAL_STEP_PATCH):
                stored = await workflow.execute_local_activity_method(
                    DelegationActivities.store_delegation_change,
                    change,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=ACTIVITY_RETRY,
                )
            else:
                stored = await workflow.execute_activity_method(
                    DelegationActivities.store_delegation_change,
                    change,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=ACTIVITY_RETRY,
                )
        except ActivityError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == "InvalidField":
                # Refused on what only the database knows (places left): nothing was written.
                raise ApplicationError(cause.message, *cause.details, type="InvalidField") from None
            raise
        self._adopt(stored.delegation)
        self.to_tell.extend(d for d in stored.promoted if d.delegation_id != self.delegation.delegation_id)
        return stored.applied

    async def _tell_promoted(self) -> None:
        promoted, self.to_tell = self.to_tell, []
        await asyncio.gather(*(self._tell(d) for d in promoted))

    async def _tell(self, delegation: Delegation) -> None:
        handle = workflow.get_external_workflow_handle(delegation_workflow_id(delegation.delegation_id))
        try:
            await handle.signal(DelegationWorkflow.promoted, delegation)
        except FailureError:
            # Its workflow is gone: the row is the truth and the API reads the row.
            workflow.logger.warning("promoted delegation %s has no workflow", delegation.delegation_id)
