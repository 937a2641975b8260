"""Replay of RECORDED workflow histories: today's workflow code must replay, without non-determinism, the
histories that earlier code wrote (tests/workflows/histories/*.json). A code change that breaks a running
case or milestone workflow fails here; such a change needs ``workflow.patched``.

Recording: ``UNCOPS_RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/workflows -p no:cacheprovider``
runs the time-skipping scenarios of tests/workflows/test_case_deadlines.py (and the milestone one below) and
writes each finished workflow's history to tests/workflows/histories/. Record again only on purpose: the
files are the contract with workflows already running in production.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from deploy.stack import VENV_BIN
from workflows.cases.workflows import CaseWorkflow
from workflows.summit.workflows import (
    CompleteMilestone,
    MilestonePlan,
    MilestoneTransition,
    MilestoneWorkflow,
)

HISTORIES = Path(__file__).parent / "histories"
RECORD_ENV = "UNCOPS_RECORD_HISTORIES"


def recording() -> bool:
    return os.environ.get(RECORD_ENV) == "1"


async def record_history(handle: WorkflowHandle[Any, Any], name: str) -> Path | None:
    """Writes the workflow's history to histories/<name>.json when UNCOPS_RECORD_HISTORIES=1."""
    if not recording():
        return None
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    path = HISTORIES / f"{name}.json"
    path.write_text(history.to_json() + "\n")
    return path


def history_files() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


# ---------------------------------------------------------------- the milestone history


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(VENV_BIN / "temporal-test-server"),
    )
    yield environment
    await environment.shutdown()


@activity.defn(name="record_milestone_transition")
async def record_milestone_transition(transition: MilestoneTransition) -> None:
    return None


async def test_a_milestone_that_warns_goes_overdue_and_completes_can_be_recorded(
    env: WorkflowEnvironment,
) -> None:
    queue = f"test-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[MilestoneWorkflow], activities=[record_milestone_transition]
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


# ---------------------------------------------------------------- replay (after the recording above)


def test_recorded_histories_exist_for_cases_and_milestones() -> None:
    files = history_files()
    assert files, f"no recorded histories in {HISTORIES}: run the workflow tests with {RECORD_ENV}=1"
    types = {workflow_type(load(path)) for path in files}
    assert types == {"CaseWorkflow", "MilestoneWorkflow"}, types
    case_files = {path.stem for path in files if path.stem.startswith("case_")}
    assert {
        "case_pcc_reply",
        "case_extension",
        "case_pause",
        "case_follow_up",
        "case_policy_change",
    } <= case_files


@pytest.mark.parametrize("path", history_files(), ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = load(path)
    assert history.events, "an empty history replays nothing"
    # A finished workflow: replay runs it to the end.
    last = history.events[-1]
    assert last.HasField("workflow_execution_completed_event_attributes"), path.name
    result = await Replayer(
        workflows=[CaseWorkflow, MilestoneWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)
    assert result.replay_failure is None
