"""The case workflow's deadlines as durable timers, under Temporal's time-skipping test server: warnings,
misses, extensions, pauses, follow-up reminders, policy changes, refused Updates and closing.

A fake activity registered under the real name "store_case_change" records what the workflow asked to store.
With UNCOPS_RECORD_HISTORIES=1 the scenarios write their histories for tests/workflows/test_replay.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.cases.domain.case import STATUS_ACTIONS, Case
from services.cases.domain.commands import (
    CloseCase,
    CloseNotCredible,
    ExtendDeadline,
    PauseDeadline,
    RecordFinding,
    RecordNationalAction,
    RecordNoteVerbale,
    ReferForInvestigation,
    ReopenCase,
    ReplyToNotification,
    ResumeDeadline,
    StartAssessment,
)
from services.cases.domain.deadlines import Deadline, add_working_days
from services.cases.domain.intake import CaseIntake, open_case, reference_number
from services.cases.gateway import CaseCommandRequest, CaseStart, CaseView, StoreChange
from services.common.actor import Actor
from tests.workflows.recording import record_history
from uncops_contracts.cases import (
    AllegationType,
    CaseDeadlineApproaching,
    CaseDeadlineMissed,
    CaseStatus,
    ClosureReason,
    DeadlineKind,
    Finding,
    InvestigatingEntity,
    NationalAction,
    PersonnelCategory,
)
from uncops_contracts.policies import CasePolicy
from workflows.cases.workflows import CaseWorkflow

POLICY = CasePolicy()
OFFICER = Actor(subject="cdo", role="conduct_officer")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# How late an alarm may be stored after its moment (workflow task and activity scheduling).
SLACK = timedelta(minutes=1)


STARTED: list[WorkflowHandle[Any, Any]] = []


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def terminate_leftovers() -> AsyncIterator[None]:
    """A test that fails half-way leaves its workflow waiting on timers with no worker; under time-skipping
    that would stall every later ``env.sleep``. Terminate whatever is still running."""
    yield
    while STARTED:
        handle = STARTED.pop()
        if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
            await handle.terminate(reason="test over")


class Store:
    """Stands in for the real activity (same name): records each change and when it was scheduled."""

    def __init__(self, env: WorkflowEnvironment) -> None:
        self.env = env
        self.changes: list[tuple[datetime, StoreChange]] = []

    @activity.defn(name="store_case_change")
    async def store(self, change: StoreChange) -> Case | None:
        # A local activity runs inside the workflow task, while the test server's clock stands still.
        self.changes.append((await self.env.get_current_time(), change))
        return None

    def actions(self) -> list[str]:
        return [change.outcome.action for _, change in self.changes]

    def alarms(self) -> list[str]:
        return [a for a in self.actions() if a.startswith("deadline_")]

    async def stored(self, action: str, count: int = 1) -> tuple[datetime, StoreChange]:
        """The ``count``-th change stored with ``action``, once it is (the timer fired just before)."""
        for _ in range(400):
            found = [(at, change) for at, change in self.changes if change.outcome.action == action]
            if len(found) >= count:
                return found[count - 1]
            await asyncio.sleep(0.05)
        raise AssertionError(f"{action} (#{count}) never stored; stored: {self.actions()}")

    async def settled(self) -> None:
        """Gives a timer that (wrongly) fired the time to reach the store."""
        await asyncio.sleep(0.5)


def fpu_intake() -> CaseIntake:
    return CaseIntake(
        mission="MINUSCA",
        personnel_category=PersonnelCategory.FORMED_POLICE_UNIT,
        police_contributing_country="XYZ",
        unit="FPU-XYZ-2",
        allegation_type=AllegationType.SEXUAL_EXPLOITATION,
        reported_on=date(2025, 2, 20),
        incident_date=date(2025, 2, 1),
        how_reported="by hotline",
        victims=1,
    )


def ipo_intake(allegation: AllegationType = AllegationType.SEXUAL_ABUSE) -> CaseIntake:
    return CaseIntake(
        mission="MONUSCO",
        personnel_category=PersonnelCategory.INDIVIDUAL_POLICE_OFFICER,
        police_contributing_country="ABC",
        allegation_type=allegation,
        reported_on=date(2025, 2, 20),
        how_reported="in person",
        victims=1,
    )


Handle = WorkflowHandle[CaseWorkflow, Case]


async def start(env: WorkflowEnvironment, queue: str, intake: CaseIntake, case: Case | None = None) -> Handle:
    case_id = str(uuid.uuid4())
    if case is None:
        case = open_case(
            case_id, reference_number(intake.mission, 2025, 1), intake, await env.get_current_time()
        )
    handle = await env.client.start_workflow(
        CaseWorkflow.run,
        CaseStart(case=case, policy=POLICY),
        id=f"case-{case.case_id}",
        task_queue=queue,
    )
    STARTED.append(handle)
    return handle


async def act(
    handle: Handle, command: Any, policy: CasePolicy = POLICY, expected_version: int | None = None
) -> CaseView:
    view = await handle.execute_update(
        CaseWorkflow.act,
        CaseCommandRequest(command=command, actor=OFFICER, policy=policy, expected_version=expected_version),
    )
    assert isinstance(view, CaseView)
    return view


def deadline_of(case: Case, kind: DeadlineKind) -> Deadline:
    deadline = case.deadline(kind)
    assert deadline is not None, f"no {kind.value} deadline in {case.deadlines}"
    return deadline


def near(moment: datetime, expected: datetime) -> bool:
    return expected <= moment <= expected + SLACK


def worker(env: WorkflowEnvironment, queue: str, store: Store) -> Worker:
    return Worker(env.client, task_queue=queue, workflows=[CaseWorkflow], activities=[store.store])


async def finish(handle: Handle, name: str | None = None) -> Case:
    """Closes the case (not substantiated) so that the workflow ends, and records its history."""
    case = await handle.query(CaseWorkflow.view)
    if case.status is CaseStatus.UNDER_INVESTIGATION:
        await act(handle, RecordFinding(finding=Finding.NOT_SUBSTANTIATED))
    elif case.status is CaseStatus.ACTION_PENDING:
        await act(handle, CloseCase(reason=ClosureReason.ACTION_COMPLETED, note="action completed"))
    result = await handle.result()
    assert result.status is CaseStatus.CLOSED
    if name is not None:
        await record_history(handle, name)
    return result


# ---------------------------------------------------------------- (a) the PCC's reply


async def test_pcc_reply_deadline_warns_at_80_percent_then_is_missed(env: WorkflowEnvironment) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with worker(env, queue, store):
        handle = await start(env, queue, fpu_intake())
        await act(handle, StartAssessment())
        before = await env.get_current_time()
        view = await act(handle, ReferForInvestigation())
        after = await env.get_current_time()
        assert view.case.status is CaseStatus.AWAITING_PCC_REPLY
        assert view.allowed_actions == list(STATUS_ACTIONS[CaseStatus.AWAITING_PCC_REPLY])
        reply = deadline_of(view.case, DeadlineKind.PCC_REPLY)
        assert before - SLACK <= reply.started_at <= after + SLACK
        assert reply.due_at == add_working_days(reply.started_at, 10, POLICY)
        assert reply.warn_at == reply.started_at + (reply.due_at - reply.started_at) * 0.8
        assert reply.owner == "police_contributing_country"

        # Just before the warning point: nothing.
        await env.sleep(reply.warn_at - await env.get_current_time() - HOUR)
        await store.settled()
        assert store.alarms() == []

        await env.sleep(2 * HOUR)
        at, change = await store.stored("deadline_approaching:pcc_reply")
        assert near(at, reply.warn_at)
        now = await env.get_current_time()
        assert reply.warn_at <= now < reply.due_at
        assert change.actor.role == "system"
        assert [e.event_type() for e in change.outcome.events] == [CaseDeadlineApproaching.event_type()]
        assert change.outcome.events[0].model_dump(mode="json")["owner"] == "police_contributing_country"
        assert deadline_of(change.outcome.case, DeadlineKind.PCC_REPLY).warned

        # Just before the due date: warned once, not missed.
        await env.sleep(reply.due_at - await env.get_current_time() - HOUR)
        await store.settled()
        assert store.alarms() == ["deadline_approaching:pcc_reply"]

        await env.sleep(2 * HOUR)
        at, change = await store.stored("deadline_missed:pcc_reply")
        assert near(at, reply.due_at)
        assert await env.get_current_time() >= reply.due_at
        assert [e.event_type() for e in change.outcome.events] == [CaseDeadlineMissed.event_type()]
        assert deadline_of(change.outcome.case, DeadlineKind.PCC_REPLY).missed
        case = await handle.query(CaseWorkflow.view)
        assert case.version == change.outcome.case.version
        assert [d.kind for d in case.overdue(await env.get_current_time())] == [DeadlineKind.PCC_REPLY]

        # Missed once: no further alarm for it.
        await env.sleep(30 * DAY)
        await store.settled()
        assert store.alarms() == ["deadline_approaching:pcc_reply", "deadline_missed:pcc_reply"]

        # The late reply still counts; the UN investigates.
        view = await act(handle, ReplyToNotification(investigates=False))
        assert view.case.investigating_entity is InvestigatingEntity.OIOS
        assert view.case.deadline(DeadlineKind.PCC_REPLY) is None
        await finish(handle, "case_pcc_reply")
        assert store.actions() == [
            "start_assessment",
            "refer_for_investigation",
            "deadline_approaching:pcc_reply",
            "deadline_missed:pcc_reply",
            "reply_to_notification",
            "record_finding",
        ]


# ---------------------------------------------------------------- (b) extension


async def test_an_extended_investigation_is_missed_at_the_new_date_not_the_old(
    env: WorkflowEnvironment,
) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with worker(env, queue, store):
        handle = await start(env, queue, ipo_intake())
        await act(handle, StartAssessment())
        view = await act(handle, ReferForInvestigation())
        original = deadline_of(view.case, DeadlineKind.INVESTIGATION)
        assert original.due_at - original.started_at == timedelta(days=90)  # SEA

        await env.sleep(original.warn_at - await env.get_current_time() + HOUR)
        at, _ = await store.stored("deadline_approaching:investigation")
        assert near(at, original.warn_at)

        # Day 80: warned already; extended by 30 days before it falls due.
        await env.sleep(original.started_at + 80 * DAY - await env.get_current_time())
        view = await act(
            handle, ExtendDeadline(kind=DeadlineKind.INVESTIGATION, days=30, reason="witness abroad")
        )
        extended = deadline_of(view.case, DeadlineKind.INVESTIGATION)
        assert extended.due_at == original.due_at + 30 * DAY
        assert extended.extensions == ["+30d: witness abroad"]
        assert not extended.warned
        assert extended.warn_at == original.started_at + 96 * DAY  # 80 % of 120 days

        # The old due date passes without a miss.
        await env.sleep(original.due_at - await env.get_current_time() + DAY)
        await store.settled()
        assert store.alarms() == ["deadline_approaching:investigation"]
        assert not (await handle.query(CaseWorkflow.view)).overdue(await env.get_current_time())

        # It warns again at 80 % of the longer clock, and is missed at the new date.
        await env.sleep(extended.due_at - await env.get_current_time() - HOUR)
        await store.settled()
        assert store.alarms() == ["deadline_approaching:investigation"] * 2
        at, _ = await store.stored("deadline_approaching:investigation", 2)
        assert near(at, extended.warn_at)
        await env.sleep(2 * HOUR)
        at, change = await store.stored("deadline_missed:investigation")
        assert near(at, extended.due_at)
        assert (
            change.outcome.events[0]
            .model_dump(mode="json")["due_at"]
            .startswith(extended.due_at.isoformat()[:19])
        )
        await finish(handle, "case_extension")


# ---------------------------------------------------------------- (c) pause and resume


async def test_a_paused_investigation_is_missed_as_much_later_as_it_was_paused(
    env: WorkflowEnvironment,
) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with worker(env, queue, store):
        handle = await start(env, queue, ipo_intake())
        await act(handle, StartAssessment())
        view = await act(handle, ReferForInvestigation())
        planned = deadline_of(view.case, DeadlineKind.INVESTIGATION)

        await env.sleep(10 * DAY)
        view = await act(
            handle, PauseDeadline(kind=DeadlineKind.INVESTIGATION, reason="awaiting the State's documents")
        )
        paused = deadline_of(view.case, DeadlineKind.INVESTIGATION)
        assert paused.paused and paused.paused_at is not None

        await env.sleep(20 * DAY)
        view = await act(handle, ResumeDeadline(kind=DeadlineKind.INVESTIGATION))
        resumed = deadline_of(view.case, DeadlineKind.INVESTIGATION)
        shift = resumed.started_at - planned.started_at
        assert 20 * DAY <= shift <= 20 * DAY + SLACK
        assert resumed.due_at == planned.due_at + shift
        assert resumed.warn_at == planned.warn_at + shift

        # Neither warned at the planned warning point (day 72) nor missed at the planned due date (day 90)...
        await env.sleep(planned.due_at - await env.get_current_time() + HOUR)
        await store.settled()
        assert store.alarms() == []
        # ...but 20 days later: warned on day 92, missed on day 110.
        await env.sleep(resumed.due_at - await env.get_current_time() - HOUR)
        await store.settled()
        assert store.alarms() == ["deadline_approaching:investigation"]
        at, _ = await store.stored("deadline_approaching:investigation")
        assert near(at, resumed.warn_at)
        await env.sleep(2 * HOUR)
        at, _ = await store.stored("deadline_missed:investigation")
        assert near(at, resumed.due_at)
        assert at - planned.due_at >= 20 * DAY
        await finish(handle, "case_pause")


async def test_no_alarm_fires_while_paused(env: WorkflowEnvironment) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with worker(env, queue, store):
        handle = await start(env, queue, ipo_intake())
        await act(handle, StartAssessment())
        await act(handle, ReferForInvestigation())
        await act(handle, PauseDeadline(kind=DeadlineKind.INVESTIGATION, reason="awaiting the State"))
        await env.sleep(200 * DAY)
        await store.settled()
        assert store.alarms() == []
        await finish(handle)


# ---------------------------------------------------------------- (d) follow-up reminders


async def test_follow_up_reminds_every_period_until_the_state_reports(env: WorkflowEnvironment) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with worker(env, queue, store):
        handle = await start(env, queue, ipo_intake())
        await act(handle, StartAssessment())
        await act(handle, ReferForInvestigation())
        await env.sleep(30 * DAY)
        view = await act(handle, RecordFinding(finding=Finding.SUBSTANTIATED))
        assert view.case.status is CaseStatus.ACTION_PENDING
        first = deadline_of(view.case, DeadlineKind.FOLLOW_UP)
        found_at = first.started_at
        assert first.due_at == found_at + 90 * DAY
        assert view.case.deadline(DeadlineKind.INVESTIGATION) is None

        await env.sleep(found_at + 90 * DAY - await env.get_current_time() - HOUR)
        await store.settled()
        assert store.alarms() == ["deadline_approaching:follow_up"]
        await env.sleep(2 * HOUR)
        at, change = await store.stored("deadline_missed:follow_up")
        assert near(at, found_at + 90 * DAY)
        rolled = deadline_of(change.outcome.case, DeadlineKind.FOLLOW_UP)
        assert rolled.reminders == 1
        assert rolled.overdue_since == found_at + 90 * DAY
        assert rolled.due_at == found_at + 180 * DAY
        assert not rolled.missed

        await env.sleep(found_at + 180 * DAY - await env.get_current_time() - HOUR)
        await store.settled()
        assert store.alarms() == [
            "deadline_approaching:follow_up",
            "deadline_missed:follow_up",
            "deadline_approaching:follow_up",
        ]
        at, _ = await store.stored("deadline_approaching:follow_up", 2)
        assert near(at, found_at + 162 * DAY)
        await env.sleep(2 * HOUR)
        at, change = await store.stored("deadline_missed:follow_up", 2)
        assert near(at, found_at + 180 * DAY)
        again = deadline_of(change.outcome.case, DeadlineKind.FOLLOW_UP)
        assert again.reminders == 2
        assert again.overdue_since == found_at + 90 * DAY
        assert again.due_at == found_at + 270 * DAY
        case = await handle.query(CaseWorkflow.view)
        assert [d.kind for d in case.overdue(await env.get_current_time())] == [DeadlineKind.FOLLOW_UP]

        # The State reports its national action: the reminders stop.
        view = await act(handle, RecordNationalAction(taken=NationalAction.DISMISSAL, on=date(2025, 9, 1)))
        assert view.case.deadline(DeadlineKind.FOLLOW_UP) is None
        alarms = store.alarms()
        await env.sleep(400 * DAY)
        await store.settled()
        assert store.alarms() == alarms
        await finish(handle, "case_follow_up")


# ---------------------------------------------------------------- (e) a changed policy


async def test_a_changed_policy_governs_new_deadlines_and_the_running_one_keeps_its_date(
    env: WorkflowEnvironment,
) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    shorter = CasePolicy(sea_investigation_days=30, pcc_reply_working_days=3)
    async with worker(env, queue, store):
        handle = await start(env, queue, fpu_intake())
        await act(handle, StartAssessment())
        view = await act(handle, ReferForInvestigation())
        reply = deadline_of(view.case, DeadlineKind.PCC_REPLY)
        assert reply.due_at == add_working_days(reply.started_at, 10, POLICY)

        # The next request carries the new policy: the running reply deadline keeps its date.
        view = await act(
            handle,
            RecordNoteVerbale(direction="sent", reference="NV/2025/17", on=date(2025, 3, 3)),
            policy=shorter,
        )
        assert deadline_of(view.case, DeadlineKind.PCC_REPLY) == reply
        await env.sleep(add_working_days(reply.started_at, 3, shorter) - await env.get_current_time() + HOUR)
        await store.settled()
        assert "deadline_missed:pcc_reply" not in store.alarms()
        await env.sleep(reply.due_at - await env.get_current_time() + HOUR)
        at, _ = await store.stored("deadline_missed:pcc_reply")
        assert near(at, reply.due_at)

        # A deadline opened from now on follows the new policy: 30 days for SEA, not 90.
        view = await act(
            handle,
            ReplyToNotification(investigates=True, national_investigation_officer="NIO-1"),
            policy=shorter,
        )
        investigation = deadline_of(view.case, DeadlineKind.INVESTIGATION)
        assert investigation.due_at == investigation.started_at + 30 * DAY
        await env.sleep(investigation.due_at - await env.get_current_time() + HOUR)
        at, _ = await store.stored("deadline_missed:investigation")
        assert near(at, investigation.due_at)
        at, _ = await store.stored("deadline_approaching:investigation")
        assert near(at, investigation.started_at + 24 * DAY)
        stored = {change.outcome.action: change.policy for _, change in store.changes}
        assert stored["refer_for_investigation"] == POLICY
        assert stored["reply_to_notification"] == shorter
        assert stored["deadline_missed:investigation"] == shorter  # the workflow keeps the latest policy
        await finish(handle, "case_policy_change")


# ---------------------------------------------------------------- (f) refused Updates


def update_events(history: Any) -> list[str]:
    return [EventType.Name(e.event_type) for e in history.events if "UPDATE" in EventType.Name(e.event_type)]


async def test_refused_updates_raise_and_leave_nothing_in_the_history(env: WorkflowEnvironment) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with worker(env, queue, store):
        handle = await start(env, queue, ipo_intake())

        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, RecordFinding(finding=Finding.SUBSTANTIATED))
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "TransitionRefused"
        assert cause.details[0] == {
            "state": "received",
            "allowed_actions": list(STATUS_ACTIONS[CaseStatus.RECEIVED]),
        }

        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, StartAssessment(), expected_version=7)
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "VersionConflict"
        assert cause.details[0] == {"state": "received", "version": 1}

        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, ExtendDeadline(kind=DeadlineKind.INVESTIGATION, days=5, reason="no such clock"))
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "InvalidField"
        assert cause.details[0]["field"] == "kind"

        # Nothing reached the history, nothing was stored, the case did not move.
        assert update_events(await handle.fetch_history()) == []
        assert store.changes == []
        case = await handle.query(CaseWorkflow.view)
        assert (case.status, case.version) == (CaseStatus.RECEIVED, 1)

        # The right version is accepted, and only that update is in the history.
        view = await act(handle, StartAssessment(), expected_version=1)
        assert view.case.version == 2
        assert update_events(await handle.fetch_history()) == [
            "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED",
            "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED",
        ]
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, ReferForInvestigation(), expected_version=1)  # a concurrent edit, detected
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "VersionConflict"
        assert len(update_events(await handle.fetch_history())) == 2
        assert store.actions() == ["start_assessment"]
        await act(handle, CloseNotCredible(reason="no credible source"))
        await handle.result()


# ---------------------------------------------------------------- (g) closing


async def test_closing_the_case_ends_the_workflow(env: WorkflowEnvironment) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with worker(env, queue, store):
        handle = await start(env, queue, ipo_intake())
        await act(handle, StartAssessment())
        await act(handle, ReferForInvestigation())
        view = await act(handle, RecordFinding(finding=Finding.SUBSTANTIATED))
        assert view.case.deadline(DeadlineKind.FOLLOW_UP) is not None
        view = await act(handle, CloseCase(reason=ClosureReason.ACTION_COMPLETED, note="repatriated"))
        assert view.case.status is CaseStatus.CLOSED
        assert view.allowed_actions == list(STATUS_ACTIONS[CaseStatus.CLOSED])
        result = await handle.result()
        assert isinstance(result, Case)
        assert result.status is CaseStatus.CLOSED
        assert result.closure_reason is ClosureReason.ACTION_COMPLETED
        assert result.deadlines == []
        assert result.version == 5
        assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED
        # An ended workflow takes no more updates; a reopening starts a new run from the stored case.
        with pytest.raises((WorkflowUpdateFailedError, RPCError)):
            await act(handle, ReopenCase(reason="new evidence"))


async def test_a_run_started_for_a_closed_case_takes_a_reopening(env: WorkflowEnvironment) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with worker(env, queue, store):
        now = await env.get_current_time()
        closed = open_case(str(uuid.uuid4()), "MONUSCO-2025-0009", ipo_intake(), now).model_copy(
            update={"status": CaseStatus.CLOSED, "closure_reason": ClosureReason.NOT_CREDIBLE, "version": 4}
        )
        handle = await start(env, queue, ipo_intake(), closed)
        view = await act(handle, ReopenCase(reason="new evidence"))
        assert view.case.status is CaseStatus.PRELIMINARY_ASSESSMENT
        assert view.case.version == 5
        await act(handle, CloseNotCredible(reason="still no credible source"))
        assert (await handle.result()).status is CaseStatus.CLOSED


async def test_a_run_started_for_a_closed_case_ends_when_nobody_reopens_it(env: WorkflowEnvironment) -> None:
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with worker(env, queue, store):
        now = await env.get_current_time()
        closed = open_case(str(uuid.uuid4()), "MONUSCO-2025-0010", ipo_intake(), now).model_copy(
            update={"status": CaseStatus.CLOSED, "closure_reason": ClosureReason.NOT_CREDIBLE}
        )
        handle = await start(env, queue, ipo_intake(), closed)
        result = await handle.result()  # time skips past the reopening window
        assert result.status is CaseStatus.CLOSED
        assert store.changes == []


# ---------------------------------------------------------------- continue-as-new


async def test_a_long_case_continues_as_new_with_its_state_and_deadlines(env: WorkflowEnvironment) -> None:
    """A case whose history passes its limit continues as new, carrying the case: the next run takes the
    next steps and fires the deadlines the first one had opened. Recorded: case_continues_as_new (the first
    run, ending in continue-as-new) and case_after_continuing (the last run, to closure)."""
    store = Store(env)
    queue = f"test-{uuid.uuid4()}"
    async with worker(env, queue, store):
        intake = ipo_intake()
        case = open_case(
            str(uuid.uuid4()), reference_number("MONUSCO", 2025, 1), intake, await env.get_current_time()
        )
        latest = await env.client.start_workflow(  # its handle follows whichever run is current
            CaseWorkflow.run,
            CaseStart(case=case, policy=POLICY, history_limit=40),
            id=f"case-{case.case_id}",
            task_queue=queue,
        )
        STARTED.append(latest)
        first = env.client.get_workflow_handle(latest.id, run_id=latest.first_execution_run_id)
        await act(latest, StartAssessment())
        view = await act(latest, ReferForInvestigation())
        investigation = deadline_of(view.case, DeadlineKind.INVESTIGATION)
        notes = 0
        while (await first.describe()).status is WorkflowExecutionStatus.RUNNING:
            notes += 1
            assert notes < 10, f"never continued as new ({len((await first.fetch_history()).events)} events)"
            note = RecordNoteVerbale(direction="sent", reference=f"NV/{notes}", on=date(2025, 3, 1))
            await act(latest, note)
            await asyncio.sleep(0.1)  # the run decides once the Update has finished
        assert notes > 1 and (await first.describe()).status is WorkflowExecutionStatus.CONTINUED_AS_NEW

        carried = await latest.query(CaseWorkflow.view)
        assert carried.status is CaseStatus.UNDER_INVESTIGATION
        assert [e.value for e in carried.record if e.kind == "note_verbale_sent"] == [
            f"NV/{n}" for n in range(1, notes + 1)
        ]
        # The deadline opened in the first run warns in the next one.
        await env.sleep(investigation.warn_at - await env.get_current_time() + HOUR)
        at, _ = await store.stored("deadline_approaching:investigation")
        assert near(at, investigation.warn_at)
        await act(latest, RecordFinding(finding=Finding.NOT_SUBSTANTIATED))
        closed = await latest.result()
        assert closed.status is CaseStatus.CLOSED
        assert closed.version == carried.version + 2  # the warning and the finding
        await record_history(first, "case_continues_as_new")
        await record_history(latest, "case_after_continuing")
