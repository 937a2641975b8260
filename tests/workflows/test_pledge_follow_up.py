"""The pledge workflow's follow-up over two (and more) simulated years, under Temporal's time-skipping test
server: the reminder before a report is due, overdue after, the traffic light, inactivity after two missed
reports, the lapse at target date plus grace unless extended; refused updates leave no trace."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from services.common.actor import Actor
from services.pledges.domain.commands import (
    Accept,
    Acknowledge,
    Edit,
    Extend,
    RecordDelivery,
    ReportProgress,
    RequestClarification,
    Resubmit,
    StartReview,
    Withdraw,
)
from services.pledges.domain.pledge import Pledge
from services.pledges.gateway import PledgeCommandRequest, PledgeStart, StorePledgeChange
from services.pledges.store import lifecycle_values
from tests.workflows.recording import record_history
from uncops_contracts.pledges import PledgeKind, PledgeStatus, ProgressStage, TrafficLight
from uncops_contracts.policies import PledgePolicy
from workflows.pledges.workflows import PledgeWorkflow

POLICY = PledgePolicy()  # first report after 365 days, then every 182; reminder 30 days before; grace 90
STATE = Actor(subject="fp-gha", role="state_focal_point", member_state="GHA")
PLANNER = Actor(subject="planner-1", role="planner")
TARGET_AFTER = timedelta(days=608)  # about 20 months


class FakeStore:
    """Stands in for the real activity (same name), keeping every change the workflow asked to store and the
    traffic light its row would show at the time of the change."""

    def __init__(self) -> None:
        self.changes: list[StorePledgeChange] = []

    @activity.defn(name="store_pledge_change")
    async def store(self, change: StorePledgeChange) -> Pledge | None:
        self.changes.append(change)
        return None

    @property
    def actions(self) -> list[str]:
        return [c.outcome.action for c in self.changes]

    def last(self, action: str) -> StorePledgeChange:
        return [c for c in self.changes if c.outcome.action == action][-1]

    def row_light(self, action: str) -> str | None:
        change = self.last(action)
        pledge = change.outcome.pledge
        light: str | None = lifecycle_values(pledge, change.policy, pledge.history[-1].at)["traffic_light"]
        return light

    def payload(self, action: str) -> dict[str, Any]:
        """The last change's first event's payload as JSON, as the outbox stores it."""
        found: dict[str, Any] = self.last(action).outcome.events[0].payload.model_dump(mode="json")
        return found

    def event_types(self, action: str) -> list[str]:
        return [e.type.split(".")[-2] for e in self.last(action).outcome.events]


Handle = WorkflowHandle[PledgeWorkflow, Pledge]


async def act(handle: Handle, command: Any, actor: Actor = PLANNER, **extra: Any) -> Pledge:
    request = PledgeCommandRequest(command=command, actor=actor, policy=POLICY, **extra)
    return (await handle.execute_update(PledgeWorkflow.act, request)).pledge


async def reaches(handle: Handle, check: Callable[[Pledge], bool], what: str) -> Pledge:
    """A timer has fired once the workflow's view shows it (its activity has run by then)."""
    view = None
    for _ in range(400):
        view = await handle.query(PledgeWorkflow.view)
        if check(view):
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"the workflow never showed {what}; last view: {view!r}")


async def until(env: WorkflowEnvironment, at: datetime) -> None:
    remaining = at - await env.get_current_time()
    if remaining > timedelta(0):
        await env.sleep(remaining)


def near(at: datetime, expected: datetime) -> bool:
    """Timers fire at their time, give or take the test server's scheduling (milliseconds)."""
    return expected <= at < expected + timedelta(seconds=5)


async def light(env: WorkflowEnvironment, view: Pledge) -> TrafficLight | None:
    return view.traffic_light(await env.get_current_time(), POLICY)


async def start_accepted(env: WorkflowEnvironment, queue: str) -> tuple[Handle, Pledge]:
    now = await env.get_current_time()
    pledge = Pledge(
        pledge_id=str(uuid.uuid4()),
        member_state="GHA",
        kind=PledgeKind.GENDER_PARITY,
        title="Women in FPUs",
        summit="UNCOPS-2018",
        submitted_at=now,
        target_date=(now + TARGET_AFTER).date(),
    )
    handle = await env.client.start_workflow(
        PledgeWorkflow.run,
        PledgeStart(pledge=pledge, policy=POLICY),
        id=f"pledge-{pledge.pledge_id}",
        task_queue=queue,
    )
    for command in (Acknowledge(), StartReview()):
        await act(handle, command)
    accepted = await act(handle, Accept())
    assert accepted.status is PledgeStatus.ACCEPTED and accepted.accepted_at is not None
    return handle, accepted


async def first_year(env: WorkflowEnvironment, handle: Handle, store: FakeStore, accepted: Pledge) -> None:
    """Reminder at day 335, overdue at 365 (red), a report at day 400 (green, next due at day 729)."""
    t0 = accepted.accepted_at
    assert t0 is not None
    first_due = t0 + timedelta(days=365)
    assert accepted.next_report_due == first_due
    assert accepted.lapse_at == datetime.combine(accepted.target_date or t0.date(), t0.timetz()) + timedelta(
        days=90
    )
    assert await light(env, accepted) is TrafficLight.GREEN

    await until(env, t0 + timedelta(days=334))
    view = await handle.query(PledgeWorkflow.view)
    assert store.actions == ["acknowledge", "start_review", "accept"]
    assert not view.reminded and await light(env, view) is TrafficLight.GREEN

    await until(env, t0 + timedelta(days=336))  # the reminder falls due at day 335
    view = await reaches(handle, lambda p: p.reminded, "the reminder")
    assert store.actions[-1] == "timer:remind"
    assert store.event_types("timer:remind") == ["pledge_report_due"]
    assert store.payload("timer:remind")["due_on"] == str(first_due.date())
    reminded_at = store.last("timer:remind").outcome.pledge.history[-1].at
    assert near(reminded_at, first_due - timedelta(days=30))
    assert store.row_light("timer:remind") == "amber"
    assert await light(env, view) is TrafficLight.AMBER
    assert view.next_report_due == first_due

    await until(env, t0 + timedelta(days=366))  # due at day 365
    view = await reaches(handle, lambda p: p.missed_reports == 1, "the first missed report")
    assert store.actions[-1] == "timer:overdue"
    assert near(store.last("timer:overdue").outcome.pledge.history[-1].at, first_due)
    overdue = store.last("timer:overdue").outcome.events
    assert [e.type.split(".")[-2] for e in overdue] == ["pledge_report_overdue"]
    assert store.payload("timer:overdue")["missed_reports"] == 1
    assert store.payload("timer:overdue")["traffic_light"] == "red"
    assert store.row_light("timer:overdue") == "red"
    assert view.next_report_due == first_due + timedelta(days=182)  # rolled to day 547
    assert await light(env, view) is TrafficLight.RED

    await until(env, t0 + timedelta(days=400))
    view = await act(
        handle, ReportProgress(period="2028-H1", stage=ProgressStage.IN_PROGRESS, value=14), STATE
    )
    assert view.status is PledgeStatus.IN_PROGRESS and view.missed_reports == 0
    assert view.next_report_due == t0 + timedelta(days=729)
    assert await light(env, view) is TrafficLight.GREEN
    assert store.actions[-1] == "report_progress"
    assert store.row_light("report_progress") == "green"
    reported = store.payload("report_progress")
    assert reported["traffic_light"] == "green"
    assert reported["next_report_due"] == str((t0 + timedelta(days=729)).date())


async def test_reminder_overdue_report_and_lapse_at_target_date_plus_grace(env: WorkflowEnvironment) -> None:
    store = FakeStore()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[PledgeWorkflow], activities=[store.store]):
        handle, accepted = await start_accepted(env, queue)
        await first_year(env, handle, store, accepted)
        lapse_at = accepted.lapse_at
        assert lapse_at is not None

        # The lapse (day ~698) comes before the next reminder (day 699): nothing until then.
        await until(env, lapse_at - timedelta(days=1))
        view = await handle.query(PledgeWorkflow.view)
        assert view.status is PledgeStatus.IN_PROGRESS and store.actions[-1] == "report_progress"
        assert await light(env, view) is TrafficLight.GREEN

        await until(env, lapse_at + timedelta(days=2))
        view = await reaches(handle, lambda p: p.status is PledgeStatus.LAPSED, "the lapse")
        assert store.actions == [
            "acknowledge",
            "start_review",
            "accept",
            "timer:remind",
            "timer:overdue",
            "report_progress",
            "timer:lapse",
        ]
        assert near(store.last("timer:lapse").outcome.pledge.history[-1].at, lapse_at)
        assert store.event_types("timer:lapse") == ["pledge_lapsed"]
        assert store.payload("timer:lapse")["target_date"] == str(accepted.target_date)
        assert store.row_light("timer:lapse") is None
        assert view.next_report_due is None and view.lapse_at is None
        assert await light(env, view) is None
        # A lapsed pledge's workflow ends.
        result = await handle.result()
        assert result.status is PledgeStatus.LAPSED

        history = await handle.fetch_history()
        await Replayer(workflows=[PledgeWorkflow], data_converter=pydantic_data_converter).replay_workflow(
            history
        )


async def test_two_missed_reports_make_it_inactive_and_an_extension_moves_the_lapse(
    env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[PledgeWorkflow], activities=[store.store]):
        handle, accepted = await start_accepted(env, queue)
        t0 = accepted.accepted_at
        old_lapse = accepted.lapse_at
        assert t0 is not None and old_lapse is not None and accepted.target_date is not None
        await first_year(env, handle, store, accepted)

        await until(env, t0 + timedelta(days=500))
        view = await act(handle, Extend(days=330, reason="procurement of vehicles delayed"))
        new_lapse = old_lapse + timedelta(days=330)
        assert view.target_date == accepted.target_date + timedelta(days=330)
        assert view.lapse_at == new_lapse
        assert store.actions[-1] == "extend" and store.last("extend").outcome.events == []

        # No lapse at the old date: the next reminder (day 699) comes instead.
        await until(env, old_lapse + timedelta(days=2))
        view = await reaches(handle, lambda p: p.reminded, "the second reminder")
        assert view.status is PledgeStatus.IN_PROGRESS
        assert "timer:lapse" not in store.actions
        assert store.actions[-1] == "timer:remind"
        assert near(store.last("timer:remind").outcome.pledge.history[-1].at, t0 + timedelta(days=699))
        assert await light(env, view) is TrafficLight.AMBER

        await until(env, t0 + timedelta(days=730))  # due at day 729: missed
        view = await reaches(handle, lambda p: p.missed_reports == 1, "the second report missed")
        assert store.actions[-1] == "timer:overdue"
        assert store.row_light("timer:overdue") == "red"
        assert await light(env, view) is TrafficLight.RED
        assert view.next_report_due == t0 + timedelta(days=911)
        assert not view.reminded

        # While a report is missing no reminder comes: the next alarm is the next overdue, at day 911.
        await until(env, t0 + timedelta(days=910))
        assert store.actions[-1] == "timer:overdue" and store.actions.count("timer:overdue") == 2

        await until(env, t0 + timedelta(days=912))
        view = await reaches(handle, lambda p: p.missed_reports == 2, "the third report missed")
        assert store.actions[-1] == "timer:overdue"
        assert store.payload("timer:overdue")["traffic_light"] == "inactive"
        assert store.row_light("timer:overdue") == "inactive"
        assert await light(env, view) is TrafficLight.INACTIVE
        assert view.status is PledgeStatus.IN_PROGRESS

        await until(env, new_lapse - timedelta(days=1))
        assert (await handle.query(PledgeWorkflow.view)).status is PledgeStatus.IN_PROGRESS

        await until(env, new_lapse + timedelta(days=1))
        view = await reaches(handle, lambda p: p.status is PledgeStatus.LAPSED, "the lapse at the new date")
        assert near(store.last("timer:lapse").outcome.pledge.history[-1].at, new_lapse)
        assert store.payload("timer:lapse")["target_date"] == str(view.target_date)
        assert store.actions == [
            "acknowledge",
            "start_review",
            "accept",
            "timer:remind",
            "timer:overdue",
            "report_progress",
            "extend",
            "timer:remind",
            "timer:overdue",
            "timer:overdue",
            "timer:lapse",
        ]
        assert (await handle.result()).status is PledgeStatus.LAPSED
        assert [h.action for h in view.history] == store.actions


def _update_events(history: Any) -> list[str]:
    return [EventType.Name(e.event_type) for e in history.events if "UPDATE" in EventType.Name(e.event_type)]


async def test_a_refused_update_leaves_no_update_event_in_history(env: WorkflowEnvironment) -> None:
    store = FakeStore()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[PledgeWorkflow], activities=[store.store]):
        now = await env.get_current_time()
        pledge = Pledge(
            pledge_id=str(uuid.uuid4()),
            member_state="GHA",
            kind=PledgeKind.GENDER_PARITY,
            title="Women in FPUs",
            summit="UNCOPS-2018",
            submitted_at=now,
        )
        handle = await env.client.start_workflow(
            PledgeWorkflow.run,
            PledgeStart(pledge=pledge, policy=POLICY),
            id=f"pledge-{pledge.pledge_id}",
            task_queue=queue,
        )
        # The State may not acknowledge its own pledge: 409-style refusal with the allowed actions.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, Acknowledge(), STATE)
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "TransitionRefused"
        assert cause.details[0] == {"state": "submitted", "allowed_actions": ["edit", "withdraw"]}

        await act(handle, Acknowledge())
        # A stale version is refused too.
        with pytest.raises(WorkflowUpdateFailedError) as stale:
            await act(handle, StartReview(), expected_version=1)
        assert isinstance(stale.value.cause, ApplicationError)
        assert stale.value.cause.type == "VersionConflict"
        # So is an extension of a pledge with no target date, by field.
        await act(handle, StartReview(), expected_version=2)
        await act(handle, Accept())
        with pytest.raises(WorkflowUpdateFailedError) as invalid:
            await act(handle, Extend(days=30, reason="more time please"))
        assert isinstance(invalid.value.cause, ApplicationError)
        assert invalid.value.cause.type == "InvalidField"
        assert invalid.value.cause.details[0]["field"] == "days"

        assert store.actions == ["acknowledge", "start_review", "accept"]
        view = await handle.query(PledgeWorkflow.view)
        assert view.version == 4 and [h.action for h in view.history] == store.actions
        # Three updates accepted and completed; the refused ones never reached the history.
        assert (
            _update_events(await handle.fetch_history())
            == [
                "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED",
                "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED",
            ]
            * 3
        )
        await handle.terminate("test over")


async def test_recorded_follow_up_of_a_financial_pledge(env: WorkflowEnvironment) -> None:
    """The history replayed by tests/workflows/test_replay.py (pledge_follow_up.json): every kind of step a
    pledge's workflow takes — Updates refused by the validator and accepted, clarification and resubmission,
    money received (and received again), the reminder, the overdue report, a report, an extension — and the
    lapse that ends it."""
    store = FakeStore()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[PledgeWorkflow], activities=[store.store]):
        now = await env.get_current_time()
        pledge = Pledge(
            pledge_id=str(uuid.uuid4()),
            member_state="GHA",
            kind=PledgeKind.FINANCIAL_SUPPORT,
            title="Training fund for FPUs",
            summit="UNCOPS-2018",
            submitted_at=now,
            target_date=(now + TARGET_AFTER).date(),
            amount=Decimal("100000.00"),
            currency="USD",
        )
        handle = await env.client.start_workflow(
            PledgeWorkflow.run,
            PledgeStart(pledge=pledge, policy=POLICY),
            id=f"pledge-{pledge.pledge_id}",
            task_queue=queue,
        )
        with pytest.raises(WorkflowUpdateFailedError):  # the State may not acknowledge its own pledge
            await act(handle, Acknowledge(), STATE)
        await act(handle, Edit(title="Training fund for formed police units"), STATE)
        await act(handle, Acknowledge())
        await act(handle, StartReview())
        await act(handle, RequestClarification(questions="Over how many years?"))
        await act(handle, Resubmit(answer="Over two years"), STATE)
        accepted = await act(handle, Accept(note="welcome"))
        t0 = accepted.accepted_at
        assert t0 is not None and accepted.lapse_at is not None
        delivery = RecordDelivery(receipt_id="r-1", amount=Decimal("25000.00"), currency="USD")
        await act(handle, delivery, Actor(subject="uncops-summit-funding", role="system"))
        # The same receipt again (a redelivered event): no change, no new version.
        again = await act(handle, delivery, Actor(subject="uncops-summit-funding", role="system"))
        assert again.version == accepted.version + 1

        await until(env, t0 + timedelta(days=366))  # reminded at day 335, overdue at 365
        await reaches(handle, lambda p: p.missed_reports == 1, "the missed report")
        await until(env, t0 + timedelta(days=400))
        await act(handle, ReportProgress(period="2028-H1", stage=ProgressStage.IN_PROGRESS), STATE)
        with pytest.raises(WorkflowUpdateFailedError):  # the same period twice, refused by field
            await act(handle, ReportProgress(period="2028-H1", stage=ProgressStage.IN_PROGRESS), STATE)
        extended = await act(handle, Extend(days=30, reason="procurement delayed"))
        assert extended.lapse_at is not None

        await until(env, extended.lapse_at + timedelta(days=1))
        result = await handle.result()
        assert result.status is PledgeStatus.LAPSED
        assert store.actions == [
            "edit",
            "acknowledge",
            "start_review",
            "request_clarification",
            "resubmit",
            "accept",
            "record_delivery",
            "record_delivery",  # stored again, as it was (the activity ignores a version it has)
            "timer:remind",
            "timer:overdue",
            "report_progress",
            "extend",
            "timer:remind",  # day 699, before the lapse at about day 728
            "timer:lapse",
        ]
        await record_history(handle, "pledge_follow_up")


async def test_a_long_follow_up_continues_as_new_with_its_pledge_and_timers(env: WorkflowEnvironment) -> None:
    """A pledge whose history passes its limit continues as new, carrying the pledge: the next run times its
    reports from where the first left off. Recorded: pledge_continues_as_new (the first run, ending in
    continue-as-new) and pledge_after_continuing (the last run, to its withdrawal)."""
    store = FakeStore()
    queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[PledgeWorkflow], activities=[store.store]):
        now = await env.get_current_time()
        pledge = Pledge(
            pledge_id=str(uuid.uuid4()),
            member_state="GHA",
            kind=PledgeKind.GENDER_PARITY,
            title="30 % women among the officers we second",
            summit="UNCOPS-2018",
            submitted_at=now,
            target_date=(now + TARGET_AFTER).date(),
        )
        latest = await env.client.start_workflow(  # its handle follows whichever run is current
            PledgeWorkflow.run,
            PledgeStart(pledge=pledge, policy=POLICY, history_limit=15),
            id=f"pledge-{pledge.pledge_id}",
            task_queue=queue,
        )
        first = env.client.get_workflow_handle(latest.id, run_id=latest.first_execution_run_id)
        steps: list[Any] = [Acknowledge(), StartReview(), Accept(note="welcome")]
        for step in steps:
            accepted = await act(latest, step)
        for _ in range(200):
            if (await first.describe()).status is WorkflowExecutionStatus.CONTINUED_AS_NEW:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(
                f"never continued as new ({len((await first.fetch_history()).events)} events)"
            )

        carried = await latest.query(PledgeWorkflow.view)
        assert carried.status is PledgeStatus.ACCEPTED and carried.version == accepted.version
        # The report reminder the first run had scheduled fires in the next one.
        assert accepted.accepted_at is not None
        await until(env, accepted.accepted_at + timedelta(days=336))
        reminded = await reaches(latest, lambda p: p.version > accepted.version, "the reminder")
        assert store.actions[-1] == "timer:remind"
        await act(latest, Withdraw(reason="priorities changed at home"), STATE)
        result = await latest.result()
        assert result.status is PledgeStatus.WITHDRAWN and result.version == reminded.version + 1
        await record_history(first, "pledge_continues_as_new")
        await record_history(latest, "pledge_after_continuing")
