"""The case workflow as the cases service talks to it: by its registered name, with the typed inputs and
outputs it takes (workflows/cases/ imports them from here). The only module of services/cases that imports
Temporal."""

from __future__ import annotations

import contextlib
from typing import Any, TypeAlias

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.cases.domain.case import Case
from services.cases.domain.commands import Command
from services.cases.domain.lifecycle import Outcome
from services.common.actor import Actor
from services.common.commands import execute_update
from services.common.temporal import WorkflowType
from uncops_contracts.policies import CasePolicy

CASE = WorkflowType("CaseWorkflow", "cases", updates=("act",), queries=("view",))
# The process's Temporal client, as the service layer names it without importing Temporal.
Temporal: TypeAlias = Client


def workflow_id(case_id: str) -> str:
    return f"case-{case_id}"


# A case's workflow continues as new past this many events of history, carrying the case (a test sets a
# small number; absent from the inputs of cases started before it existed).
CASE_HISTORY_LIMIT = 2_000


class CaseStart(BaseModel):
    case: Case
    policy: CasePolicy
    history_limit: int = CASE_HISTORY_LIMIT


class CaseCommandRequest(BaseModel):
    command: Command
    actor: Actor
    policy: CasePolicy
    expected_version: int | None = None
    traceparent: str | None = None
    # Encrypted by the API; stored by the activity, never kept in the workflow's state.
    victim_identity_ciphertext: str | None = None


class CaseView(BaseModel):
    case: Case
    allowed_actions: list[str]


class StoreChange(BaseModel):
    """The store activity's input: one change of a case, stored with its audit entry and events."""

    outcome: Outcome
    actor: Actor
    policy: CasePolicy
    traceparent: str | None = None
    victim_identity_ciphertext: str | None = None


async def start_case(client: Client, start: CaseStart) -> WorkflowHandle[Any, Any]:
    """The case's workflow, started at intake. A run that ended may be followed by another with the same
    id (see ``restart_case``)."""
    return await CASE.start(
        client,
        start,
        workflow_id(start.case.case_id),
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )


async def restart_case(client: Client, start: CaseStart) -> None:
    """A new run for a step on a case whose workflow has ended (a reopening, say)."""
    with contextlib.suppress(WorkflowAlreadyStartedError):  # a concurrent step started it already
        await start_case(client, start)


class NoRun(Exception):
    """The case has no workflow run to take the step: none was ever started for it, or its run has ended
    since the case was read."""


async def act_on_case(client: Client, case_id: str, request: CaseCommandRequest) -> CaseView:
    """One step through the workflow's ``act`` Update; a refusal is raised as the domain error it was."""
    handle = client.get_workflow_handle(workflow_id(case_id))
    try:
        return await execute_update(handle, "act", request, CaseView)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NoRun(case_id) from exc
        raise
