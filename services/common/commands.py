"""How a refused step travels: the domain's refusal (services.common.errors) becomes a workflow Update
failure in the workflow's validator or handler, and the client turns that failure back into the same
refusal, which the app answers with 409, 422 or 412. One path for every workflow-backed aggregate."""

from __future__ import annotations

from typing import Any, TypeVar

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from services.common.errors import Conflict, InvalidField, VersionConflict

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


async def execute_update(
    handle: WorkflowHandle[Any, Any], update: str, request: Any, result_type: type[Result]
) -> Result:
    """Runs an Update by its registered name; a refusal is raised as the domain error it started as."""
    try:
        result: Result = await handle.execute_update(update, request, result_type=result_type)
    except WorkflowUpdateFailedError as exc:
        raise update_refused(exc) from exc
    return result
