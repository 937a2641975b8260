"""Bearer-token authentication and role checks.

Development signs tokens with HS256 and a local secret (``uncops token``); production verifies RS256 tokens
against the identity provider's JWKS. A ``state_focal_point`` carries a ``member_state`` claim (ISO 3166
alpha-3) and acts for that State only. Any token may carry a ``missions`` claim, the peace operations its
holder serves (a conduct and discipline team works for one mission, headquarters for all): absent or ``"*"``
means every mission.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common import timing
from services.common.actor import Actor
from services.common.settings import Settings
from uncops_contracts.reference import is_mission


class Role(StrEnum):
    CONDUCT_OFFICER = "conduct_officer"
    STATE_FOCAL_POINT = "state_focal_point"
    PLANNER = "planner"
    PARTNER = "partner"
    ADMIN = "admin"


_MEMBER_STATE = re.compile(r"[A-Z]{3}")
ALL_MISSIONS = "*"


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    member_state: str | None = None
    # The missions whose cases the holder sees and acts on; None: every mission (no claim, or "*").
    missions: frozenset[str] | None = None

    def has(self, *roles: Role) -> bool:
        return Role.ADMIN in self.roles or bool(self.roles.intersection(roles))

    def may_act_for(self, member_state: str) -> bool:
        """A focal point acts for its own State only; other roles are not scoped by State."""
        if Role.ADMIN in self.roles or Role.STATE_FOCAL_POINT not in self.roles:
            return True
        return self.member_state == member_state

    def may_see_mission(self, mission: str) -> bool:
        """Whether a case of ``mission`` exists for this caller: a token with a ``missions`` claim limits its
        holder to those missions, whatever the role (an admin token issued for one mission included)."""
        return self.missions is None or mission in self.missions


def actor_of(principal: Principal, acting_as: Sequence[Role]) -> Actor:
    """Who takes a step: the principal acting in the first of the context's leading roles it holds (a conduct
    officer on cases, the secretariat on pledges and summits), else in its first role by name."""
    role = next((r for r in acting_as if r in principal.roles), None) or min(principal.roles)
    return Actor(subject=principal.subject, role=role.value, member_state=principal.member_state)


class TokenError(Exception):
    pass


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None
        self._cache: dict[str, tuple[Principal, float, float]] = {}

    @property
    def fetches_keys(self) -> bool:
        return self._jwks is not None

    def verify(self, token: str) -> Principal:
        # A client sends the same token with every request: verifying it once per minute is enough
        # (expiry is still checked on every use).
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None and cached[1] > now and now - cached[2] < 60:
            return cached[0]
        principal, expires = self._verify(token)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (principal, expires, now)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256"]
            else:
                key = self.settings.jwt_secret.get_secret_value()
                algorithms = ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token expired") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise TokenError(f"invalid token: {exc}") from exc
        return principal_from_claims(claims), float(claims["exp"])


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    raw_roles = claims.get("roles", [])
    if isinstance(raw_roles, str):
        raw_roles = [raw_roles]
    try:
        roles = frozenset(Role(r) for r in raw_roles)
    except ValueError as exc:
        raise TokenError(f"unknown role in token: {exc}") from exc
    if not roles:
        raise TokenError("token carries no role")
    member_state = claims.get("member_state")
    if Role.STATE_FOCAL_POINT in roles and not (
        isinstance(member_state, str) and _MEMBER_STATE.fullmatch(member_state)
    ):
        raise TokenError("a state_focal_point token needs a member_state claim (ISO 3166 alpha-3)")
    return Principal(
        subject=str(claims["sub"]), roles=roles, member_state=member_state, missions=missions_claim(claims)
    )


def missions_claim(claims: dict[str, Any]) -> frozenset[str] | None:
    """The ``missions`` claim: None (every mission) when absent, ``"*"`` or ``["*"]``; else the mission codes.
    Anything else refuses the token rather than guess: an unknown code (a typo at the identity provider), an
    empty list, or ``"*"`` mixed with codes could otherwise widen or silently empty the holder's scope."""
    raw = claims.get("missions")
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(m, str) for m in raw):
        raise TokenError('the missions claim is a list of mission codes, or "*" for every mission')
    if ALL_MISSIONS in raw:
        if len(set(raw)) > 1:
            raise TokenError('the missions claim is either "*" (every mission) or mission codes, not both')
        return None
    unknown = sorted({m for m in raw if not is_mission(m)})
    if unknown:
        raise TokenError(f"unknown mission in token: {', '.join(unknown)[:200]}")
    return frozenset(raw)


def issue_token(
    settings: Settings,
    role: Role,
    member_state: str | None = None,
    subject: str | None = None,
    ttl_seconds: int = 8 * 3600,
    missions: Iterable[str] | None = None,
) -> str:
    """A development token the local stack accepts (HS256 with the configured secret); ``missions`` (codes, or
    ``["*"]``) sets the claim, None leaves it out (every mission)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject or f"{role.value}-{uuid.uuid4().hex[:8]}",
        "roles": [role.value],
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if member_state:
        claims["member_state"] = member_state
    if missions is not None:
        claims["missions"] = list(missions)
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


_bearer = HTTPBearer(auto_error=False)


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers=challenge)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        with timing.phase(timing.AUTH):
            if verifier.fetches_keys:
                # The JWKS client fetches keys with blocking I/O (then caches them): keep it off the loop.
                return await asyncio.to_thread(verifier.verify, credentials.credentials)
            return verifier.verify(credentials.credentials)
    except TokenError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), headers=challenge) from exc


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


class _RolesBearer(HTTPBearer):
    """The bearer scheme of the OpenAPI document that also authenticates the caller and checks its roles:
    FastAPI solves it as one dependency, where a role check depending on the scheme takes two (each level
    costs the busiest routes time)."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        super().__init__(auto_error=False, scheme_name=_bearer.scheme_name)
        self.roles = roles

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await authenticate(request, await super().__call__(request))
        if not principal.has(*self.roles):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"requires one of the roles: {', '.join(r.value for r in self.roles)}",
            )
        return principal


def require_roles(*roles: Role) -> Any:
    """Dependency: the caller must hold one of ``roles`` (admin always passes)."""
    return Depends(_RolesBearer(roles))
