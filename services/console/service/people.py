"""Signing a person in, and reading who is signed in from the session."""

from __future__ import annotations

import time
from typing import Any

import jwt

from services.common.auth import Role, issue_token
from services.common.errors import DomainError, InvalidField
from services.common.settings import Settings
from services.console.domain.person import Person
from uncops_contracts.reference import is_member_state

SIGN_IN_ROLES = (Role.CONDUCT_OFFICER, Role.STATE_FOCAL_POINT, Role.PLANNER, Role.ADMIN)


class LocalSignInRefused(DomainError):
    status_code = 403


def sign_in_locally(settings: Settings, role: str, member_state: str, name: str) -> Person:
    """A person signed in by the console itself, with the token ``uncops token`` would print: only while the
    development signing secret is in use (a token nothing outside this machine accepts)."""
    if not settings.local_sign_in:
        raise LocalSignInRefused(
            "local sign-in is off: this platform signs people in through its identity provider"
        )
    try:
        chosen = Role(role)
    except ValueError:
        raise InvalidField("role", "choose one of the roles") from None
    if chosen not in SIGN_IN_ROLES:
        raise InvalidField("role", "choose one of the roles")
    state = member_state.strip().upper() or None
    if chosen is Role.STATE_FOCAL_POINT and state is None:
        raise InvalidField(
            "member_state", "a Member State's focal point names the State (ISO alpha-3, e.g. XYZ)"
        )
    if state is not None and not is_member_state(state):
        raise InvalidField("member_state", f"{state} is not the ISO alpha-3 code of a UN Member State")
    if chosen is not Role.STATE_FOCAL_POINT:
        state = None
    token = issue_token(settings, chosen, state)
    claims = jwt.decode(token, options={"verify_signature": False})
    return Person(
        role=chosen.value,
        member_state=state,
        name=name.strip()[:100],
        subject=str(claims["sub"]),
        token=token,
        expires_at=int(claims["exp"]),
    )


def signed_in(session: dict[str, Any]) -> Person | None:
    """The person of a session cookie, while their token lasts."""
    stored = session.get("person")
    if not isinstance(stored, dict):
        return None
    try:
        person = Person.model_validate(stored)
    except ValueError:
        return None
    return person if person.signed_in_at(time.time()) else None
