"""The summit plan workflow over the months before and after a summit, under Temporal's time-skipping test
server: every template milestone warns then goes overdue, completions stop their timers, a move of the
summit re-plans what is pending, one milestone moved by date warns at its new time, and a milestone added
later is timed like the others."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.summit.domain.plan import MilestoneStatus, plan_from_template, warning_time
from services.summit.gateway import (
    AddPlanMilestone,
    CompletePlanMilestone,
    MilestoneMove,
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
from tests.workflows.recording import record_history
from uncops_contracts.policies import SummitPolicy
from workflows.summit.workflows import SummitPlanWorkflow

Handle = WorkflowHandle[SummitPlanWorkflow, SummitPlanState]


class Store:
    """Stands in for the activities (same names), recording what the workflow asked to write and when."""

    def __init__(self, env: WorkflowEnvironment) -> None:
        self.env = env
        self.transitions: list[tuple[str, MilestoneStatus, datetime]] = []
        self.added: list[str] = []
        self.moves: list[StoreReschedule] = []
        self.moved: list[PlanMilestone] = []

    @activity.defn(name="record_milestone_transition")
    async def record(self, transition: MilestoneTransition) -> None:
        now = await self.env.get_current_time()
        self.transitions.append((transition.milestone_id, transition.status, now))

    @activity.defn(name="store_milestone")
    async def store_milestone(self, request: StoreMilestone) -> None:
        self.added.append(request.milestone.milestone_id)

    @activity.defn(name="store_reschedule")
    async def store_reschedule(self, request: StoreReschedule) -> None:
        self.moves.append(request)

    @activity.defn(name="store_milestone_move")
    async def store_milestone_move(self, request: StoreMilestoneMove) -> None:
        self.moved.append(request.milestone)

    def of(self, milestone_id: str) -> list[MilestoneStatus]:
        return [status for mid, status, _ in self.transitions if mid == milestone_id]


def _plan(now: datetime, starts_on: date) -> list[PlanMilestone]:
    policy = SummitPolicy()
    return [
        PlanMilestone(
            milestone_id=f"m-{planned.key}",
            key=planned.key,
            title=planned.title,
            owner=planned.owner,
            due_at=planned.due_at,
            warn_at=warning_time(planned.due_at, planned.warn_before, now),
        )
        for planned in plan_from_template(policy.milestones, starts_on, starts_on + timedelta(days=1))
    ]


async def _state(handle: Handle) -> dict[str, MilestoneStatus]:
    return {m.milestone_id: m.status for m in (await handle.query(SummitPlanWorkflow.state)).milestones}


async def _until(handle: Handle, milestone_id: str, status: MilestoneStatus) -> None:
    for _ in range(400):
        if (await _state(handle))[milestone_id] is status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{milestone_id} never reached {status}")


async def _start(
    env: WorkflowEnvironment, store: Store, queue: str, starts_in_days: int
) -> tuple[Handle, list[PlanMilestone]]:
    now = await env.get_current_time()
    milestones = _plan(now, (now + timedelta(days=starts_in_days)).date())
    handle = await env.client.start_workflow(
        SummitPlanWorkflow.run,
        SummitPlanStart(summit_id="UNCOPS-III", milestones=milestones),
        id=f"summit-plan-{uuid.uuid4()}",
        task_queue=queue,
    )
    return handle, milestones


def _worker(env: WorkflowEnvironment, store: Store, queue: str) -> Worker:
    return Worker(
        env.client,
        task_queue=queue,
        workflows=[SummitPlanWorkflow],
        activities=[store.record, store.store_milestone, store.store_reschedule, store.store_milestone_move],
    )


async def test_every_milestone_warns_then_goes_overdue_until_the_plan_ends(env: WorkflowEnvironment) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with _worker(env, store, queue):
        handle, milestones = await _start(env, store, queue, starts_in_days=150)
        first, second = milestones[0], milestones[1]
        assert first.key == "invitations_sent" and second.key == "registration_opens"

        # Skip to the first milestone's warning: only it warns; the rest stay planned.
        await env.sleep(first.warn_at - await env.get_current_time() + timedelta(minutes=1))
        await _until(handle, first.milestone_id, MilestoneStatus.DUE)
        assert [s for _, s, _ in store.transitions] == [MilestoneStatus.DUE]
        _, _, warned_at = store.transitions[0]
        assert abs(warned_at - first.warn_at) < timedelta(minutes=2)

        # Completed before it falls due: no overdue for it, ever.
        done = await handle.execute_update(
            SummitPlanWorkflow.complete,
            CompletePlanMilestone(milestone_id=first.milestone_id, completed_by="p"),
        )
        assert done.status is MilestoneStatus.COMPLETED
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                SummitPlanWorkflow.complete,
                CompletePlanMilestone(milestone_id=first.milestone_id, completed_by="p"),
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.details[0] == {"state": "completed", "allowed_actions": []}

        # Let the second go overdue.
        await env.sleep(second.due_at - await env.get_current_time() + timedelta(minutes=1))
        await _until(handle, second.milestone_id, MilestoneStatus.OVERDUE)
        assert store.of(second.milestone_id) == [MilestoneStatus.DUE, MilestoneStatus.OVERDUE]
        assert store.of(first.milestone_id) == [MilestoneStatus.DUE, MilestoneStatus.COMPLETED]

        # Over the following year every other milestone warns and goes overdue, each once.
        last = milestones[-1]
        await env.sleep(last.due_at - await env.get_current_time() + timedelta(days=1))
        await _until(handle, last.milestone_id, MilestoneStatus.OVERDUE)
        for milestone in milestones[1:]:
            assert store.of(milestone.milestone_id) == [MilestoneStatus.DUE, MilestoneStatus.OVERDUE]

        # The plan ends when the last milestone is completed.
        for milestone in milestones[1:]:
            await handle.execute_update(
                SummitPlanWorkflow.complete,
                CompletePlanMilestone(milestone_id=milestone.milestone_id, completed_by="p"),
            )
        final = await handle.result()
        assert {m.status for m in final.milestones} == {MilestoneStatus.COMPLETED}


async def test_moving_the_summit_replans_pending_milestones(env: WorkflowEnvironment) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with _worker(env, store, queue):
        handle, milestones = await _start(env, store, queue, starts_in_days=125)
        invitations = milestones[0]  # due 5 days from now, warned already
        await _until(handle, invitations.milestone_id, MilestoneStatus.DUE)
        await env.sleep(invitations.due_at - await env.get_current_time() + timedelta(hours=1))
        await _until(handle, invitations.milestone_id, MilestoneStatus.OVERDUE)

        # The summit moves 60 days later: the overdue milestone is planned again, with a new warning.
        now = await env.get_current_time()
        moves = [
            MilestoneMove(
                milestone_id=m.milestone_id,
                due_at=m.due_at + timedelta(days=60),
                warn_at=warning_time(m.due_at + timedelta(days=60), m.due_at - m.warn_at, now),
            )
            for m in milestones
        ]
        new_start = (now + timedelta(days=125 + 60)).date()
        state = await handle.execute_update(
            SummitPlanWorkflow.reschedule,
            RescheduleSummit(
                starts_on=new_start, ends_on=new_start + timedelta(days=1), moves=moves, requested_by="p"
            ),
        )
        statuses = {m.milestone_id: m.status for m in state.milestones}
        assert statuses[invitations.milestone_id] is MilestoneStatus.PLANNED
        assert len(store.moves) == 1 and len(store.moves[0].milestones) == len(milestones)

        # Its old due date passes quietly; it warns again at the new time.
        moved = moves[0]
        await env.sleep(moved.warn_at - await env.get_current_time() - timedelta(days=1))
        assert store.of(invitations.milestone_id) == [MilestoneStatus.DUE, MilestoneStatus.OVERDUE]
        await env.sleep(timedelta(days=2))
        await _until(handle, invitations.milestone_id, MilestoneStatus.DUE)
        assert store.of(invitations.milestone_id) == [
            MilestoneStatus.DUE,
            MilestoneStatus.OVERDUE,
            MilestoneStatus.DUE,
        ]
        # Left running, its timers would hold the test server's clock once this worker is gone.
        await handle.terminate("test over")


async def test_one_milestone_moved_by_date_warns_at_its_new_time_and_a_completed_one_stays(
    env: WorkflowEnvironment,
) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with _worker(env, store, queue):
        handle, milestones = await _start(env, store, queue, starts_in_days=300)
        programme = next(m for m in milestones if m.key == "programme_final")
        now = await env.get_current_time()
        # Brought forward to 20 days from now, warned 5 days before: the summit itself stays.
        moved = await handle.execute_update(
            SummitPlanWorkflow.move_milestone,
            MoveMilestone(
                milestone_id=programme.milestone_id,
                due_at=now + timedelta(days=20),
                warn_at=now + timedelta(days=15),
                requested_by="p",
            ),
        )
        assert moved.status is MilestoneStatus.PLANNED and moved.due_at == now + timedelta(days=20)
        assert [m.milestone_id for m in store.moved] == [programme.milestone_id]
        await env.sleep(timedelta(days=16))
        await _until(handle, programme.milestone_id, MilestoneStatus.DUE)
        await env.sleep(timedelta(days=5))
        await _until(handle, programme.milestone_id, MilestoneStatus.OVERDUE)

        await handle.execute_update(
            SummitPlanWorkflow.complete,
            CompletePlanMilestone(milestone_id=programme.milestone_id, completed_by="p"),
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                SummitPlanWorkflow.move_milestone,
                MoveMilestone(
                    milestone_id=programme.milestone_id,
                    due_at=now + timedelta(days=90),
                    warn_at=now + timedelta(days=80),
                    requested_by="p",
                ),
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.details[0] == {"state": "completed", "allowed_actions": []}
        with pytest.raises(WorkflowUpdateFailedError) as unknown:
            await handle.execute_update(
                SummitPlanWorkflow.move_milestone,
                MoveMilestone(milestone_id="m-none", due_at=now, warn_at=now, requested_by="p"),
            )
        assert isinstance(unknown.value.cause, ApplicationError)
        assert unknown.value.cause.type == "UnknownMilestone"
        assert len(store.moved) == 1  # a refused move writes nothing
        await handle.terminate("test over")


async def test_a_milestone_added_later_is_timed_and_unknown_ones_are_refused(
    env: WorkflowEnvironment,
) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with _worker(env, store, queue):
        handle, _ = await _start(env, store, queue, starts_in_days=400)
        now = await env.get_current_time()
        extra = PlanMilestone(
            milestone_id="m-award",
            title="Nominations for the UN Policewoman of the Year award close",
            due_at=now + timedelta(days=20),
            warn_at=now + timedelta(days=10),
        )
        added = await handle.execute_update(
            SummitPlanWorkflow.add_milestone, AddPlanMilestone(milestone=extra)
        )
        assert added.status is MilestoneStatus.PLANNED and store.added == ["m-award"]
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(SummitPlanWorkflow.add_milestone, AddPlanMilestone(milestone=extra))
        with pytest.raises(WorkflowUpdateFailedError) as unknown:
            await handle.execute_update(
                SummitPlanWorkflow.complete, CompletePlanMilestone(milestone_id="m-none", completed_by="p")
            )
        assert isinstance(unknown.value.cause, ApplicationError)
        assert unknown.value.cause.type == "UnknownMilestone"

        await env.sleep(timedelta(days=21))
        await _until(handle, "m-award", MilestoneStatus.OVERDUE)
        assert store.of("m-award") == [MilestoneStatus.DUE, MilestoneStatus.OVERDUE]
        await handle.terminate("test over")


async def test_a_long_plan_continues_as_new_with_its_milestones(env: WorkflowEnvironment) -> None:
    """A plan past its history limit continues as new, carrying every milestone as it stands; the histories
    recorded for replay (histories/summit_plan_*.json) are its first run, which ends so, and its last."""
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with _worker(env, store, queue):
        now = await env.get_current_time()
        invitations = PlanMilestone(
            milestone_id="m-a",
            title="Invitations sent",
            due_at=now + timedelta(days=10),
            warn_at=now + timedelta(days=5),
        )
        registration = PlanMilestone(
            milestone_id="m-b",
            title="Registration closes",
            due_at=now + timedelta(days=60),
            warn_at=now + timedelta(days=40),
        )
        workflow_id = f"summit-plan-{uuid.uuid4()}"
        latest = await env.client.start_workflow(  # its handle follows whichever run is current
            SummitPlanWorkflow.run,
            SummitPlanStart(summit_id="UNCOPS-III", milestones=[invitations, registration], history_limit=34),
            id=workflow_id,
            task_queue=queue,
        )
        first = env.client.get_workflow_handle(workflow_id, run_id=latest.first_execution_run_id)

        # A timer warns, an Update completes, another adds a milestone: the history passes its limit.
        await env.sleep(timedelta(days=5, hours=1))
        await _until(latest, "m-a", MilestoneStatus.DUE)
        await latest.execute_update(
            SummitPlanWorkflow.complete, CompletePlanMilestone(milestone_id="m-a", completed_by="p")
        )
        side_events = PlanMilestone(
            milestone_id="m-c",
            title="Side events chosen",
            due_at=now + timedelta(days=30),
            warn_at=now + timedelta(days=20),
        )
        await latest.execute_update(SummitPlanWorkflow.add_milestone, AddPlanMilestone(milestone=side_events))
        for _ in range(400):
            if (await first.describe()).status is WorkflowExecutionStatus.CONTINUED_AS_NEW:
                break
            await asyncio.sleep(0.05)
        else:
            events = (await first.fetch_history()).events
            raise AssertionError(f"the plan never continued as new ({len(events)} events)")
        carried = (await latest.query(SummitPlanWorkflow.state)).milestones
        assert [(m.milestone_id, m.status) for m in carried] == [
            ("m-a", MilestoneStatus.COMPLETED),
            ("m-c", MilestoneStatus.PLANNED),
            ("m-b", MilestoneStatus.PLANNED),
        ]

        # The new run times what it carried, and takes the next Updates.
        moves = [
            MilestoneMove(
                milestone_id=m.milestone_id,
                due_at=m.due_at + timedelta(days=7),
                warn_at=m.warn_at + timedelta(days=7),
            )
            for m in (registration, side_events)
        ]
        starts_on = (now + timedelta(days=97)).date()
        await latest.execute_update(
            SummitPlanWorkflow.reschedule,
            RescheduleSummit(
                starts_on=starts_on, ends_on=starts_on + timedelta(days=1), moves=moves, requested_by="p"
            ),
        )
        await env.sleep(side_events.due_at + timedelta(days=7, hours=1) - await env.get_current_time())
        await _until(latest, "m-c", MilestoneStatus.OVERDUE)
        await env.sleep(registration.due_at + timedelta(days=7, hours=1) - await env.get_current_time())
        await _until(latest, "m-b", MilestoneStatus.OVERDUE)
        for milestone_id in ("m-b", "m-c"):
            await latest.execute_update(
                SummitPlanWorkflow.complete,
                CompletePlanMilestone(milestone_id=milestone_id, completed_by="p"),
            )
        final = await latest.result()
        assert {m.status for m in final.milestones} == {MilestoneStatus.COMPLETED}
        assert store.of("m-a") == [MilestoneStatus.DUE, MilestoneStatus.COMPLETED]
        assert store.of("m-c") == [MilestoneStatus.DUE, MilestoneStatus.OVERDUE, MilestoneStatus.COMPLETED]
        assert store.of("m-b") == [MilestoneStatus.DUE, MilestoneStatus.OVERDUE, MilestoneStatus.COMPLETED]
        assert store.added == ["m-c"] and len(store.moves) == 1
        await record_history(first, "summit_plan_continues_as_new")
        await record_history(latest, "summit_plan_completes_after_continuing")
