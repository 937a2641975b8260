"""The milestone workflow's timers over weeks, under Temporal's time-skipping test server, and replay of
its history to catch non-determinism."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from services.summit.domain.plan import MilestoneStatus
from services.summit.gateway import (
    CompleteMilestone,
    MilestonePlan,
    MilestoneState,
    MilestoneTransition,
)
from tests.workflows.recording import record_history
from workflows.summit.workflows import MilestoneWorkflow


class Recorder:
    """Stands in for the real activity (same name), recording what the workflow asked to write."""

    def __init__(self) -> None:
        self.transitions: list[MilestoneStatus] = []

    @activity.defn(name="record_milestone_transition")
    async def record(self, transition: MilestoneTransition) -> None:
        self.transitions.append(transition.status)


async def _reaches(
    handle: WorkflowHandle[MilestoneWorkflow, MilestoneState], status: MilestoneStatus
) -> None:
    """The timer has fired once the workflow's state says so (its activity runs just after)."""
    for _ in range(200):
        if (await handle.query(MilestoneWorkflow.state)).status is status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"workflow never reached {status}")


async def _plan(env: WorkflowEnvironment, due_in: timedelta, warn_before: timedelta) -> MilestonePlan:
    now = await env.get_current_time()
    return MilestonePlan(
        milestone_id=str(uuid.uuid4()),
        summit_id="UNCOPS-III",
        title="Registration closes",
        due_at=now + due_in,
        warn_at=now + due_in - warn_before,
    )


async def test_thirty_day_milestone_warns_then_goes_overdue_then_completes(env: WorkflowEnvironment) -> None:
    recorder = Recorder()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[MilestoneWorkflow], activities=[recorder.record]
    ):
        plan = await _plan(env, timedelta(days=30), timedelta(days=14))
        handle = await env.client.start_workflow(
            MilestoneWorkflow.run, plan, id=f"m-{plan.milestone_id}", task_queue=queue
        )
        await env.sleep(timedelta(days=15))  # the warning is due on day 16
        assert recorder.transitions == []
        await env.sleep(timedelta(days=2))
        await _reaches(handle, MilestoneStatus.DUE)
        assert recorder.transitions == [MilestoneStatus.DUE]
        await env.sleep(timedelta(days=14))  # day 31: past due
        await _reaches(handle, MilestoneStatus.OVERDUE)
        assert recorder.transitions == [MilestoneStatus.DUE, MilestoneStatus.OVERDUE]

        state = await handle.execute_update(
            MilestoneWorkflow.complete, CompleteMilestone(completed_by="planner-1")
        )
        assert state.status is MilestoneStatus.COMPLETED
        result = await handle.result()
        assert result.status is MilestoneStatus.COMPLETED and result.allowed_actions == []
        assert recorder.transitions == [
            MilestoneStatus.DUE,
            MilestoneStatus.OVERDUE,
            MilestoneStatus.COMPLETED,
        ]

        # The same history replays without non-determinism.
        history = await handle.fetch_history()
        await Replayer(workflows=[MilestoneWorkflow], data_converter=pydantic_data_converter).replay_workflow(
            history
        )


async def test_completed_early_milestone_never_warns(env: WorkflowEnvironment) -> None:
    recorder = Recorder()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[MilestoneWorkflow], activities=[recorder.record]
    ):
        plan = await _plan(env, timedelta(days=30), timedelta(days=14))
        handle = await env.client.start_workflow(
            MilestoneWorkflow.run, plan, id=f"m-{plan.milestone_id}", task_queue=queue
        )
        await env.sleep(timedelta(days=3))
        await handle.execute_update(MilestoneWorkflow.complete, CompleteMilestone(completed_by="planner-1"))
        assert (await handle.result()).status is MilestoneStatus.COMPLETED
        await env.sleep(timedelta(days=40))
        assert recorder.transitions == [MilestoneStatus.COMPLETED]


class SlowRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    @activity.defn(name="record_milestone_transition")
    async def record(self, transition: MilestoneTransition) -> None:
        await self.release.wait()
        self.transitions.append(transition.status)


async def test_concurrent_second_completion_is_refused_without_a_trace(env: WorkflowEnvironment) -> None:
    recorder = SlowRecorder()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[MilestoneWorkflow], activities=[recorder.record]
    ):
        plan = await _plan(env, timedelta(days=30), timedelta(days=14))
        handle = await env.client.start_workflow(
            MilestoneWorkflow.run, plan, id=f"m-{plan.milestone_id}", task_queue=queue
        )
        first = await handle.start_update(
            MilestoneWorkflow.complete,
            CompleteMilestone(completed_by="planner-1"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                MilestoneWorkflow.complete, CompleteMilestone(completed_by="planner-2")
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "TransitionRefused"
        recorder.release.set()
        assert (await first.result()).status is MilestoneStatus.COMPLETED
        assert (await handle.result()).status is MilestoneStatus.COMPLETED
        # The validator refused it before anything reached the history: one update accepted, none other.
        history = await handle.fetch_history()
        updates = [e for e in history.events if "UPDATE" in EventType.Name(e.event_type)]
        assert [EventType.Name(e.event_type) for e in updates] == [
            "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED",
            "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED",
        ]
        assert recorder.transitions == [MilestoneStatus.COMPLETED]
        # Once closed, the workflow takes no update at all.
        with pytest.raises((WorkflowUpdateFailedError, RPCError)):
            await handle.execute_update(
                MilestoneWorkflow.complete, CompleteMilestone(completed_by="planner-3")
            )


@activity.defn(name="record_milestone_transition")
async def ignore_milestone_transition(transition: MilestoneTransition) -> None:
    return None


async def test_a_milestone_that_warns_goes_overdue_and_completes_can_be_recorded(
    env: WorkflowEnvironment,
) -> None:
    queue = f"test-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[MilestoneWorkflow], activities=[ignore_milestone_transition]
    ):
        now = await env.get_current_time()
        plan = MilestonePlan(
            milestone_id=str(uuid.uuid4()),
            summit_id="UNCOPS-III",
            title="Invitations out",
            due_at=now + timedelta(days=20),
            warn_at=now + timedelta(days=10),
        )
        handle = await env.client.start_workflow(
            MilestoneWorkflow.run, plan, id=f"m-{plan.milestone_id}", task_queue=queue
        )
        await env.sleep(timedelta(days=21))  # warned, then overdue
        await handle.execute_update(MilestoneWorkflow.complete, CompleteMilestone(completed_by="planner-1"))
        assert (await handle.result()).status.value == "completed"
        await record_history(handle, "milestone_warns_overdue_completes")
