"""Who an identity provider's ID token says the person is: the first role the console serves that the
claims give them, and for a State focal point the Member State it acts for. Pure: the protocol that brings
the claims is in api/sign_in.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.console.domain.notifications import valid_email
from services.console.domain.person import Person
from uncops_contracts.reference import is_member_state

STATE_FOCAL_POINT = "state_focal_point"


class SignInRefused(Exception):
    """The identity provider signed the person in, but not as someone the console serves (``reason``:
    ``no_role``, ``no_state``), or the round trip was not one this browser started (``state``) or failed
    (``failed``)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def claim(claims: dict[str, Any], name: str) -> Any:
    """A claim by name; a dotted name reaches into objects (Keycloak's ``realm_access.roles``)."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def person_of_claims(
    claims: dict[str, Any],
    served: Sequence[str],
    roles_claim: str,
    member_state_claim: str,
    token: str,
    expires_at: int,
) -> Person:
    """The person the claims describe, in the first of the ``served`` roles (in that order) they hold; a
    focal point with the ISO alpha-3 code of a UN Member State. Refused otherwise: never a guess."""
    raw = claim(claims, roles_claim)
    names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    held = {name for name in names if isinstance(name, str)}
    role = next((r for r in served if r in held), None)
    if role is None:
        raise SignInRefused("no_role", ", ".join(sorted(held))[:200])
    state: str | None = None
    if role == STATE_FOCAL_POINT:
        value = claim(claims, member_state_claim)
        state = value.strip().upper() if isinstance(value, str) else None
        if not state or len(state) != 3 or not is_member_state(state):
            raise SignInRefused("no_state", str(value)[:20] if value is not None else "")
    name = claims.get("name") or claims.get("preferred_username") or ""
    email = claims.get("email")
    return Person(
        role=role,
        member_state=state,
        name=str(name)[:100],
        subject=str(claims["sub"]),
        token=token,
        expires_at=expires_at,
        email=email if isinstance(email, str) and valid_email(email) else None,
    )
