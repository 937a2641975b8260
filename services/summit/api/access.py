"""Who may call the summit's routes, and as whom they act."""

from __future__ import annotations

from fastapi import Response

from services.common.actor import Actor
from services.common.auth import Principal, Role, actor_of, require_roles

PLANNERS = require_roles(Role.PLANNER)
READERS = require_roles(Role.PLANNER, Role.STATE_FOCAL_POINT)


def actor(principal: Principal) -> Actor:
    """The principal as the secretariat (admin, then planner) when it is, else in its first role."""
    return actor_of(principal, (Role.ADMIN, Role.PLANNER))


def focal_point_only(principal: Principal) -> str | None:
    """The State a focal point is limited to; None for the secretariat."""
    if Role.ADMIN in principal.roles or Role.PLANNER in principal.roles:
        return None
    return principal.member_state or "---"


def etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'
