"""The case workflow: one per case, from referral to closure.

Every change is a workflow Update whose validator runs the domain rules first, so a refused change is
answered (409 or 422) and leaves no trace; an accepted change runs one local activity that stores the new
state, its audit entry and its events in one database transaction. Deadlines are durable timers: the workflow
sleeps until the next warning point or due date, across restarts, for days or months.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.cases.domain.case import Case, allowed_actions
    from services.cases.domain.deadlines import next_alarm
    from services.cases.domain.lifecycle import apply, fire_alarm
    from services.cases.gateway import CaseCommandRequest, CaseStart, CaseView, StoreChange
    from services.common.actor import Actor
    from services.common.commands import refusal, version_conflict
    from services.common.errors import Conflict, InvalidField
    from workflows.cases.activities import CaseActivities

SYSTEM = Actor(subject="uncops-deadlines", role="system")
ACTIVITY_TIMEOUT = timedelta(seconds=30)
REOPEN_WINDOW = timedelta(minutes=5)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
LOCAL_STORE = "store-as-local-activity"


@workflow.defn(name="CaseWorkflow")
class CaseWorkflow:
    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        self.case = start.case
        self.policy = start.policy
        self.lock = asyncio.Lock()
        self.changed = False

    @workflow.run
    async def run(self, start: CaseStart) -> Case:
        if self.case.ended:
            # Started to take a reopening (or another step allowed on a closed case): wait for it briefly.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: not self.case.ended or self.changed, timeout=REOPEN_WINDOW
                )
        while not self.case.ended:
            alarm = next_alarm(self.case.deadlines)
            self.changed = False
            timeout = None if alarm is None else max((alarm[0] - workflow.now()).total_seconds(), 0.001)
            try:
                await workflow.wait_condition(lambda: self.changed or self.case.ended, timeout=timeout)
            except TimeoutError:
                assert alarm is not None
                async with self.lock:
                    _, deadline, phase = alarm
                    outcome = fire_alarm(self.case, deadline.kind, phase, workflow.now(), self.policy)
                    if outcome is not None:
                        await self._store(StoreChange(outcome=outcome, actor=SYSTEM, policy=self.policy))
            if self._history_is_long(start.history_limit):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    CaseStart(case=self.case, policy=self.policy, history_limit=start.history_limit)
                )
        # A closed case's workflow ends; reopening starts a new run from the stored case.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.case

    @workflow.update
    async def act(self, request: CaseCommandRequest) -> CaseView:
        async with self.lock:
            try:
                outcome = apply(self.case, request.command, request.actor, workflow.now(), request.policy)
            except (Conflict, InvalidField) as exc:
                # The state moved between validation and now (a concurrent change): refuse the same way.
                raise refusal(exc) from None
            await self._store(
                StoreChange(
                    outcome=outcome,
                    actor=request.actor,
                    policy=request.policy,
                    traceparent=request.traceparent,
                    victim_identity_ciphertext=request.victim_identity_ciphertext,
                )
            )
            self.policy = request.policy  # the policy in force now governs the deadlines opened from here on
            return CaseView(case=self.case, allowed_actions=allowed_actions(self.case, request.actor))

    @act.validator
    def validate_act(self, request: CaseCommandRequest) -> None:
        if request.expected_version is not None and request.expected_version != self.case.version:
            raise version_conflict(self.case.version, request.expected_version, self.case.status.value)
        try:
            apply(self.case, request.command, request.actor, workflow.now(), request.policy)
        except (Conflict, InvalidField) as exc:
            raise refusal(exc) from None

    @workflow.query
    def view(self) -> Case:
        return self.case

    def _history_is_long(self, limit: int) -> bool:
        info = workflow.info()
        # Patched: a case whose history was already past the limit when this came must not change course.
        return info.is_continue_as_new_suggested() or (
            info.get_current_history_length() > limit and workflow.patched("continue-as-new-by-length")
        )

    async def _store(self, change: StoreChange) -> None:
        if workflow.patched(LOCAL_STORE):
            # A local activity: the write runs inside the workflow task that accepted the step, so a step
            # costs one workflow task instead of two plus an activity task (issue 19). Should the worker die
            # after the commit and before the task completes, the task runs again and so does the write,
            # which then finds the change stored and answers the case as stored: applied once.
            stored = await workflow.execute_local_activity_method(
                CaseActivities.store_case_change,
                change,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self.case = stored or change.outcome.case
        else:  # histories recorded before: an ordinary activity
            await workflow.execute_activity_method(
                CaseActivities.store_case_change,
                change,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self.case = change.outcome.case
        self.changed = True
