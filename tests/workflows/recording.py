"""Recorded workflow histories (tests/workflows/histories/*.json): the contract with workflows already
running in production. ``make histories`` runs the workflow tests with UNCOPS_RECORD_HISTORIES=1, and each
scenario that calls ``record_history`` writes its finished workflow's history; test_replay.py replays every
file against today's code. Record again only on purpose (a changed workflow needs ``workflow.patched``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowHistory

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
