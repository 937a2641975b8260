"""How a refused step travels: the domain's refusal (services.common.errors) becomes a workflow Update
failure in the workflow's validator or handler, and the client turns that failure back into the same
refusal, which the app answers with 409, 422 or 412. One path for every workflow-backed aggregate."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.common import timing
from services.common.errors import Conflict, InvalidField, OutcomeUnknown, VersionConflict
from services.common.idempotency import UpdateId
from services.common.settings import get_settings
from services.common.temporal import WorkflowType

Result = TypeVar("Result")


def refusal(exc: Exception) -> ApplicationError:
    """The domain's refusal as an Update failure the client can turn back into 409 or 422."""
    if isinstance(exc, Conflict):
        return ApplicationError(
            exc.detail, {"state": exc.state, "allowed_actions": exc.allowed_actions}, type="TransitionRefused"
        )
    if isinstance(exc, InvalidField):
        return ApplicationError(exc.detail, {"field": exc.field, "reason": exc.reason}, type="InvalidField")
    raise exc


def version_conflict(current: int, expected: int, state: str) -> ApplicationError:
    return ApplicationError(
        f"at version {current}, not {expected}", {"state": state, "version": current}, type="VersionConflict"
    )


def update_refused(exc: WorkflowUpdateFailedError) -> Exception:
    """The domain refusal that a failed Update carries (see ``refusal``), else the failure itself."""
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.details:
        details = cause.details[0]
        if cause.type == "TransitionRefused":
            return Conflict(str(cause.message), details["state"], details["allowed_actions"])
        if cause.type == "InvalidField":
            return InvalidField(details["field"], details["reason"])
        if cause.type == "VersionConflict":
            return VersionConflict(str(cause.message))
    return exc


# The server could not say what became of the Update in time: it may yet be applied.
_UNKNOWN_STATUSES = frozenset(
    {
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.UNKNOWN,
    }
)


async def execute_update(
    handle: WorkflowHandle[Any, Any], update: str, request: Any, result_type: type[Result]
) -> Result:
    """Runs an Update by its registered name; a refusal is raised as the domain error it started as."""
    try:
        return await bounded_update(handle, update, request, result_type)
    except WorkflowUpdateFailedError as exc:
        raise update_refused(exc) from exc


async def bounded_update(
    handle: WorkflowHandle[Any, Any],
    update: str,
    request: Any,
    result_type: type[Result],
    wait_seconds: float | None = None,
) -> Result:
    """Runs an Update, waiting at most ``wait_seconds`` (``step_timeout_seconds``) for its outcome; when
    the outcome is not known by then (no worker, the server busy or unreachable), raises OutcomeUnknown
    (503, Retry-After). Under an Idempotency-Key the Update's id comes from the key, so the retried request
    re-attaches to this Update (the server deduplicates Update ids within a run): applied once."""
    update_id = UpdateId(handle.id, update)
    result: Result = await _bounded(
        handle.execute_update(update, request, id=update_id.value, result_type=result_type),
        update,
        update_id,
        wait_seconds,
    )
    return result


async def execute_update_with_start(
    client: Client,
    workflow: WorkflowType,
    start: Any,
    workflow_id: str,
    update: str,
    request: Any,
    result_type: type[Result],
) -> Result:
    """``execute_update`` on a workflow that may not run yet: one round trip (Update-with-Start) starts it
    with ``start`` and its first Update, or updates the run there is (a conflict uses the existing run),
    where a failed Update, a start and the Update again took three."""
    operation: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        workflow.name,
        start,
        id=workflow_id,
        task_queue=workflow.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    update_id = UpdateId(workflow_id, update)
    call = client.execute_update_with_start_workflow(
        update, request, start_workflow_operation=operation, id=update_id.value, result_type=result_type
    )
    try:
        result: Result = await _bounded(call, update, update_id, None)
    except WorkflowUpdateFailedError as exc:
        raise update_refused(exc) from exc
    return result


async def _bounded(
    call: Coroutine[Any, Any, Any], update: str, update_id: UpdateId, wait_seconds: float | None
) -> Any:
    seconds = get_settings().step_timeout_seconds if wait_seconds is None else wait_seconds
    try:
        with timing.phase(timing.WORKFLOW):
            result = await asyncio.wait_for(call, seconds)
    except WorkflowUpdateFailedError:
        update_id.answered()
        raise
    except (TimeoutError, RPCTimeoutOrCancelledError) as exc:
        raise _unknown(update, seconds) from exc
    except RPCError as exc:
        if exc.status in _UNKNOWN_STATUSES:
            raise _unknown(update, seconds) from exc
        raise
    update_id.answered()
    return result


def _unknown(update: str, seconds: float) -> OutcomeUnknown:
    return OutcomeUnknown(
        f"the outcome of {update!r} is not known after {seconds:g} s (its worker may be unavailable): "
        "retry with the same Idempotency-Key to learn it without acting twice",
        retry_after=max(1, math.ceil(seconds)),
    )
