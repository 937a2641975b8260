"""The delegation workflow under Temporal's time-skipping test server: reminders 14 and 3 days before the
registration deadline, expiry at it, the deadline refusing the State but not the secretariat; a promotion
from the waiting list reaching the promoted delegation's workflow; a step taken again on a row that moved;
refused steps leaving no trace; replay of the history."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from services.summit.domain.delegations import (
    Accredit,
    Actor,
    Confirm,
    Delegation,
    Register,
    StartReview,
    Withdraw,
)
from services.summit.gateway import (
    DelegationCommandRequest,
    DelegationStart,
    StoredDelegationChange,
    StoreDelegationChange,
    delegation_workflow_id,
)
from tests.workflows.recording import record_history
from uncops_contracts.policies import SummitPolicy
from uncops_contracts.summit import DelegationStatus
from workflows.summit.delegations import DelegationWorkflow

POLICY = SummitPolicy()  # reminders 14 and 3 days before the deadline
GHANA = Actor(subject="fp-gha", role="state_focal_point", member_state="GHA")
PLANNER = Actor(subject="planner-1", role="planner")
PROOF = {
    "file_name": "credentials.pdf",
    "media_type": "application/pdf",
    "size_bytes": 1200,
    "sha256": "b" * 64,
}

Handle = WorkflowHandle[DelegationWorkflow, Delegation]


class FakeStore:
    """Stands in for the real activity (same name) with rows in memory: a change applies only on the version
    it was computed from, and may be told to promote other delegations, as the database does."""

    def __init__(self) -> None:
        self.rows: dict[str, Delegation] = {}
        self.changes: list[StoreDelegationChange] = []
        self.promote_on: dict[tuple[str, str], list[str]] = {}  # (delegation, action) -> promoted ids

    @activity.defn(name="store_delegation_change")
    async def store(self, change: StoreDelegationChange) -> StoredDelegationChange:
        self.changes.append(change)
        wanted = change.outcome.delegation
        row = self.rows[wanted.delegation_id]
        if row.version != change.base_version:
            return StoredDelegationChange(applied=False, delegation=row)
        self.rows[wanted.delegation_id] = wanted
        promoted = []
        for other in self.promote_on.pop((wanted.delegation_id, change.outcome.action), []):
            moved = self.rows[other].model_copy(
                update={"status": DelegationStatus.REGISTERED, "version": self.rows[other].version + 1}
            )
            self.rows[other] = moved
            promoted.append(moved)
        return StoredDelegationChange(applied=True, delegation=wanted, promoted=promoted)

    def actions(self, delegation_id: str) -> list[str]:
        return [c.outcome.action for c in self.changes if c.outcome.delegation.delegation_id == delegation_id]


def registration(members: int = 3) -> Register:
    return Register.model_validate(
        {
            "head": {
                "full_name": "Ama Mensah",
                "function": "Inspector-General of Police",
                "languages": ["en"],
                "head_of_delegation": "chief_of_police",
            },
            "members": [
                {"full_name": f"Officer {n}", "function": "Adviser", "languages": ["fr"]}
                for n in range(members)
            ],
            "proof_document": PROOF,
        }
    )


async def start(
    env: WorkflowEnvironment,
    store: FakeStore,
    queue: str,
    deadline_in: timedelta = timedelta(days=30),
    status: DelegationStatus = DelegationStatus.INVITED,
) -> Handle:
    now = await env.get_current_time()
    delegation = Delegation(
        delegation_id=str(uuid.uuid4()),
        summit_id="UNCOPS-III",
        member_state="GHA",
        status=status,
        members=0 if status is DelegationStatus.INVITED else 4,
        note_verbale="PD/2030/GHA",
        invited_at=now,
        registration_deadline=now + deadline_in,
    )
    store.rows[delegation.delegation_id] = delegation
    return await env.client.start_workflow(
        DelegationWorkflow.run,
        DelegationStart(delegation=delegation, policy=POLICY),
        id=delegation_workflow_id(delegation.delegation_id),
        task_queue=queue,
    )


async def act(handle: Handle, command: Any, actor: Actor = GHANA, **extra: Any) -> Delegation:
    request = DelegationCommandRequest(command=command, actor=actor, policy=POLICY, **extra)
    return (await handle.execute_update(DelegationWorkflow.act, request)).delegation


async def reaches(handle: Handle, check: Callable[[Delegation], bool], what: str) -> Delegation:
    """A timer has fired once the workflow's view shows it (its activity has run by then)."""
    view = None
    for _ in range(400):
        view = await handle.query(DelegationWorkflow.view)
        if check(view):
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"the workflow never showed {what}; last view: {view!r}")


async def refused(handle: Handle, command: Any, actor: Actor) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await act(handle, command, actor)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_reminders_then_expiry_then_only_the_secretariat_registers(env: WorkflowEnvironment) -> None:
    store = FakeStore()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[DelegationWorkflow], activities=[store.store]):
        handle = await start(env, store, queue)
        delegation_id = (await handle.query(DelegationWorkflow.view)).delegation_id
        await env.sleep(timedelta(days=15))  # the first reminder is due on day 16
        assert store.actions(delegation_id) == []
        await env.sleep(timedelta(days=2))
        await reaches(handle, lambda d: d.reminded == [14], "the 14-day reminder")
        await env.sleep(timedelta(days=11))  # day 28: three days before the deadline is day 27
        await reaches(handle, lambda d: d.reminded == [14, 3], "the 3-day reminder")
        await env.sleep(timedelta(days=3))  # day 31: past the deadline
        expired = await reaches(handle, lambda d: d.status is DelegationStatus.EXPIRED, "expiry")
        assert store.actions(delegation_id) == ["timer:remind:14", "timer:remind:3", "timer:expire"]
        assert expired.version == 4

        late = await refused(handle, registration(), GHANA)
        assert late.type == "InvalidField" and late.details[0]["field"] == "registration_deadline"
        assert len(store.changes) == 3  # the refusal wrote nothing
        registered = await act(handle, registration(), PLANNER)
        assert registered.status is DelegationStatus.REGISTERED and registered.members == 4
        assert store.actions(delegation_id)[-1] == "register"

        history = await handle.fetch_history()
        await Replayer(
            workflows=[DelegationWorkflow], data_converter=pydantic_data_converter
        ).replay_workflow(history)


async def test_registering_early_silences_the_timers(env: WorkflowEnvironment) -> None:
    store = FakeStore()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[DelegationWorkflow], activities=[store.store]):
        handle = await start(env, store, queue)
        await env.sleep(timedelta(days=2))
        await act(handle, registration(9))
        over = await refused(handle, registration(10), GHANA)  # 11 persons, head included
        assert over.type == "InvalidField" and over.details[0]["field"] == "members"
        await env.sleep(timedelta(days=40))
        view = await handle.query(DelegationWorkflow.view)
        assert view.status is DelegationStatus.REGISTERED and view.members == 10
        assert store.actions(view.delegation_id) == ["register"]


async def test_an_ended_delegation_s_workflow_ends(env: WorkflowEnvironment) -> None:
    store = FakeStore()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[DelegationWorkflow], activities=[store.store]):
        handle = await start(env, store, queue, status=DelegationStatus.REGISTERED)
        gone = await act(handle, Withdraw(reason="the minister cannot travel"))
        assert gone.status is DelegationStatus.WITHDRAWN
        assert (await handle.result()).status is DelegationStatus.WITHDRAWN


async def test_a_promotion_reaches_the_promoted_workflow(env: WorkflowEnvironment) -> None:
    store = FakeStore()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[DelegationWorkflow], activities=[store.store]):
        leaving = await start(env, store, queue, status=DelegationStatus.REGISTERED)
        waiting = await start(env, store, queue, status=DelegationStatus.WAITLISTED)
        leaving_id = (await leaving.query(DelegationWorkflow.view)).delegation_id
        waiting_id = (await waiting.query(DelegationWorkflow.view)).delegation_id
        # Fewer persons free places. (Promotion by a withdrawal, whose workflow then ends, is covered on the
        # dev server by the e2e test: the time-skipping server sometimes loses the Update's result when the
        # workflow completes just after it.)
        store.promote_on[(leaving_id, "register")] = [waiting_id]
        smaller = await act(leaving, registration(1))
        assert smaller.status is DelegationStatus.REGISTERED and smaller.members == 2
        promoted = await reaches(waiting, lambda d: d.status is DelegationStatus.REGISTERED, "the promotion")
        assert promoted.version == 2
        # The promoted workflow acts on its new state (If-Match: version 2).
        edited = await act(waiting, registration(2), PLANNER, expected_version=2)
        assert edited.status is DelegationStatus.REGISTERED and edited.version == 3
        assert store.actions(waiting_id) == ["register"]  # the promotion itself was stored by the other


async def test_a_step_is_taken_again_on_a_row_that_moved(env: WorkflowEnvironment) -> None:
    store = FakeStore()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[DelegationWorkflow], activities=[store.store]):
        handle = await start(env, store, queue, status=DelegationStatus.WAITLISTED)
        delegation_id = (await handle.query(DelegationWorkflow.view)).delegation_id
        # Promoted in the database, and the signal has not arrived (or was lost).
        row = store.rows[delegation_id]
        store.rows[delegation_id] = row.model_copy(
            update={"status": DelegationStatus.REGISTERED, "version": 2}
        )

        edited = await act(handle, registration(5))
        assert [c.base_version for c in store.changes] == [1, 2]
        assert edited.status is DelegationStatus.REGISTERED and edited.version == 3 and edited.members == 6


async def test_a_step_is_judged_on_the_row_the_api_read(env: WorkflowEnvironment) -> None:
    store = FakeStore()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[DelegationWorkflow], activities=[store.store]):
        handle = await start(env, store, queue, status=DelegationStatus.WAITLISTED)
        delegation_id = (await handle.query(DelegationWorkflow.view)).delegation_id
        row = store.rows[delegation_id].model_copy(
            update={"status": DelegationStatus.REGISTERED, "version": 2}
        )
        store.rows[delegation_id] = row
        # Without the row, the workflow (still thinking "waitlisted") refuses a review...
        stale = await refused(handle, StartReview(), PLANNER)
        assert stale.type == "TransitionRefused" and stale.details[0]["state"] == "waitlisted"
        # ...with the row the API read (promoted meanwhile), the review goes ahead.
        reviewed = await act(handle, StartReview(), PLANNER, stored=row)
        assert reviewed.status is DelegationStatus.UNDER_REVIEW and reviewed.version == 3
        assert [c.base_version for c in store.changes] == [2]


async def test_a_delegation_from_reminder_to_withdrawal(
    env: WorkflowEnvironment,
) -> None:
    """The history recorded for replay (histories/delegation_local_steps_reminded_registered_withdrawn.json,
    each step's write a local activity; delegation_reminded_registered_withdrawn.json is the same scenario
    recorded before, with activities): a reminder's timer, a refused step, every step by Update, and the
    workflow's end."""
    store = FakeStore()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[DelegationWorkflow], activities=[store.store]):
        handle = await start(env, store, queue)
        delegation_id = (await handle.query(DelegationWorkflow.view)).delegation_id
        await env.sleep(timedelta(days=17))  # the 14-day reminder is due on day 16
        await reaches(handle, lambda d: d.reminded == [14], "the 14-day reminder")
        review = await refused(handle, StartReview(), PLANNER)
        assert review.type == "TransitionRefused" and review.details[0]["state"] == "invited"
        assert (await act(handle, registration(2))).status is DelegationStatus.REGISTERED
        assert (await act(handle, StartReview(), PLANNER)).status is DelegationStatus.UNDER_REVIEW
        assert (await act(handle, Accredit(), PLANNER)).status is DelegationStatus.ACCREDITED
        assert (await act(handle, Confirm())).status is DelegationStatus.CONFIRMED
        gone = await act(handle, Withdraw(reason="the minister cannot travel"))
        assert gone.status is DelegationStatus.WITHDRAWN
        assert (await handle.result()).status is DelegationStatus.WITHDRAWN
        assert store.actions(delegation_id) == [
            "timer:remind:14",
            "register",
            "start_review",
            "accredit",
            "confirm",
            "withdraw",
        ]
        await record_history(handle, "delegation_local_steps_reminded_registered_withdrawn")
