"""How a refused step travels: the domain's refusal (services.common.errors) becomes a workflow Update
failure in the workflow's validator or handler, and the client turns that failure back into the same
refusal, which the app answers with 409, 422 or 412. One path for every workflow-backed aggregate."""

from __future__ import annotations

import asyncio
import math
from typing import Any, TypeVar

from temporalio.client import RPCTimeoutOrCancelledError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.common import timing
from services.common.errors import Conflict, InvalidField, OutcomeUnknown, VersionConflict
from services.common.idempotency import UpdateId
from services.common.settings import get_settings

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
    seconds = get_settings().step_timeout_seconds if wait_seconds is None else wait_seconds
    update_id = UpdateId(handle.id, update)
    try:
        with timing.phase(timing.WORKFLOW):
            result: Result = await asyncio.wait_for(
                handle.execute_update(update, request, id=update_id.value, result_type=result_type), seconds
            )
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
