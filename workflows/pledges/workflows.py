"""The pledge workflow: one per pledge, from submission to fulfilment, lapse or withdrawal.

Each step is a workflow Update whose validator runs the lifecycle rules first (a refused step leaves no
trace); an accepted step runs one local activity that stores the pledge and its events in one transaction.
After acceptance, durable timers remind the State before a report is due, mark it overdue after, and lapse
an unfulfilled pledge at its target date plus the grace period.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.common.commands import refusal, version_conflict
    from services.common.errors import Conflict, InvalidField
    from services.pledges.domain.pledge import ENDED, Pledge, allowed_actions, apply, fire_alarm, next_alarm
    from services.pledges.gateway import PledgeCommandRequest, PledgeStart, PledgeView, StorePledgeChange
    from workflows.pledges.activities import PledgeActivities

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
LOCAL_STORE = "store-as-local-activity"


@workflow.defn(name="PledgeWorkflow")
class PledgeWorkflow:
    @workflow.init
    def __init__(self, start: PledgeStart) -> None:
        self.pledge = start.pledge
        self.policy = start.policy
        self.lock = asyncio.Lock()
        self.changed = False

    @workflow.run
    async def run(self, start: PledgeStart) -> Pledge:
        while not self._finished():
            alarm = next_alarm(self.pledge, self.policy)
            self.changed = False
            timeout = None if alarm is None else max((alarm[0] - workflow.now()).total_seconds(), 0.001)
            try:
                await workflow.wait_condition(lambda: self.changed or self._finished(), timeout=timeout)
            except TimeoutError:
                assert alarm is not None
                async with self.lock:
                    outcome = fire_alarm(self.pledge, alarm[1], workflow.now(), self.policy)
                    if outcome is not None:
                        await self._store(StorePledgeChange(outcome=outcome, policy=self.policy))
            if self._history_is_long(start.history_limit):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    PledgeStart(pledge=self.pledge, policy=self.policy, history_limit=start.history_limit)
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.pledge

    @workflow.update
    async def act(self, request: PledgeCommandRequest) -> PledgeView:
        async with self.lock:
            try:
                outcome = apply(self.pledge, request.command, request.actor, workflow.now(), request.policy)
            except (Conflict, InvalidField) as exc:
                raise refusal(exc) from None
            await self._store(
                StorePledgeChange(outcome=outcome, policy=request.policy, traceparent=request.traceparent)
            )
            self.policy = request.policy
            return PledgeView(pledge=self.pledge, allowed_actions=allowed_actions(self.pledge, request.actor))

    @act.validator
    def validate_act(self, request: PledgeCommandRequest) -> None:
        if request.expected_version is not None and request.expected_version != self.pledge.version:
            raise version_conflict(self.pledge.version, request.expected_version, self.pledge.status.value)
        try:
            apply(self.pledge, request.command, request.actor, workflow.now(), request.policy)
        except (Conflict, InvalidField) as exc:
            raise refusal(exc) from None

    @workflow.query
    def view(self) -> Pledge:
        return self.pledge

    def _finished(self) -> bool:
        return self.pledge.status in ENDED

    def _history_is_long(self, limit: int) -> bool:
        info = workflow.info()
        # Patched: a pledge whose history was already past the limit when this came must not change course.
        return info.is_continue_as_new_suggested() or (
            info.get_current_history_length() > limit and workflow.patched("continue-as-new-by-length")
        )

    async def _store(self, change: StorePledgeChange) -> None:
        if workflow.patched(LOCAL_STORE):
            # A local activity, as the case workflow's (see there): one workflow task per step.
            stored = await workflow.execute_local_activity_method(
                PledgeActivities.store_pledge_change,
                change,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self.pledge = stored or change.outcome.pledge
        else:  # histories recorded before: an ordinary activity
            await workflow.execute_activity_method(
                PledgeActivities.store_pledge_change,
                change,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self.pledge = change.outcome.pledge
        self.changed = True
