"""Errors that domain code raises and the HTTP layer turns into clear responses."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        # Response headers the answer carries (Retry-After, say): the app's handler passes them on.
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, object]:
        return {"detail": self.detail}


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """The current state does not allow the action: says which state and what is allowed now."""

    status_code = 409

    def __init__(self, detail: str, state: str | None = None, allowed_actions: Sequence[str] = ()) -> None:
        super().__init__(detail)
        self.state = state
        self.allowed_actions = list(allowed_actions)

    def body(self) -> dict[str, object]:
        return {"detail": self.detail, "state": self.state, "allowed_actions": self.allowed_actions}


class VersionConflict(DomainError):
    """The resource is no longer at the version the caller read (``If-Match``): read it again."""

    status_code = 412


class InvalidField(DomainError):
    """A value that passed the schema but breaks a rule: reported like a validation error."""

    status_code = 422

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def body(self) -> dict[str, object]:
        return {"detail": [{"field": self.field, "reason": self.reason}]}


class OutcomeUnknown(DomainError):
    """A step was sent but its outcome is not known in time (its worker is down, the Update timed out): the
    caller retries after ``retry_after`` seconds, with the same Idempotency-Key to learn the real outcome
    rather than act twice."""

    status_code = 503

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}
