"""Replay of RECORDED workflow histories (tests/workflows/recording.py): today's workflow code must replay,
without non-determinism, the histories that earlier code wrote. A change that would break a running workflow
fails here; such a change needs ``workflow.patched``. Every registered workflow type has at least one history
(tests/unit/test_layout.py)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from services.common.settings import SERVICES
from tests.workflows.recording import HISTORIES, RECORD_ENV, history_files, load

REGISTERED = [
    workflow
    for context in SERVICES
    for workflow in importlib.import_module(f"workflows.{context}.worker").WORKFLOWS
]


def test_histories_are_recorded() -> None:
    assert history_files(), f"no recorded histories in {HISTORIES}: run `make histories` ({RECORD_ENV}=1)"


@pytest.mark.parametrize("path", history_files(), ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = load(path)
    assert history.events, "an empty history replays nothing"
    # A finished workflow (completed or continued as new): replay runs it to its end.
    last = history.events[-1]
    assert last.HasField("workflow_execution_completed_event_attributes") or last.HasField(
        "workflow_execution_continued_as_new_event_attributes"
    ), path.name
    result = await Replayer(workflows=REGISTERED, data_converter=pydantic_data_converter).replay_workflow(
        history
    )
    assert result.replay_failure is None
