"""What every workflow-backed aggregate (a case, a pledge) shares: who acts, and how a refused step travels
from the domain rules, through a workflow Update's validator, to the caller."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from temporalio.exceptions import ApplicationError

from services.common.errors import Conflict, InvalidField


class Actor(BaseModel):
    """Who takes a step: the token's subject and the role it acts in (``system`` for timers and bridges)."""

    model_config = ConfigDict(extra="forbid")

    subject: str
    role: str
    member_state: str | None = None


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
