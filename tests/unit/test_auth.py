"""Bearer tokens and roles (services/common/auth.py): claims, verification, and the FastAPI dependencies."""

from __future__ import annotations

import time
from typing import Annotated, Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.common.auth import (
    Principal,
    Role,
    TokenError,
    TokenVerifier,
    issue_token,
    principal_from_claims,
    require_roles,
)
from services.common.settings import Settings

OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256-0123456789"


@pytest.fixture
def settings() -> Settings:
    return Settings(environment="test")


@pytest.fixture
def verifier(settings: Settings) -> TokenVerifier:
    return TokenVerifier(settings)


# ---- claims


@pytest.mark.parametrize("roles", [["planner"], "planner"], ids=["list", "string"])
def test_roles_as_list_or_string(roles: Any) -> None:
    principal = principal_from_claims({"sub": "p-1", "roles": roles})

    assert principal == Principal(subject="p-1", roles=frozenset({Role.PLANNER}))


def test_several_roles() -> None:
    principal = principal_from_claims({"sub": "p-1", "roles": ["planner", "conduct_officer"]})

    assert principal.roles == frozenset({Role.PLANNER, Role.CONDUCT_OFFICER})


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "x", "roles": ["planner", "superuser"]},
        {"sub": "x", "roles": "root"},
        {"sub": "x", "roles": []},
        {"sub": "x"},
    ],
    ids=["unknown-in-list", "unknown-string", "empty", "missing"],
)
def test_unknown_or_missing_role_is_a_token_error(claims: dict[str, Any]) -> None:
    with pytest.raises(TokenError):
        principal_from_claims(claims)


@pytest.mark.parametrize("member_state", [None, "", "fra", "FR", "FRAN", 123, "FRA\n"])
def test_focal_point_needs_a_well_formed_member_state(member_state: Any) -> None:
    claims: dict[str, Any] = {"sub": "fp", "roles": ["state_focal_point"]}
    if member_state is not None:
        claims["member_state"] = member_state

    with pytest.raises(TokenError, match="member_state"):
        principal_from_claims(claims)


def test_focal_point_with_member_state() -> None:
    principal = principal_from_claims({"sub": "fp", "roles": ["state_focal_point"], "member_state": "SEN"})

    assert principal.member_state == "SEN"
    assert principal.roles == frozenset({Role.STATE_FOCAL_POINT})


@pytest.mark.parametrize(
    ("missions", "scope"),
    [
        (None, None),
        ("*", None),
        (["*"], None),
        (["*", "*"], None),
        ("MINUSCA", frozenset({"MINUSCA"})),
        (["MINUSCA"], frozenset({"MINUSCA"})),
        (["MINUSCA", "UNMISS", "MINUSCA"], frozenset({"MINUSCA", "UNMISS"})),
    ],
    ids=["absent", "star", "star-list", "star-twice", "string", "one", "two"],
)
def test_missions_claim(missions: Any, scope: frozenset[str] | None) -> None:
    claims: dict[str, Any] = {"sub": "cdo", "roles": ["conduct_officer"]}
    if missions is not None:
        claims["missions"] = missions

    assert principal_from_claims(claims).missions == scope


@pytest.mark.parametrize(
    ("missions", "reason"),
    [
        (["MINUSKA"], "unknown mission in token: MINUSKA"),
        (["MINUSCA", "minusca"], "unknown mission in token: minusca"),
        (["MINUSCA", ""], "unknown mission in token"),
        ([], "list of mission codes"),
        ("", "unknown mission in token"),
        ([7], "list of mission codes"),
        ({"MINUSCA": True}, "list of mission codes"),
        (["*", "MINUSCA"], "not both"),
    ],
    ids=[
        "unknown",
        "lower-case",
        "empty-code",
        "empty-list",
        "empty-string",
        "number",
        "object",
        "star-and-code",
    ],
)
def test_a_missions_claim_that_names_no_known_mission_refuses_the_token(missions: Any, reason: str) -> None:
    # Refused rather than ignored: ignoring it would give a mission team every mission's cases.
    with pytest.raises(TokenError, match=reason):
        principal_from_claims({"sub": "cdo", "roles": ["conduct_officer"], "missions": missions})


# ---- principal


def test_has_checks_roles_and_admin_passes_everything() -> None:
    planner = Principal("p", frozenset({Role.PLANNER}))
    admin = Principal("a", frozenset({Role.ADMIN}))

    assert planner.has(Role.PLANNER)
    assert planner.has(Role.CONDUCT_OFFICER, Role.PLANNER)
    assert not planner.has(Role.CONDUCT_OFFICER)
    assert not planner.has()
    for role in Role:
        assert admin.has(role)
    assert admin.has()


def test_may_act_for() -> None:
    focal_point = Principal("fp", frozenset({Role.STATE_FOCAL_POINT}), member_state="SEN")
    planner = Principal("p", frozenset({Role.PLANNER}))
    admin = Principal("a", frozenset({Role.ADMIN}))

    assert focal_point.may_act_for("SEN")
    assert not focal_point.may_act_for("FRA")
    assert planner.may_act_for("SEN") and planner.may_act_for("FRA")
    assert admin.may_act_for("FRA")


def test_may_see_mission() -> None:
    everywhere = Principal("hq", frozenset({Role.CONDUCT_OFFICER}))
    minusca = Principal("cdo", frozenset({Role.CONDUCT_OFFICER}), missions=frozenset({"MINUSCA"}))
    admin_for_minusca = Principal("a", frozenset({Role.ADMIN}), missions=frozenset({"MINUSCA"}))

    assert everywhere.may_see_mission("MINUSCA") and everywhere.may_see_mission("UNMISS")
    assert minusca.may_see_mission("MINUSCA") and not minusca.may_see_mission("UNMISS")
    # The claim limits whoever carries it, an admin too; the State scope is unchanged by it.
    assert not admin_for_minusca.may_see_mission("UNMISS")
    assert minusca.may_act_for("FRA")


# ---- verification


def test_a_issued_token_verifies(settings: Settings, verifier: TokenVerifier) -> None:
    token = issue_token(settings, Role.STATE_FOCAL_POINT, member_state="SEN", subject="fp-sen")

    assert verifier.verify(token) == Principal(
        subject="fp-sen", roles=frozenset({Role.STATE_FOCAL_POINT}), member_state="SEN"
    )


def test_a_token_signed_with_another_secret_is_refused(verifier: TokenVerifier) -> None:
    token = issue_token(Settings(environment="test", jwt_secret=OTHER_SECRET), Role.PLANNER)

    with pytest.raises(TokenError, match="invalid token"):
        verifier.verify(token)


def test_an_expired_token_is_refused(settings: Settings, verifier: TokenVerifier) -> None:
    token = issue_token(settings, Role.PLANNER, ttl_seconds=-10)

    with pytest.raises(TokenError, match="expired"):
        verifier.verify(token)


@pytest.mark.parametrize(
    ("missions", "scope"), [(["UNMISS"], frozenset({"UNMISS"})), (["*"], None), (None, None)]
)
def test_a_token_with_missions_verifies(
    settings: Settings, verifier: TokenVerifier, missions: list[str] | None, scope: frozenset[str] | None
) -> None:
    token = issue_token(settings, Role.CONDUCT_OFFICER, subject="cdo", missions=missions)

    assert verifier.verify(token) == Principal("cdo", frozenset({Role.CONDUCT_OFFICER}), missions=scope)


def test_a_signed_token_naming_an_unknown_mission_is_refused(
    settings: Settings, verifier: TokenVerifier
) -> None:
    token = jwt.encode(
        _claims(settings, missions=["ATLANTIS"]), settings.jwt_secret.get_secret_value(), "HS256"
    )

    with pytest.raises(TokenError, match="unknown mission in token: ATLANTIS"):
        verifier.verify(token)


@pytest.mark.parametrize("override", [{"jwt_audience": "someone-else"}, {"jwt_issuer": "evil-issuer"}])
def test_wrong_audience_or_issuer_is_refused(override: dict[str, str], verifier: TokenVerifier) -> None:
    token = issue_token(Settings(environment="test").model_copy(update=override), Role.PLANNER)

    with pytest.raises(TokenError):
        verifier.verify(token)


def _claims(settings: Settings, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "x",
        "roles": ["admin"],
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(extra)
    return claims


def test_an_unsigned_alg_none_token_is_refused(settings: Settings, verifier: TokenVerifier) -> None:
    token = jwt.encode(_claims(settings), "", algorithm="none")

    with pytest.raises(TokenError):
        verifier.verify(token)


@pytest.mark.parametrize("missing", ["exp", "sub"])
def test_exp_and_sub_are_required(settings: Settings, verifier: TokenVerifier, missing: str) -> None:
    claims = _claims(settings)
    del claims[missing]
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")

    with pytest.raises(TokenError):
        verifier.verify(token)


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c"])
def test_garbage_is_a_token_error(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(TokenError):
        verifier.verify(token)


# ---- FastAPI layer


@pytest.fixture
def client(settings: Settings) -> TestClient:
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(settings)

    @app.get("/plans")
    async def plans(principal: Annotated[Principal, require_roles(Role.PLANNER)]) -> dict[str, str]:
        return {"subject": principal.subject}

    return TestClient(app)


def _get(client: TestClient, authorization: str | None) -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    return client.get("/plans", headers=headers)


@pytest.mark.parametrize("kind", ["none", "basic", "malformed", "expired", "bad-signature"])
def test_401_with_a_bearer_challenge(client: TestClient, settings: Settings, kind: str) -> None:
    authorization = {
        "none": None,
        "basic": "Basic dXNlcjpwYXNz",
        "malformed": "Bearer not.a.token",
        "expired": f"Bearer {issue_token(settings, Role.PLANNER, ttl_seconds=-10)}",
        "bad-signature": "Bearer "
        + issue_token(Settings(environment="test", jwt_secret=OTHER_SECRET), Role.PLANNER),
    }[kind]

    response = _get(client, authorization)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    if kind == "expired":
        assert "expired" in response.json()["detail"]


def test_403_for_a_role_without_access(client: TestClient, settings: Settings) -> None:
    response = _get(client, f"Bearer {issue_token(settings, Role.PARTNER)}")

    assert response.status_code == 403
    assert "planner" in response.json()["detail"]


def test_401_naming_an_unknown_mission(client: TestClient, settings: Settings) -> None:
    token = jwt.encode(
        _claims(settings, missions=["MINUSKA"]), settings.jwt_secret.get_secret_value(), "HS256"
    )

    response = _get(client, f"Bearer {token}")

    assert response.status_code == 401
    assert "unknown mission in token: MINUSKA" in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.PLANNER, Role.ADMIN])
def test_200_for_planner_and_admin(client: TestClient, settings: Settings, role: Role) -> None:
    response = _get(client, f"Bearer {issue_token(settings, role, subject=f'{role.value}-1')}")

    assert response.status_code == 200
    assert response.json() == {"subject": f"{role.value}-1"}
