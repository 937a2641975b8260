"""Domain errors (services/common/errors.py): status codes and the JSON bodies the HTTP layer returns."""

from __future__ import annotations

from services.common.errors import Conflict, DomainError, InvalidField, NotFound


def test_domain_error_body() -> None:
    error = DomainError("something is wrong")

    assert error.status_code == 400
    assert error.body() == {"detail": "something is wrong"}
    assert str(error) == "something is wrong"


def test_not_found() -> None:
    error = NotFound("no pledge p-1")

    assert isinstance(error, DomainError)
    assert error.status_code == 404
    assert error.body() == {"detail": "no pledge p-1"}


def test_conflict_body_names_the_state_and_the_allowed_actions() -> None:
    error = Conflict("cannot close an open case", state="open", allowed_actions=("assess", "refer"))

    assert isinstance(error, DomainError)
    assert error.status_code == 409
    assert error.body() == {
        "detail": "cannot close an open case",
        "state": "open",
        "allowed_actions": ["assess", "refer"],
    }


def test_conflict_defaults() -> None:
    assert Conflict("no").body() == {"detail": "no", "state": None, "allowed_actions": []}


def test_invalid_field_body_is_like_a_validation_error() -> None:
    error = InvalidField("terms.currency", "amount and currency go together")

    assert isinstance(error, DomainError)
    assert error.status_code == 422
    assert error.field == "terms.currency"
    assert error.reason == "amount and currency go together"
    assert error.detail == "terms.currency: amount and currency go together"
    assert error.body() == {
        "detail": [{"field": "terms.currency", "reason": "amount and currency go together"}]
    }
